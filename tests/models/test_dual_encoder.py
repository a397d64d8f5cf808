"""CLIP and SigLIP dual encoders: Hugging Face checkpoints load exactly, presets are what they
claim, and the interface holds (normalised embeddings, patch features, fingerprints)."""

from __future__ import annotations

import io
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import sentencepiece
import torch
import torch.nn.functional as F
from PIL import Image
from tokenizers import pre_tokenizers
from transformers import (
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPModel,
    CLIPProcessor,
    CLIPTokenizer,
    SiglipConfig,
    SiglipImageProcessorPil,
    SiglipModel,
    SiglipProcessor,
    SiglipTokenizer,
)

from vislang.data.preprocess import PreprocessConfig, preprocess
from vislang.errors import ConfigError
from vislang.models.caption_pairs import CaptionPairs, ImageCaptions
from vislang.models.dual_encoder import CLIPDualEncoder, SiglipDualEncoder
from vislang.models.registry import load_model, save_model
from vislang.represent.encoder import ImageTextEncoder

TEXTS = [
    "the cat",
    "a red circle left of the blue square",
    "ein kleiner roter Kreis",
    "一个红色的圆",
    "",
    "the " * 40,  # longer than every text tower here: truncated, end-of-text kept
]


def _images(count: int, seed: int = 0) -> list[Image.Image]:
    """Small RGB images of different shapes, so resizing and cropping matter."""
    rng = np.random.default_rng(seed)
    shapes = [(40, 56), (64, 48), (33, 33), (80, 45)]
    return [
        Image.fromarray(rng.integers(0, 256, (*shapes[i % 4], 3), dtype=np.uint8))
        for i in range(count)
    ]


def _clip_checkpoint(directory: Path) -> tuple[CLIPModel, CLIPProcessor]:
    """A tiny random CLIPModel with a real byte-level BPE tokenizer and an image processor with
    non-default constants, saved as a Hugging Face checkpoint."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for char in alphabet:
            vocab[char + suffix] = len(vocab)
    vocab["th"], vocab["the</w>"] = len(vocab), len(vocab) + 1
    merges = [("t", "h"), ("th", "e</w>")]
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=24)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": 36},
        crop_size={"height": 32, "width": 32},
        image_mean=[0.1, 0.2, 0.3],
        image_std=[0.4, 0.5, 0.6],
    )
    config = CLIPConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 24,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "hidden_size": 48,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return model, processor


def _siglip_checkpoint(directory: Path) -> tuple[SiglipModel, SiglipProcessor]:
    """A tiny random SiglipModel with a SentencePiece tokenizer trained here, saved as a Hugging
    Face checkpoint."""
    corpus = [text for text in TEXTS if text.strip()] * 20
    model_file = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model_file,
        vocab_size=60,
        hard_vocab_limit=False,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        minloglevel=2,
    )
    (directory / "spiece.model").write_bytes(model_file.getvalue())
    tokenizer = SiglipTokenizer(str(directory / "spiece.model"), model_max_length=20)
    image_processor = SiglipImageProcessorPil(size={"height": 32, "width": 32})
    config = SiglipConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 48,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 20,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": None,
        },
        vision_config={
            "hidden_size": 48,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
    )
    torch.manual_seed(0)
    model = SiglipModel(config).eval()
    with torch.no_grad():  # transformers initialises both to 0; give them telling values
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-10.0)
    processor = SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return model, processor


@pytest.fixture(scope="module")
def clip_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CLIPModel, object]:
    directory = tmp_path_factory.mktemp("clip-checkpoint")
    model, processor = _clip_checkpoint(directory)
    return directory, model, processor


@pytest.fixture(scope="module")
def siglip_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SiglipModel, object]:
    directory = tmp_path_factory.mktemp("siglip-checkpoint")
    model, processor = _siglip_checkpoint(directory)
    return directory, model, processor


@torch.no_grad()
def test_clip_checkpoint_embeddings_equal_the_reference(clip_checkpoint) -> None:
    directory, reference, processor = clip_checkpoint
    model = load_model(directory)
    assert isinstance(model, CLIPDualEncoder)

    pixels = processor(images=_images(4), return_tensors="pt")["pixel_values"]
    expected = F.normalize(reference.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
    torch.testing.assert_close(model.encode_images(pixels), expected, atol=1e-5, rtol=0)

    inputs = processor(text=TEXTS, padding=True, truncation=True, return_tensors="pt")
    assert inputs["input_ids"].shape[1] == 24  # the long text was truncated at the tokenizer's max
    ours = model.tokenize(TEXTS)
    torch.testing.assert_close(ours["input_ids"], inputs["input_ids"])
    torch.testing.assert_close(ours["attention_mask"], inputs["attention_mask"])
    expected = F.normalize(reference.get_text_features(**inputs).pooler_output, dim=-1)
    torch.testing.assert_close(model.encode_texts(TEXTS), expected, atol=1e-5, rtol=0)

    torch.testing.assert_close(
        model.image_patch_features(pixels),
        reference.vision_model(pixel_values=pixels).last_hidden_state,
        atol=1e-5,
        rtol=0,
    )
    output = model(pixels, **model.tokenize(TEXTS[:4]))
    assert output.logit_scale.item() == pytest.approx(reference.logit_scale.exp().item())
    assert output.logit_bias is None


def test_clip_checkpoint_preprocessing_is_the_checkpoints(clip_checkpoint) -> None:
    directory, _, processor = clip_checkpoint
    model = load_model(directory)
    image_processor = processor.image_processor
    assert model.preprocess == PreprocessConfig(
        resize=image_processor.size.shortest_edge,
        crop=image_processor.crop_size.height,
        mean=tuple(image_processor.image_mean),
        std=tuple(image_processor.image_std),
        resize_mode="shortest_edge",
    )
    assert model.preprocess == PreprocessConfig(
        resize=36, crop=32, mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6)
    )


@torch.no_grad()
def test_siglip_checkpoint_embeddings_equal_the_reference(siglip_checkpoint) -> None:
    directory, reference, processor = siglip_checkpoint
    model = load_model(directory)
    assert isinstance(model, SiglipDualEncoder)

    pixels = processor(images=_images(4), return_tensors="pt")["pixel_values"]
    expected = F.normalize(reference.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
    torch.testing.assert_close(model.encode_images(pixels), expected, atol=1e-5, rtol=0)

    # SigLIP was trained on texts padded to the maximum length without an attention mask.
    inputs = processor(text=TEXTS, padding="max_length", truncation=True, return_tensors="pt")
    assert inputs["input_ids"].shape[1] == 20
    ours = model.tokenize(TEXTS)
    assert set(ours) == {"input_ids"}
    torch.testing.assert_close(ours["input_ids"], inputs["input_ids"])
    expected = F.normalize(
        reference.get_text_features(input_ids=inputs["input_ids"]).pooler_output, dim=-1
    )
    torch.testing.assert_close(model.encode_texts(TEXTS), expected, atol=1e-5, rtol=0)

    torch.testing.assert_close(
        model.image_patch_features(pixels),
        reference.vision_model(pixel_values=pixels).last_hidden_state,
        atol=1e-5,
        rtol=0,
    )
    output = model(pixels, **model.tokenize(TEXTS[:4]))
    assert output.logit_scale.item() == pytest.approx(10.0)
    assert output.logit_bias.item() == pytest.approx(-10.0)


def test_siglip_checkpoint_preprocessing_is_the_checkpoints(siglip_checkpoint) -> None:
    directory, _, processor = siglip_checkpoint
    model = load_model(directory)
    image_processor = processor.image_processor
    assert image_processor.do_center_crop is None  # SigLIP squashes to a square, no crop
    assert model.preprocess == PreprocessConfig(
        resize=image_processor.size.height,
        crop=image_processor.size.height,
        mean=tuple(image_processor.image_mean),
        std=tuple(image_processor.image_std),
        resize_mode="square",
    )
    assert model.preprocess == PreprocessConfig(
        resize=32, crop=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), resize_mode="square"
    )


@pytest.mark.parametrize("fixture", ["clip_checkpoint", "siglip_checkpoint"])
@torch.no_grad()
def test_vislang_image_pipeline_with_the_checkpoints_constants_matches_its_processor(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """Images of several aspect ratios through vislang's preprocessing (with the constants read
    from the checkpoint) give the processor's pixels up to resampling rounding, and so the same
    embeddings: the resize mode, crop, mean and std were all carried over."""
    directory, _, processor = request.getfixturevalue(fixture)
    model = load_model(directory)
    images = _images(4, seed=3)
    expected = processor(images=images, return_tensors="pt")["pixel_values"]
    ours = torch.stack([torch.from_numpy(preprocess(image, model.preprocess)) for image in images])
    assert ours.shape == expected.shape
    assert (ours - expected).abs().mean().item() < 1e-3
    similarity = (model.encode_images(ours) * model.encode_images(expected)).sum(dim=-1)
    assert similarity.min().item() > 0.999


@pytest.mark.parametrize("fixture", ["clip_checkpoint", "siglip_checkpoint"])
def test_loaded_checkpoint_round_trips_through_a_vislang_directory(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    directory, _, processor = request.getfixturevalue(fixture)
    model = load_model(directory)
    saved = save_model(model, tmp_path / "saved")
    assert (saved / "tokenizer").is_dir()  # the checkpoint's own tokenizer travels with it
    again = load_model(saved)
    assert type(again) is type(model)
    assert again.config == model.config
    assert again.fingerprint() == model.fingerprint()
    pixels = processor(images=_images(3), return_tensors="pt")["pixel_values"]
    assert torch.equal(again.encode_images(pixels), model.encode_images(pixels))
    assert torch.equal(again.tokenize(TEXTS)["input_ids"], model.tokenize(TEXTS)["input_ids"])
    assert torch.equal(again.encode_texts(TEXTS), model.encode_texts(TEXTS))


def test_incomplete_checkpoints_are_refused_clearly(clip_checkpoint, tmp_path: Path) -> None:
    directory, _, _ = clip_checkpoint
    no_weights = shutil.copytree(directory, tmp_path / "no-weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"cannot load the clip checkpoint: .*model\.safetensors"):
        load_model(no_weights)
    no_processor = shutil.copytree(directory, tmp_path / "no-processor")
    for path in no_processor.glob("*processor*.json"):
        path.unlink()
    with pytest.raises(ConfigError, match="no-processor: no usable image processor config"):
        load_model(no_processor)


@pytest.mark.parametrize("name", ["clip-tiny", "siglip-tiny"])
def test_tiny_preset_implements_the_encoder_interface(name: str) -> None:
    model = load_model(name)
    assert isinstance(model, ImageTextEncoder)
    assert model.preprocess.crop == model.config.image_size == 64
    assert model.preprocess.resize_mode == (
        "square" if name.startswith("siglip") else "shortest_edge"
    )
    pixels = torch.randn(3, 3, 64, 64)
    images = model.encode_images(pixels)
    texts = model.encode_texts(["a red circle", "ein blauer Kreis", "一个红色的圆"])
    assert images.shape == texts.shape == (3, model.embed_dim)
    torch.testing.assert_close(images.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(texts.norm(dim=-1), torch.ones(3))
    patches = model.image_patch_features(pixels)
    expected_tokens = 64 + (1 if name.startswith("clip") else 0)  # CLIP adds a class token
    assert patches.shape == (3, expected_tokens, model.config.vision_width)
    assert model.encode_texts([]).shape == (0, model.embed_dim)
    fingerprint = model.fingerprint()
    assert set(fingerprint) == {"name", "config_hash", "weights_hash", "dim"}
    assert fingerprint["name"] == name and fingerprint["dim"] == model.embed_dim


def test_byte_tokenizer_is_multilingual_and_truncates_to_the_text_positions() -> None:
    model = load_model("clip-tiny")
    ids = model.tokenize(["é", "e\u0301", "你好", "x" * 500])["input_ids"]
    # NFC: a precomposed and a decomposed é are one text; 你好 is six UTF-8 bytes; 1 = end of text.
    assert ids[0].tolist()[:3] == ids[1].tolist()[:3] == [0xC3 + 3, 0xA9 + 3, 1]
    assert ids[2].tolist()[:7] == [byte + 3 for byte in "你好".encode()] + [1]
    assert ids.shape[1] == model.config.text_max_length and ids[3, -1].item() == 1


def test_siglip_tiny_pads_every_text_to_the_maximum_length_on_the_left() -> None:
    model = load_model("siglip-tiny")
    tokens = model.tokenize(["a", "bb"])
    assert set(tokens) == {"input_ids", "attention_mask"}  # trained from scratch: masked
    assert tokens["attention_mask"].sum(dim=1).tolist() == [2, 3]
    ids = tokens["input_ids"]
    assert ids.shape == (2, model.config.text_max_length)
    # the pooled last position holds every text's end-of-text token, padding comes first
    assert ids[:, -1].tolist() == [1, 1]
    assert ids[0, -2:].tolist() == [ord("a") + 3, 1] and ids[0, :-2].eq(0).all()
    assert ids[1, -3:].tolist() == [ord("b") + 3, ord("b") + 3, 1] and ids[1, :-3].eq(0).all()


def test_the_training_batches_pad_as_the_model_tokenizes(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 64), "red").save(image)
    for name in ("siglip-tiny", "clip-tiny"):
        model = load_model(name, text_max_length=16)
        texts = ["a red circle", "two"]
        items = [ImageCaptions("a", image, tuple((t, "en") for t in texts))]
        pairs = CaptionPairs(items, model, show_progress=False)
        batch, expected = pairs.token_batch([0, 1]), model.tokenize(texts)
        assert set(batch) == set(expected)
        assert all(torch.equal(batch[k], expected[k]) for k in batch), name


def test_bad_padding_sides_are_refused() -> None:
    with pytest.raises(ConfigError, match="text_padding_side"):
        load_model("clip-tiny", text_padding_side="middle")


def test_siglip_embedding_width_is_its_vision_width() -> None:
    assert load_model("clip-tiny", embed_dim=256).embed_dim == 256  # CLIP projects
    with pytest.raises(ConfigError, match="embed_dim must equal vision_width 128, not 256"):
        load_model("siglip-tiny", embed_dim=256)


def test_temperature_initialisation_and_clip_clamp() -> None:
    clip, siglip = load_model("clip-tiny"), load_model("siglip-tiny")
    assert clip.logit_scale().item() == pytest.approx(1 / 0.07)
    assert clip.logit_bias() is None
    assert siglip.logit_scale().item() == pytest.approx(10.0)
    # published: −10 for batches of 32k; from scratch in batches of 64: a positive's prior 1/64
    assert load_model("siglip-base").logit_bias().item() == pytest.approx(-10.0)
    assert torch.sigmoid(siglip.logit_bias()).item() == pytest.approx(1 / 64)
    with torch.no_grad():
        clip.backbone.logit_scale.fill_(math.log(1000.0))
    scale = clip.logit_scale()
    scale.backward()
    assert scale.item() == pytest.approx(100.0)
    assert clip.backbone.logit_scale.grad.item() == 0.0  # beyond the clamp s no longer moves


def test_forward_gives_normalised_embeddings_with_gradient() -> None:
    model = load_model("siglip-tiny")
    output = model(torch.randn(2, 3, 64, 64), **model.tokenize(["a", "b"]))
    torch.testing.assert_close(output.image_embeds.norm(dim=-1), torch.ones(2))
    model.loss(output).backward()
    assert model.backbone.logit_bias.grad is not None
    assert model.backbone.vision_model.embeddings.patch_embedding.weight.grad.abs().sum() > 0


def test_base_presets_are_the_published_architectures() -> None:
    """clip-base is transformers' default CLIPConfig (openai/clip-vit-base-patch32) and
    siglip-base its default SiglipConfig (google/siglip-base-patch16-224), except for the byte
    vocabulary and its special-token ids."""
    tokenizer_fields = {"vocab_size", "pad_token_id", "bos_token_id", "eos_token_id"}
    for family, published in ((CLIPDualEncoder, CLIPConfig()), (SiglipDualEncoder, SiglipConfig())):
        ours = family._backbone_config(family.presets()["base"])
        for tower in ("text_config", "vision_config"):
            mine, theirs = getattr(ours, tower).to_dict(), getattr(published, tower).to_dict()
            differing = {key for key in theirs if mine.get(key) != theirs[key]}
            assert differing <= tokenizer_fields | {"transformers_version"}, (family, differing)
    assert SiglipDualEncoder.presets()["base"].preprocess.resize_mode == "square"


def test_images_of_the_wrong_size_are_refused() -> None:
    model = load_model("clip-tiny")
    with pytest.raises(ValueError, match=r"clip-tiny: expected pixels of shape \(B, 3, 64, 64\)"):
        model.encode_images(torch.randn(1, 3, 32, 32))
    with pytest.raises(TypeError, match="sequence of texts"):
        model.tokenize("one string")


def test_texts_of_mixed_lengths_are_encoded_in_length_groups_with_the_same_result() -> None:
    clip = load_model("clip-tiny", seed=3)
    texts = [("a red circle " * (1 + i % 7)).strip() for i in range(37)]  # 12 to 90 bytes
    tokens = clip.tokenize(texts)
    calls: list[int] = []
    text_model = clip.backbone.text_model
    hook = text_model.register_forward_pre_hook(
        lambda _module, _args, kwargs: calls.append(kwargs["input_ids"].shape[1]),
        with_kwargs=True,
    )
    grouped = clip.text_embeddings(**tokens)
    hook.remove()
    whole = clip.backbone.get_text_features(**tokens).pooler_output
    assert len(calls) == 3 and max(calls) == tokens["input_ids"].shape[1] > min(calls)
    torch.testing.assert_close(grouped, whole, atol=1e-5, rtol=1e-5)
    grouped.sum().backward()  # one graph through every group
    assert clip.backbone.text_model.embeddings.token_embedding.weight.grad is not None

    siglip = load_model("siglip-tiny", seed=3)  # left padding to 128 positions, masked
    tokens = siglip.tokenize(texts)
    assert tokens["input_ids"].shape[1] == 128 and tokens["attention_mask"][:, 0].sum() == 0
    torch.testing.assert_close(
        siglip.text_embeddings(**tokens),
        siglip.backbone.get_text_features(**tokens).pooler_output,
        atol=1e-5,
        rtol=1e-5,
    )
    published = load_model("siglip-tiny", text_attention_mask=False, text_padding_side="right")
    tokens = published.tokenize(texts)  # padding is attended to: one call, nothing cut
    assert "attention_mask" not in tokens
    torch.testing.assert_close(
        published.text_embeddings(**tokens),
        published.backbone.get_text_features(**tokens).pooler_output,
    )
