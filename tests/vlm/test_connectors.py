"""Connectors: the shape each one promises, what each one computes, and clear refusals."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models.connectors import (
    CONNECTORS,
    ConnectorConfig,
    build_connector,
    connector_options,
)
from vislang.models.connectors.resampler import sincos_2d

VISION_DIM, TEXT_DIM = 24, 32

# (kind, options, input tokens N, output tokens M)
SHAPES = [
    ("linear", {}, 64, 64),
    ("linear", {}, 65, 65),  # a class token is fine for per-token connectors
    ("mlp", {}, 16, 16),
    ("resampler", {}, 64, 64),
    ("resampler", {"queries": 9}, 64, 9),
    ("resampler", {"queries": 16}, 4, 16),
    ("c_abstractor", {}, 64, 16),
    ("c_abstractor", {"grid": 2, "depth": 1}, 16, 4),
    ("c_abstractor", {"grid": 3, "depth": 0, "hidden": 8}, 36, 9),
    ("pixel_shuffle", {}, 64, 16),
    ("pixel_shuffle", {"factor": 4}, 64, 4),
    ("pixel_shuffle", {"factor": 1}, 16, 16),
]


def _connector(kind: str, **options):
    torch.manual_seed(0)
    return build_connector(ConnectorConfig(kind, VISION_DIM, TEXT_DIM, options))


@pytest.mark.parametrize(("kind", "options", "tokens", "expected"), SHAPES)
def test_each_connector_maps_n_visual_tokens_to_its_documented_m(
    kind, options, tokens, expected
) -> None:
    connector = _connector(kind, **options)
    features = torch.randn(3, tokens, VISION_DIM, requires_grad=True)
    out = connector(features)
    assert out.shape == (3, expected, TEXT_DIM)
    assert connector.output_tokens(tokens) == expected
    # one step first: the inner layers of a residual block that starts as the identity get
    # their gradient once the block's last norm has left zero
    optimiser = torch.optim.SGD(connector.parameters(), lr=0.1)
    out.square().mean().backward()
    optimiser.step()
    optimiser.zero_grad()
    connector(features).square().mean().backward()
    for name, parameter in connector.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert features.grad.abs().sum() > 0


def test_every_connector_of_the_lectures_is_registered() -> None:
    assert set(CONNECTORS) == {"linear", "mlp", "resampler", "c_abstractor", "pixel_shuffle"}


def test_images_are_mapped_independently() -> None:
    for kind in CONNECTORS:
        connector = _connector(kind).eval()
        features = torch.randn(4, 16, VISION_DIM)
        batched = connector(features)
        single = connector(features[2:3])
        torch.testing.assert_close(batched[2:3], single, atol=1e-6, rtol=1e-5)


def test_mlp_is_linear_gelu_linear() -> None:
    connector = _connector("mlp")
    x = torch.randn(2, 5, VISION_DIM)
    hidden = torch.nn.functional.gelu(connector.linear_1(x))
    torch.testing.assert_close(connector(x), connector.linear_2(hidden))


def test_pixel_shuffle_concatenates_each_block_in_row_major_order() -> None:
    connector = _connector("pixel_shuffle", factor=2)
    side = 4
    # token (row, col) holds the value 10 * row + col in every feature
    values = torch.tensor([[10.0 * r + c for c in range(side)] for r in range(side)])
    features = values.reshape(1, side * side, 1).expand(1, side * side, VISION_DIM)
    captured = {}
    connector.proj.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
    connector(features.contiguous())
    blocks = captured["x"][0, :, ::VISION_DIM]  # the first feature of each of the r² tokens
    expected = torch.tensor(
        [[0, 1, 10, 11], [2, 3, 12, 13], [20, 21, 30, 31], [22, 23, 32, 33]], dtype=torch.float
    )
    assert torch.equal(blocks, expected)


def test_resampler_output_size_does_not_depend_on_the_input_grid() -> None:
    connector = _connector("resampler", queries=16)
    for tokens in (4, 16, 64, 144):
        assert connector(torch.randn(1, tokens, VISION_DIM)).shape == (1, 16, TEXT_DIM)


def test_resampler_positions_of_a_grid_of_the_query_size_are_the_queries_positions() -> None:
    connector = _connector("resampler", queries=16)
    assert torch.equal(sincos_2d(TEXT_DIM, 4, 4), connector.query_pos)
    # a finer key grid spans the same frame: its corner cells lie just inside the query corners
    fine = sincos_2d(TEXT_DIM, 8, 4)
    coarse = sincos_2d(TEXT_DIM, 4, 4)
    nearest = torch.cdist(fine[:1], coarse).argmin()
    assert int(nearest) == 0


def test_resampler_keys_carry_position_and_values_do_not() -> None:
    """Permuting the visual tokens changes the output (positions are added to the keys)."""
    connector = _connector("resampler", queries=4).eval()
    features = torch.randn(1, 16, VISION_DIM)
    shuffled = features[:, torch.randperm(16, generator=torch.Generator().manual_seed(1))]
    assert not torch.allclose(connector(features), connector(shuffled))


def test_resampler_local_start_attends_to_each_querys_own_cell() -> None:
    """With ``local_start`` most of a query's first attention falls on its own cell of the
    image; with random projections it is spread evenly (width 128: heads of 32 features)."""
    torch.manual_seed(0)
    features = torch.randn(8, 16, 128)
    for queries, cell_keys in ((16, 1), (4, 4)):
        options = {"queries": queries}
        local_start = ConnectorConfig("resampler", 128, 128, {**options, "local_start": True})
        local = _own_cell_attention(build_connector(local_start), features)
        plain_config = ConnectorConfig("resampler", 128, 128, options)
        plain = _own_cell_attention(build_connector(plain_config), features)
        uniform = cell_keys / 16
        assert local > max(0.5, 2 * uniform) and plain < 1.5 * uniform, (queries, local, plain)


def test_resampler_local_start_passes_each_cells_values_through_unchanged() -> None:
    """With ``local_start`` the attention's value and output projections start as the identity:
    its output is each head's attention-weighted sum of the normalised visual tokens themselves,
    so each query starts as (mostly) its own cell's token."""
    torch.manual_seed(0)
    connector = build_connector(
        ConnectorConfig("resampler", 128, 128, {"queries": 16, "local_start": True})
    )
    features = torch.randn(2, 16, 128)
    (_, _, values), output, weights = _attention_call(connector, features, per_head=True)
    heads, width = connector.attn.num_heads, 128 // connector.attn.num_heads
    per_head = values.reshape(2, 16, heads, width).transpose(1, 2)  # (B, heads, keys, width)
    expected = (weights @ per_head).transpose(1, 2).reshape(2, 16, 128)
    torch.testing.assert_close(output, expected, atol=1e-5, rtol=1e-5)
    own_token = torch.nn.functional.cosine_similarity(output, values, dim=-1)
    assert float(own_token.mean()) > 0.8, own_token


def _own_cell_attention(connector, features: torch.Tensor) -> float:
    """The mean share of each query's attention on the keys of its own cell (4×4 keys), read
    from the connector's own forward pass."""
    side, query_side = 4, connector.query_side
    _, _, weights = _attention_call(connector, features, per_head=False)
    rows, cols = torch.arange(side).repeat_interleave(side), torch.arange(side).repeat(side)
    owner = (rows * query_side // side) * query_side + cols * query_side // side
    own = owner[None, :] == torch.arange(query_side**2)[:, None]
    return float((weights * own).sum(-1).mean())


def _attention_call(connector, features: torch.Tensor, *, per_head: bool):
    """The connector's attention layer as its forward pass calls it: the inputs (queries, keys,
    values), the output, and the attention weights (the layer asked again with the same inputs;
    per head, or averaged over the heads)."""
    seen = {}
    hook = connector.attn.register_forward_hook(
        lambda m, args, out: seen.update(args=args, out=out[0])
    )
    with torch.no_grad():
        connector(features)
        hook.remove()
        _, weights = connector.attn(
            *seen["args"], need_weights=True, average_attn_weights=not per_head
        )
    return seen["args"], seen["out"], weights


def test_resampler_local_start_needs_a_head_width_divisible_by_4() -> None:
    with pytest.raises(ConfigError, match="head width"):
        build_connector(ConnectorConfig("resampler", 8, 24, {"heads": 4, "local_start": True}))


@pytest.mark.parametrize(
    ("kind", "options"),
    [("resampler", {"queries": 16}), ("c_abstractor", {"grid": 8, "depth": 2})],
)
def test_deep_connectors_keep_the_scale_pytorchs_default_initialisation_shrinks(
    kind, options
) -> None:
    """From unit-variance features, the tokens' variance per feature is at least twice what the
    same connector gives with PyTorch's default initialisation of its layers (which shrinks
    each layer's output by about √3), and not above 3 (measured: resampler 1.0 against 0.34,
    C-Abstractor 0.22 against 0.06)."""
    torch.manual_seed(0)
    connector = build_connector(ConnectorConfig(kind, 128, 128, options))
    default = copy.deepcopy(connector)
    for module in default.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.LayerNorm)):
            module.reset_parameters()
    features = torch.randn(16, 64, 128)
    with torch.no_grad():
        ours, shrunk = (float(c(features).square().mean()) for c in (connector, default))
    assert 2 * shrunk < ours < 3.0, (ours, shrunk)


def test_c_abstractor_residual_blocks_start_as_the_identity() -> None:
    connector = _connector("c_abstractor", grid=2, depth=2)
    maps = torch.randn(2, TEXT_DIM, 4, 4)
    for block in [*connector.before, *connector.after]:
        assert torch.equal(block(maps), block.act(maps))


def test_c_abstractor_pools_to_its_grid() -> None:
    connector = _connector("c_abstractor", grid=2, depth=0)
    captured = {}
    connector.pool.register_forward_hook(lambda m, args, out: captured.update(out=out))
    connector(torch.randn(2, 64, VISION_DIM))
    assert captured["out"].shape[-2:] == (2, 2)


@pytest.mark.parametrize("kind", ["resampler", "c_abstractor", "pixel_shuffle"])
def test_spatial_connectors_refuse_tokens_that_are_not_a_square_grid(kind) -> None:
    connector = _connector(kind)
    with pytest.raises(ValueError, match=r"square grid.*class token"):
        connector(torch.randn(1, 65, VISION_DIM))


def test_pixel_shuffle_refuses_a_grid_its_factor_does_not_divide() -> None:
    with pytest.raises(ValueError, match="not divisible by factor 2"):
        _connector("pixel_shuffle")(torch.randn(1, 9, VISION_DIM))


def test_c_abstractor_refuses_an_input_grid_smaller_than_its_output() -> None:
    with pytest.raises(ValueError, match="smaller than the output grid"):
        _connector("c_abstractor", grid=4)(torch.randn(1, 9, VISION_DIM))


def test_a_wrong_feature_width_is_named() -> None:
    with pytest.raises(ValueError, match=r"\(B, N, 24\)"):
        _connector("linear")(torch.randn(1, 4, 7))


def test_unknown_connectors_and_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown connector 'qformer'.*pixel_shuffle"):
        _connector("qformer")
    with pytest.raises(ConfigError, match=r"unknown option.*quries.*options: queries, heads"):
        _connector("resampler", quries=4)
    with pytest.raises(ConfigError, match="square number"):
        _connector("resampler", queries=10)
    assert connector_options("pixel_shuffle") == {"factor": 2}
