"""LLaVA checkpoints load into the visual-prefix VLM with the reference's outputs: tiny random
``LlavaForConditionalGeneration`` models (CLIP and SigLIP towers) saved with a tokenizer and an
image processor, loaded through ``load_model``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    SiglipImageProcessor,
    SiglipVisionConfig,
)

from shared_parts import tiny_tokenizer
from vislang.errors import ConfigError
from vislang.models.llava import LLAVA_QUESTION_TEMPLATE
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.registry import load_model, save_model

IMAGE_TOKENS = {"clip": 16, "siglip": 16}  # 32×32 images in 8×8 patches (CLIP: class token cut)
QUESTIONS = ["What colour is the circle?", "How many stars are there?"]


def _save_llava(folder: Path, tower: str, **config_fields) -> LlavaForConditionalGeneration:
    tokenizer = tiny_tokenizer()
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 8,
    }
    if tower == "clip":
        vision_config = CLIPVisionConfig(**vision)
        processor = CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
    else:
        vision_config = SiglipVisionConfig(**vision)
        processor = SiglipImageProcessor(size={"height": 32, "width": 32})
        config_fields.setdefault("vision_feature_select_strategy", "full")
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=48,
            intermediate_size=96,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        ),
        image_token_index=3,
        image_seq_length=IMAGE_TOKENS[tower],
        **config_fields,
    )
    torch.manual_seed(0)
    reference = LlavaForConditionalGeneration(config).eval()
    with torch.no_grad():  # a wide spread of weights keeps next-token scores far from ties
        for parameter in reference.parameters():
            parameter.mul_(3.0)
    reference.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    processor.save_pretrained(folder)
    return reference


def _reference_inputs(model: PrefixVLM, prompts: list[str], tokens: int) -> dict:
    """The processor's form of the prompts: each ``<image>`` written ``tokens`` times."""
    batch = model.lm.tokenize([""] * len(prompts), prompts, padding_side="left")
    rows = []
    for row in batch["input_ids"].tolist():
        expanded = []
        for token in row:
            expanded += [token] * tokens if token == 3 else [token]
        rows.append(expanded)
    ids = torch.tensor(rows)
    return {"input_ids": ids, "attention_mask": (ids != 0).long(), "batch": batch}


@pytest.mark.parametrize("tower", ["clip", "siglip"])
def test_a_llava_checkpoint_gives_the_references_logits_and_answers(tmp_path, tower) -> None:
    reference = _save_llava(tmp_path / "llava", tower)
    model = load_model(tmp_path / "llava")
    assert isinstance(model, PrefixVLM)
    assert model.config.connector.kind == "mlp"
    assert model.tokens_per_image == IMAGE_TOKENS[tower]
    prompts = [model.question_prompt(q) for q in QUESTIONS]
    assert prompts[0] == LLAVA_QUESTION_TEMPLATE.format(question=QUESTIONS[0])
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    inputs = _reference_inputs(model, prompts, IMAGE_TOKENS[tower])
    batch = inputs["batch"]
    with torch.no_grad():
        expected = reference(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            pixel_values=images,
        ).logits
        logits = model(
            batch["input_ids"], batch["attention_mask"], pixels=images, padding_side="left"
        ).logits
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)

    generated = reference.generate(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        pixel_values=images,
        max_new_tokens=6,
        do_sample=False,
    )
    width = inputs["input_ids"].shape[1]
    texts = model.tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)
    assert model.generate(prompts, pixels=images, max_new_tokens=6) == [t.strip() for t in texts]


def test_the_checkpoints_preprocessing_and_feature_layer_are_kept(tmp_path) -> None:
    _save_llava(tmp_path / "llava", "siglip")
    model = load_model(tmp_path / "llava")
    assert model.preprocess.resize_mode == "square"
    assert model.preprocess.mean == (0.5, 0.5, 0.5)
    assert model.vision.config.feature_layer == -2  # LLaVA's default
    assert model.vision.config.select == "full"
    assert model.config.image_positions == 0


def test_a_loaded_llava_saves_as_a_vislang_model(tmp_path) -> None:
    _save_llava(tmp_path / "llava", "clip")
    model = load_model(tmp_path / "llava")
    folder = save_model(model, tmp_path / "saved")
    again = load_model(folder)
    images = torch.randn(2, 3, 32, 32)
    prompts = [model.question_prompt(q) for q in QUESTIONS]
    batch = model.lm.tokenize([""] * 2, prompts)
    with torch.no_grad():
        assert torch.equal(
            again(**batch, pixels=images).logits, model(**batch, pixels=images).logits
        )
    assert _as_json(again.config) == _as_json(model.config)


def _as_json(config) -> object:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def test_several_feature_layers_are_refused(tmp_path) -> None:
    _save_llava(tmp_path / "llava", "clip", vision_feature_layer=[-2, -1])
    with pytest.raises(ConfigError, match=r"several vision feature layers \[-2, -1\]"):
        load_model(tmp_path / "llava")
