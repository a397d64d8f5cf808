"""Cross-attention inserted into GPT-2, XGLM and Llama-style decoders: published parameter
counts, reduced shapes, the same numbers as ``transformers``' own cross-attention, gating,
placement, masks, the generation cache, and a clean removal."""

from __future__ import annotations

import pytest
import torch
from captioning_checkpoints import ARCHITECTURES, tiny_model
from transformers import GPT2LMHeadModel, XGLMForCausalLM

from vislang.errors import ConfigError
from vislang.models.causal_lm import build_on_meta, decoder_layers
from vislang.models.cross_attention import (
    LAYER_NAME,
    CrossAttentionConfig,
    insert_cross_attention,
)

FEATURES, WIDTH = 5, 24  # features per example and their width in the tiny tests


def _inputs(seed: int = 1, batch: int = 3, length: int = 7) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 90, (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    mask[0, :2] = 0  # one left-padded row
    return {"input_ids": ids, "attention_mask": mask}


def _features(seed: int = 2, batch: int = 3, width: int = WIDTH) -> torch.Tensor:
    return torch.randn(batch, FEATURES, width, generator=torch.Generator().manual_seed(seed))


# --- published sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("architecture", "config", "expected", "published"),
    [
        ("gpt2", CrossAttentionConfig(encoder_dim=768, reduction=4), 7_112_448, 7.1e6),
        ("facebook/xglm-2.9B", CrossAttentionConfig(encoder_dim=768, dim=128), 34_916_352, 35e6),
    ],
)
def test_published_architectures_train_the_published_number_of_parameters(
    architecture: str, config: CrossAttentionConfig, expected: int, published: float
) -> None:
    model = build_on_meta(architecture)
    before = sum(p.numel() for p in model.parameters())
    layers = insert_cross_attention(model, config)
    # per block: pre-norm 2h, query h·d + d, key and value 768·d + d each, output d·h + h
    hidden, blocks = model.config.hidden_size, len(decoder_layers(model))
    inner = config.inner_dim(hidden)
    per_block = 2 * hidden + (hidden * inner + inner) + 2 * (768 * inner + inner) + inner * hidden
    assert layers.count() == expected == blocks * (per_block + hidden)
    assert abs(layers.count() - published) / published < 0.02
    assert sum(p.numel() for p in model.parameters()) == before + expected
    assert all(p.is_meta for p in layers.parameters())


def test_heads_are_kept_and_the_head_dimension_is_reduced() -> None:
    gpt2 = insert_cross_attention(build_on_meta("gpt2"), CrossAttentionConfig(768, reduction=4))
    layer = gpt2.layers[0]
    assert (layer.heads, layer.head_dim) == (12, 16)
    assert layer.query.weight.shape == (192, 768) and layer.key.weight.shape == (192, 768)
    assert layer.out.weight.shape == (768, 192)
    xglm = build_on_meta("facebook/xglm-2.9B")
    layer = insert_cross_attention(xglm, CrossAttentionConfig(768, dim=128)).layers[47]
    assert (layer.heads, layer.head_dim) == (16, 8)
    assert layer.query.weight.shape == (128, 2048) and layer.value.weight.shape == (128, 768)


def test_every_k_blocks_gated_with_a_feed_forward_part() -> None:
    model = build_on_meta("gpt2")
    config = CrossAttentionConfig(768, dim=384, gated=True, every=4, feed_forward=2)
    layers = insert_cross_attention(model, config)
    assert sorted(layers.layers) == [0, 4, 8]
    layer = layers.layers[4]
    assert layer.gate is not None and layer.ffn_gate is not None
    assert layer.ffn[1].weight.shape == (1536, 768)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (dict(encoder_dim=8, reduction=2, dim=16), "not both"),
        (dict(encoder_dim=8, reduction=0), "reduction"),
        (dict(encoder_dim=8, position="inside"), "position"),
    ],
)
def test_bad_configs_are_refused(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CrossAttentionConfig(**config)


def test_inner_dimensions_must_fit_the_heads_and_the_width() -> None:
    with pytest.raises(ConfigError, match="does not divide"):
        insert_cross_attention(build_on_meta("gpt2"), CrossAttentionConfig(768, reduction=5))
    with pytest.raises(ConfigError, match="not divisible by 12 heads"):
        insert_cross_attention(build_on_meta("gpt2"), CrossAttentionConfig(768, dim=100))


# --- the numbers of transformers' own cross-attention -------------------------------------------


def test_gpt2_equals_transformers_own_cross_attention() -> None:
    """Full-width cross-attention after self-attention is exactly GPT-2's add_cross_attention."""
    reference = tiny_model("gpt2", add_cross_attention=True)
    plain = tiny_model("gpt2")
    plain.load_state_dict(reference.state_dict(), strict=False)
    layers = insert_cross_attention(plain, CrossAttentionConfig(encoder_dim=32))
    with torch.no_grad():
        for index, layer in layers.layers.items():
            theirs = reference.transformer.h[index]
            attention = theirs.crossattention
            q, kv, proj = attention.q_attn, attention.c_attn, attention.c_proj
            layer.query.weight.copy_(q.weight.T)
            layer.query.bias.copy_(q.bias)
            layer.key.weight.copy_(kv.weight[:, :32].T)
            layer.key.bias.copy_(kv.bias[:32])
            layer.value.weight.copy_(kv.weight[:, 32:].T)
            layer.value.bias.copy_(kv.bias[32:])
            layer.out.weight.copy_(proj.weight.T)
            layer.out.bias.copy_(proj.bias)
            layer.norm.load_state_dict(theirs.ln_cross_attn.state_dict())
    features = _features(width=32)
    expected = reference(**_inputs(), encoder_hidden_states=features).logits
    with layers.attending(features):
        ours = plain(**_inputs()).logits
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_xglm_equals_transformers_own_cross_attention() -> None:
    reference = tiny_model("xglm", add_cross_attention=True)
    plain = tiny_model("xglm")
    plain.load_state_dict(reference.state_dict(), strict=False)
    layers = insert_cross_attention(plain, CrossAttentionConfig(encoder_dim=32))
    with torch.no_grad():
        for index, layer in layers.layers.items():
            theirs = reference.model.layers[index]
            for ours_name, their_name in (
                ("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"), ("out", "out_proj")
            ):  # fmt: skip
                getattr(layer, ours_name).load_state_dict(
                    getattr(theirs.encoder_attn, their_name).state_dict()
                )
            layer.norm.load_state_dict(theirs.encoder_attn_layer_norm.state_dict())
    features = _features(width=32)
    expected = reference(**_inputs(), encoder_hidden_states=features).logits
    with layers.attending(features):
        ours = plain(**_inputs()).logits
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_before_block_updates_each_chosen_blocks_input() -> None:
    """Flamingo placement, every second block: a chosen block reads h + update(h) instead of h;
    the others read their input unchanged."""
    model = tiny_model("gpt2", n_layer=4)
    layers = insert_cross_attention(
        model, CrossAttentionConfig(encoder_dim=WIDTH, position="before_block", every=2)
    )
    seen: dict[str, dict[int, torch.Tensor]] = {"before": {}, "after": {}}

    def spy(when: str, index: int):
        def hook(module, args):
            seen[when][index] = args[0].detach().clone()

        return hook

    for index, block in enumerate(model.transformer.h):
        block.register_forward_pre_hook(spy("before", index), prepend=True)
        block.register_forward_pre_hook(spy("after", index))
    with layers.attending(_features()), torch.no_grad():
        model(**_inputs())
        for index in range(4):
            original, read = seen["before"][index], seen["after"][index]
            if index in (0, 2):
                expected = original + layers.layers[index].update(original)
                torch.testing.assert_close(read, expected)
                assert not torch.allclose(read, original, atol=1e-3)
            else:
                assert torch.equal(read, original)


# --- gating, masks, errors, removal --------------------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("position", ["after_self_attention", "before_block"])
def test_gated_layers_start_as_the_unchanged_lm_and_removal_restores_it(
    architecture: str, position: str
) -> None:
    model = tiny_model(architecture)
    inputs, features = _inputs(), _features()
    original = model(**inputs).logits
    gated = CrossAttentionConfig(WIDTH, reduction=2, gated=True, position=position, feed_forward=2)
    layers = insert_cross_attention(model, gated)
    with layers.attending(features):
        assert torch.equal(model(**inputs).logits, original)
        with torch.no_grad():
            for layer in layers.layers.values():
                layer.gate.fill_(0.5)
        changed = model(**inputs).logits
    assert not torch.allclose(changed, original, atol=1e-3)
    layers.remove()
    assert not any(hasattr(block, LAYER_NAME) for block in decoder_layers(model))
    assert torch.equal(model(**inputs).logits, original)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_only_the_new_layers_get_gradients_and_features_steer_the_output(
    architecture: str,
) -> None:
    model = tiny_model(architecture).requires_grad_(False)
    layers = insert_cross_attention(model, CrossAttentionConfig(WIDTH, reduction=4))
    inputs = _inputs()
    with layers.attending(_features(seed=2)):
        first = model(**inputs).logits
    with layers.attending(_features(seed=3)):
        second = model(**inputs).logits
    assert not torch.allclose(first, second, atol=1e-3)
    first.sum().backward()
    trained = {name for name, p in model.named_parameters() if p.grad is not None}
    assert trained == {name for name, _ in layers.named_parameters()}
    assert all(f".{LAYER_NAME}." in name for name in trained)
    assert all(p.grad.abs().sum() > 0 for p in layers.parameters())


def test_masked_features_are_not_attended_to() -> None:
    model = tiny_model("llama")
    layers = insert_cross_attention(model, CrossAttentionConfig(WIDTH, dim=16))
    features, inputs = _features(), _inputs()
    mask = torch.ones(features.shape[:2], dtype=torch.bool)
    mask[:, 3:] = False
    changed = features.clone()
    changed[:, 3:] = 100.0
    with layers.attending(features, mask):
        expected = model(**inputs).logits
    with layers.attending(changed, mask):
        torch.testing.assert_close(model(**inputs).logits, expected)
    with layers.attending(features[:, :3]):
        torch.testing.assert_close(model(**inputs).logits, expected, atol=1e-5, rtol=1e-5)


def test_layers_refuse_to_run_without_features_or_with_the_wrong_rows() -> None:
    model = tiny_model("gpt2")
    layers = insert_cross_attention(model, CrossAttentionConfig(WIDTH))
    with pytest.raises(RuntimeError, match="without features"):
        model(**_inputs())
    with layers.attending(_features(batch=2)), pytest.raises(ValueError, match="2 feature rows"):
        model(**_inputs())
    with pytest.raises(ValueError, match="features must be"), layers.attending(_features(width=9)):
        pass
    with pytest.raises(ConfigError, match="already has"):
        insert_cross_attention(model, CrossAttentionConfig(WIDTH))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_generation_with_cached_keys_equals_generation_without_any_cache(
    architecture: str,
) -> None:
    model = tiny_model(architecture)
    layers = insert_cross_attention(model, CrossAttentionConfig(WIDTH, reduction=2))
    inputs, beams = _inputs(length=4), 3
    features = _features().repeat_interleave(beams, dim=0)
    settings = dict(num_beams=beams, max_new_tokens=6, do_sample=False, pad_token_id=0)
    with layers.attending(features):
        cached = model.generate(**inputs, use_cache=True, **settings)
        uncached = model.generate(**inputs, use_cache=False, **settings)
    assert torch.equal(cached, uncached)
    assert cached.shape[1] > inputs["input_ids"].shape[1]


def test_the_classes_of_transformers_are_left_alone() -> None:
    model = tiny_model("gpt2")
    insert_cross_attention(model, CrossAttentionConfig(WIDTH))
    other = tiny_model("gpt2")
    assert not hasattr(other.transformer.h[0], LAYER_NAME)
    assert other(**_inputs()).logits.shape == (3, 7, 96)
    assert isinstance(model, GPT2LMHeadModel) and not isinstance(model, XGLMForCausalLM)
