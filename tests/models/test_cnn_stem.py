"""Dual encoders whose vision tower starts with a frozen EfficientNet-Lite0: the stem stays
frozen and in eval mode through training, its precomputed features stand in for pixels, the
models save, load and hand their tower to vision-language models, and bad configs are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vislang.errors import ConfigError
from vislang.models.cnn_stem import CnnVisionEmbeddings
from vislang.models.efficientnet_lite import load_efficientnet_lite0_trunk
from vislang.models.registry import load_model, save_model
from vislang.models.vision_tower import VisionTower, preset_vision_config


@pytest.mark.parametrize(("preset", "tokens"), [("clip-tiny-cnn", 17), ("siglip-tiny-cnn", 16)])
def test_the_stem_makes_a_4x4_grid_and_clip_adds_its_class_token(preset: str, tokens: int) -> None:
    model = load_model(preset)
    pixels = torch.randn(2, 3, 64, 64)
    assert model.image_patch_features(pixels).shape == (2, tokens, 128)
    assert model.encode_images(pixels).shape == (2, 128)


@pytest.mark.parametrize("preset", ["clip-tiny-cnn", "siglip-tiny-cnn"])
def test_precomputed_trunk_features_give_the_embeddings_of_the_pixels(preset: str) -> None:
    model = load_model(preset)
    pixels = torch.randn(3, 3, 64, 64)
    features = model.frozen_stem.trunk_features(pixels)
    assert features.shape == (3, 112, 4, 4)
    assert torch.allclose(model.encode_images(features), model.encode_images(pixels), atol=1e-6)


def test_the_trunk_holds_the_pretrained_weights_and_training_leaves_it_unchanged() -> None:
    model = load_model("clip-tiny-cnn").train()
    stem = model.frozen_stem
    assert isinstance(stem, CnnVisionEmbeddings)
    pretrained = load_efficientnet_lite0_trunk(5).state_dict()
    assert all(torch.equal(stem.trunk.state_dict()[k], v) for k, v in pretrained.items())
    assert not stem.trunk.training and stem.training
    assert not any(p.requires_grad for p in stem.trunk.parameters())
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    texts = model.tokenize(["a red circle", "two blue squares"])
    output = model(torch.randn(2, 3, 64, 64), **texts)
    model.loss(output).backward()
    optimizer.step()
    after = stem.trunk.state_dict()
    assert all(torch.equal(after[k], v) for k, v in pretrained.items())  # incl. BN statistics
    assert stem.proj.weight.grad is not None


def test_a_saved_model_loads_with_equal_embeddings(tmp_path: Path) -> None:
    model = load_model("siglip-tiny-cnn", seed=3)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.config.vision_stem == "efficientnet-lite0"
    pixels = torch.randn(2, 3, 64, 64)
    assert torch.equal(loaded.encode_images(pixels), model.encode_images(pixels))


def test_a_vision_language_model_gets_the_tower_with_its_stem() -> None:
    encoder = load_model("clip-tiny-cnn", seed=1)
    tower = VisionTower.from_encoder(encoder)
    assert tower.config.stem == "efficientnet-lite0"
    assert tower.output_tokens == 16
    rebuilt = VisionTower.from_config(tower.config)
    rebuilt.load_state_dict(tower.state_dict())
    pixels = torch.randn(2, 3, 64, 64)
    assert torch.equal(rebuilt(pixels), tower(pixels))
    assert tower(pixels).shape == (2, 16, 128)
    assert preset_vision_config("siglip-tiny-cnn").stem == "efficientnet-lite0"


def test_bad_stems_are_refused_with_the_field() -> None:
    with pytest.raises(ConfigError, match="patch_size = 16"):
        load_model("clip-tiny-cnn", patch_size=8)
    with pytest.raises(ConfigError, match="vision_stem: the stem must be"):
        load_model("clip-tiny", vision_stem="resnet")
    with pytest.raises(ValueError, match="4×4 feature grid"):
        load_model("clip-tiny-cnn").encode_images(torch.randn(1, 112, 3, 3))
