"""The model registry: presets, vislang model directories, and the errors for everything else."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

from vislang import __version__
from vislang.errors import ConfigError, DataFormatError
from vislang.models.registry import (
    MODEL_FILE,
    WEIGHTS_FILE,
    families,
    load_model,
    preset_names,
    register_family,
    save_model,
)


def _state_equal(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    a, b = first.state_dict(), second.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_preset_names_cover_both_families_and_sizes() -> None:
    names = preset_names()
    assert names == sorted(names)
    assert {"clip-base", "clip-tiny", "siglip-base", "siglip-tiny"} <= set(names)
    assert {"clip", "siglip"} <= set(families())


def test_presets_are_seeded_and_leave_the_global_random_state_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = load_model("clip-tiny")
    assert torch.equal(torch.rand(3), expected_next)
    assert _state_equal(first, load_model("clip-tiny"))
    assert not _state_equal(first, load_model("clip-tiny", seed=1))


@pytest.mark.parametrize("name", ["clip-tiny", "siglip-tiny"])
def test_save_and_load_round_trip_is_bitwise(name: str, tmp_path: Path) -> None:
    model = load_model(name, seed=5)
    with torch.no_grad():  # trained weights, not just the seeded ones
        model.backbone.logit_scale.add_(0.25)
    out = save_model(model, tmp_path / "model")
    assert sorted(path.name for path in out.iterdir()) == [WEIGHTS_FILE, MODEL_FILE]

    meta = json.loads((out / MODEL_FILE).read_text(encoding="utf-8"))
    assert meta["family"] == name.split("-")[0]
    assert meta["vislang_version"] == __version__
    assert meta["config"]["seed"] == 5 and meta["config"]["preprocess"]["resize"] == 64

    again = load_model(out)
    assert type(again) is type(model) and again.config == model.config
    assert _state_equal(again, model)
    pixels = torch.randn(2, 3, 64, 64)
    texts = ["a red circle", "一个圆"]
    assert torch.equal(again.encode_images(pixels), model.encode_images(pixels))
    assert torch.equal(again.encode_texts(texts), model.encode_texts(texts))
    assert again.fingerprint() == model.fingerprint()


def test_overrides_apply_to_saved_directories_and_are_checked(tmp_path: Path) -> None:
    out = save_model(load_model("clip-tiny"), tmp_path / "model")
    assert load_model(out, name="my-clip").name == "my-clip"
    with pytest.raises(ConfigError, match=r"unknown config field\(s\) widht"):
        load_model("clip-tiny", widht=3)
    with pytest.raises(DataFormatError, match=r"model.safetensors: field 'backbone\..*': shape"):
        load_model(out, embed_dim=64)


def test_unknown_names_list_what_was_tried() -> None:
    with pytest.raises(ConfigError) as caught:
        load_model("clip-tyni")
    message = str(caught.value)
    assert f"not a preset ({', '.join(preset_names())})" in message
    assert "did you mean 'clip-tiny'?" in message
    assert "not a directory with vislang_model.json or config.json" in message


def test_hub_ids_that_cannot_be_fetched_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConfigError, match=r"'example-org/no-such-clip'.*hub id \("):
        load_model("example-org/no-such-clip")


def test_directories_that_are_not_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"a directory without vislang_model\.json"):
        load_model(tmp_path)

    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    unsupported = r"model_type 'bert' is not supported \(supported: .*clip.*siglip"
    with pytest.raises(ConfigError, match=unsupported):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text('{"hidden_size": 3}', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"config.json: field 'model_type': missing"):
        load_model(tmp_path)


def test_broken_vislang_directories_name_file_line_and_field(tmp_path: Path) -> None:
    out = save_model(load_model("siglip-tiny"), tmp_path / "model")
    meta_path = out / MODEL_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))

    meta_path.write_text('{\n  "family": "clip",\n  oops\n}', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"vislang_model.json:3: not valid JSON"):
        load_model(out)

    meta_path.write_text(json.dumps(meta | {"family": "blip"}), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"field 'family': unknown model family 'blip'"):
        load_model(out)

    broken = {**meta["config"], "vision_depth": 3}
    meta_path.write_text(json.dumps(meta | {"config": broken}), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"field 'config.vision_depth': unknown field"):
        load_model(out)

    missing = {key: value for key, value in meta["config"].items() if key != "patch_size"}
    meta_path.write_text(json.dumps(meta | {"config": missing}), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"field 'config.patch_size': missing"):
        load_model(out)

    for field, value, expected in [
        ("image_size", "64", r"field 'config.image_size': expected int, got '64'"),
        ("tokenizer", "words", r"'config.tokenizer': expected one of 'bytes', 'checkpoint'"),
        ("logit_bias_init", [1], r"'config.logit_bias_init': expected float or null, got \[1\]"),
        ("preprocess", {**meta["config"]["preprocess"], "crop": 6.5}, r"'config.preprocess.crop'"),
    ]:
        meta_path.write_text(json.dumps(meta | {"config": {**meta["config"], field: value}}))
        with pytest.raises(DataFormatError, match=expected):
            load_model(out)

    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    (out / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(DataFormatError, match=r"model\.safetensors: not a readable safetensors"):
        load_model(out)
    (out / WEIGHTS_FILE).unlink()
    with pytest.raises(DataFormatError, match=r"model\.safetensors: missing"):
        load_model(out)


def test_checkpoint_overrides_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "clip"}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"overrides \(seed\) apply to presets"):
        load_model(tmp_path, seed=1)


def test_registering_a_family_name_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'clip' is already registered by CLIPDualEncoder"):

        @register_family("clip")
        class Impostor:
            pass

    assert families()["clip"].__name__ == "CLIPDualEncoder"


def test_only_registered_families_can_be_saved(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Linear is not a registered model family"):
        save_model(torch.nn.Linear(2, 2), tmp_path)
