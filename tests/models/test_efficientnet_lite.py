"""EfficientNet-Lite0 written against the PyPI state dict: every weight loads, the same logits and
features as the reference implementation, TensorFlow's SAME padding, the trunk's stages, and
ImageNet predictions that fit real COCO photographs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vislang.errors import ConfigError
from vislang.models.efficientnet_lite import (
    HEAD_CHANNELS,
    MEAN,
    STD,
    EfficientNetLite0Trunk,
    load_efficientnet_lite0,
    load_efficientnet_lite0_trunk,
    pretrained_weights_path,
)


def test_every_pretrained_tensor_has_a_place_and_every_place_a_tensor() -> None:
    state = torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
    model = load_efficientnet_lite0()
    assert set(model.state_dict()) == set(state)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, state[name]), name


def test_logits_equal_the_reference_implementation_s() -> None:
    reference_package = pytest.importorskip("efficientnet_lite_pytorch")
    reference = reference_package.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=pretrained_weights_path()
    ).eval()
    torch.manual_seed(0)
    pixels = torch.randn(2, 3, 224, 224)
    ours = load_efficientnet_lite0()
    with torch.no_grad():
        torch.testing.assert_close(ours(pixels), reference(pixels), atol=1e-4, rtol=0)
        expected = reference.extract_features(pixels)
        torch.testing.assert_close(ours.feature_map(pixels), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize(("size", "grid"), [(224, 7), (64, 2), (100, 4), (33, 2)])
def test_same_padding_gives_ceil_of_the_size_over_the_stride(size: int, grid: int) -> None:
    model = load_efficientnet_lite0(pretrained=False)
    with torch.no_grad():
        features = model.feature_map(torch.zeros(1, 3, size, size))
    assert features.shape == (1, HEAD_CHANNELS, grid, grid)


@pytest.mark.parametrize(("stages", "channels", "stride"), [(1, 16, 2), (3, 40, 8), (5, 112, 16)])
def test_the_trunk_stops_after_its_stages(stages: int, channels: int, stride: int) -> None:
    trunk = EfficientNetLite0Trunk(stages)
    assert (trunk.channels, trunk.stride) == (channels, stride)
    with torch.no_grad():
        assert trunk(torch.zeros(2, 3, 64, 64)).shape == (2, channels, 64 // stride, 64 // stride)


def test_the_pretrained_trunk_is_the_start_of_the_whole_network() -> None:
    whole = load_efficientnet_lite0()
    trunk = load_efficientnet_lite0_trunk(7)
    pixels = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = whole._bn1(whole._conv_head(trunk(pixels))).clamp(0, 6)
        assert torch.allclose(whole.feature_map(pixels), expected, atol=1e-5)


def test_a_trunk_of_no_stage_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"stages 1\.\.7"):
        EfficientNetLite0Trunk(0)


_FITTING_CLASSES = {
    # COCO category → ImageNet classes that fit a photo whose largest object is of it
    "airplane": {404, 895, 908, 812},
    "bear": {294, 295, 296, 297},
    "bed": {564, 750, 831},
    "bicycle": {444, 671, 870},
    "bird": set(range(7, 25)) | set(range(80, 101)) | set(range(127, 147)),
    "book": {453, 454, 624, 921},
    "bus": {654, 705, 734, 779, 829, 874},
    "car": {436, 468, 479, 511, 581, 609, 627, 656, 661, 717, 751, 817},
    "cat": set(range(281, 286)),
    "clock": {409, 530, 892},
    "dog": set(range(151, 269)),
    "elephant": {101, 385, 386},
    "laptop": {527, 620, 681},
    "microwave": {651},
    "oven": {651, 766, 827},
    "refrigerator": {760},
    "sink": {896},
    "stop sign": {919},
    "teddy bear": {850},
    "tv": {527, 664, 782, 851},
}


def _dominant_objects(root: Path) -> list[tuple[Path, str]]:
    """(photo, category) for the photos of coco-mini whose largest object is of a checked
    category."""
    chosen = []
    for split in ("train2017", "val2017"):
        instances = json.loads((root / "annotations" / f"instances_{split}.json").read_text())
        names = {c["id"]: c["name"] for c in instances["categories"]}
        images = {image["id"]: image for image in instances["images"]}
        largest: dict[int, dict] = {}
        for annotation in instances["annotations"]:
            best = largest.get(annotation["image_id"])
            if best is None or annotation["area"] > best["area"]:
                largest[annotation["image_id"]] = annotation
        for image_id, annotation in sorted(largest.items()):
            name = names[annotation["category_id"]]
            if name in _FITTING_CLASSES:
                chosen.append((root / split / images[image_id]["file_name"], name))
    return chosen


def _hit_rate(model: torch.nn.Module, chosen: list[tuple[Path, str]]) -> float:
    """Share of the photos with a fitting ImageNet class in the model's top 5."""
    hits = 0
    for path, name in chosen:
        image = Image.open(path).convert("RGB").resize((224, 224))
        pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
        pixels = (pixels - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
        with torch.no_grad():
            top5 = set(model(pixels).topk(5).indices[0].tolist())
        hits += bool(top5 & _FITTING_CLASSES[name])
    return hits / len(chosen)


def test_imagenet_predictions_fit_the_objects_of_real_photographs(shared_data: Path) -> None:
    chosen = _dominant_objects(shared_data / "coco-mini")
    assert len(chosen) >= 20, f"coco-mini has only {len(chosen)} photos of the checked categories"
    # small objects and clutter make misses; the same network without its weights barely hits
    assert _hit_rate(load_efficientnet_lite0(), chosen) >= 0.6
    torch.manual_seed(0)
    assert _hit_rate(load_efficientnet_lite0(pretrained=False), chosen) <= 0.3
