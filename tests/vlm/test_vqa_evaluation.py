"""VQA evaluation: official accuracy broken down by question type and language, the baselines
that answer without the image, and the ``vislang eval vqa`` and ``vislang ask`` commands on a
world folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from shared_parts import tiny_lm
from vislang.cli import app
from vislang.data.readers import read_dataset
from vislang.data.schema import VQAExample
from vislang.data.world import write_world
from vislang.evaluate.vqa import evaluate_vqa, score_vqa
from vislang.evaluate.vqa_baselines import language_prior_answers, majority_answers
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.registry import load_model, save_model
from vislang.models.vision_tower import VisionTower
from vislang.models.vlm_data import build_examples, generate_world_records, world_config

runner = CliRunner()


def _record(i: int, question_type: str, language: str, answers: tuple[str, ...]) -> VQAExample:
    return VQAExample(
        id=f"q{i}",
        image=Path(f"images/s{i}.png"),
        question=f"question {i}?",
        answers=answers,
        language=language,
        source="test",
        question_type=question_type,
    )


def test_accuracy_is_broken_down_by_type_and_language() -> None:
    records = [
        _record(0, "colour", "en", ("red",) * 10),
        _record(1, "colour", "de", ("rot",) * 10),
        _record(2, "count", "en", ("2",) * 10),
        _record(3, "count", "en", ("2",) * 3 + ("3",) * 7),
        _record(4, "shape", "en", ("star",) * 10),
    ]
    # predictions are normalised as the official script does ("Red" → "red", "two" → "2")
    report = score_vqa(records, ["Red", "blau", "two", "2", None])
    assert report.questions == 4  # the question without a prediction is left out
    # "2" among three "2"s and seven "3"s: min(#matches among the other nine / 3, 1), averaged
    partial = (7 * 1.0 + 3 * (2 / 3)) / 10
    assert report.predictions[3]["accuracy"] == pytest.approx(partial)
    assert report.by_type == {"colour": 0.5, "count": pytest.approx((1 + partial) / 2)}
    assert report.by_type_language == {
        "colour": {"de": 0.0, "en": 1.0},
        "count": {"en": pytest.approx((1 + partial) / 2)},
    }
    assert report.by_language == {"de": 0.0, "en": pytest.approx((2 + partial) / 3)}
    assert report.accuracy == pytest.approx(sum(p["accuracy"] for p in report.predictions) / 4)


def test_majority_answers_are_per_question_type_and_language_with_fall_backs() -> None:
    train = [
        _record(0, "colour", "en", ("red",) * 10),
        _record(1, "colour", "en", ("blue",) * 10),
        _record(2, "colour", "en", ("blue",) * 10),
        _record(3, "count", "en", ("1",) * 10),
        _record(4, "colour", "de", ("rot",) * 10),
    ]
    asked = [
        _record(10, "colour", "en", ("red",) * 10),
        _record(11, "count", "de", ("1",) * 10),  # no German count question: German majority
        _record(12, "shape", "sw", ("nyota",) * 10),  # nothing in Swahili: overall majority
    ]
    assert majority_answers(train, asked) == ["blue", "rot", "blue"]


def test_the_language_prior_is_the_lms_continuation_of_the_question() -> None:
    lm = tiny_lm()
    records = [_record(0, "colour", "en", ("red",) * 10), _record(1, "count", "en", ("2",) * 10)]
    answers = language_prior_answers(lm, records, max_new_tokens=4)
    assert answers == lm.generate([r.question for r in records], num_beams=1, max_new_tokens=4)


@pytest.fixture(scope="module")
def world_and_model(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("vqa")
    write_world(world_config(20, seed=5, split="iid"), folder / "world")
    encoder = load_model("clip-tiny", patch_size=16, vision_layers=1)
    model = PrefixVLM.from_parts(VisionTower.from_encoder(encoder), tiny_lm(), "pixel_shuffle")
    return folder / "world", save_model(model, folder / "model")


def test_grouped_answers_equal_asking_one_image_at_a_time(world_and_model) -> None:
    world, model_dir = world_and_model
    model = load_model(model_dir)
    records = read_dataset(f"world:{world}", kinds=(VQAExample,), split="train").of_kind(
        VQAExample
    )[:21]
    report = evaluate_vqa(model, records, batch_size=8)
    alone = [model.answer([r.image], [r.question])[0] for r in records[:6]]
    assert [row["prediction"] for row in report.predictions[:6]] == alone
    assert report.questions == 21 and not report.failed_images


def test_an_image_that_cannot_be_decoded_is_reported_and_left_out(world_and_model, tmp_path):
    world, model_dir = world_and_model
    records = read_dataset(f"world:{world}", kinds=(VQAExample,), split="train").of_kind(
        VQAExample
    )[:10]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    records[0].image = broken
    report = evaluate_vqa(load_model(model_dir), records)
    assert report.questions == 9
    assert report.failed_images[0][0] == str(broken)


def test_eval_vqa_command_reports_every_type_and_language(world_and_model, tmp_path) -> None:
    world, model_dir = world_and_model
    out = tmp_path / "answers.jsonl"
    args = ["eval", "vqa", "--model", str(model_dir), "--data", f"world:{world}"]
    result = runner.invoke(app, [*args, "--split", "train", "--predictions", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["answered_by"] == "vision-language model"
    assert set(report["by_type"]) == {"colour", "shape", "count", "existence", "relation"}
    assert set(report["by_language"]) == {"en", "de", "tr", "zh", "sw", "id", "ta"}
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == report["questions"] > 0
    table = runner.invoke(app, [*args, "--split", "train", "--languages", "en,de"])
    assert table.exit_code == 0 and "question type" in table.stdout and "ta" not in table.stdout


def test_eval_vqa_with_a_language_model_scores_the_language_prior(world_and_model, tmp_path):
    world, _ = world_and_model
    lm_dir = save_model(tiny_lm(), tmp_path / "lm")
    args = ["eval", "vqa", "--model", str(lm_dir), "--data", f"world:{world}", "--json"]
    result = runner.invoke(app, [*args, "--max-questions", "14"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["answered_by"] == "language prior (no image)" and report["questions"] == 14


def test_ask_answers_one_question_about_one_image(world_and_model) -> None:
    world, model_dir = world_and_model
    image = sorted((world / "images").glob("*.png"))[0]
    question = "What colour is the circle?"
    result = runner.invoke(app, ["ask", str(image), question, "--model", str(model_dir), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["answer"] == load_model(model_dir).answer([image], [question])[0]
    assert answer["prompt"] == "<image>" + question
    plain = runner.invoke(app, ["ask", str(image), question, "--model", str(model_dir)])
    assert plain.stdout.strip() == answer["answer"]


def test_ask_names_a_missing_image_and_refuses_a_model_without_images(world_and_model, tmp_path):
    world, model_dir = world_and_model
    missing = runner.invoke(
        app, ["ask", str(tmp_path / "none.png"), "Why?", "--model", str(model_dir)]
    )
    assert missing.exit_code != 0 and "none.png" in str(missing.exception)
    image = sorted((world / "images").glob("*.png"))[0]
    lm_dir = save_model(tiny_lm(), tmp_path / "lm")
    refused = runner.invoke(app, ["ask", str(image), "Why?", "--model", str(lm_dir)])
    assert refused.exit_code != 0 and "not a vision-language model" in str(refused.exception)


def test_a_world_in_memory_gives_the_records_and_images_of_the_written_world(world_and_model):
    world, _ = world_and_model
    in_memory = generate_world_records(world_config(20, seed=5, split="iid"), ("train", "test"))
    for split in ("train", "test"):
        on_disk = read_dataset(f"world:{world}", split=split)
        written = [
            r for r in on_disk.records if type(r).__name__ in ("VQAExample", "CaptionExample")
        ]
        assert sorted(r.id for r in written) == sorted(r.id for r in in_memory.records[split])
    examples = build_examples(in_memory.records["train"], images=in_memory.images)
    key = examples.image_keys[0]
    with Image.open(world / key) as stored:
        assert stored.convert("RGB").tobytes() == in_memory.images[key].tobytes()
    kinds = {e.kind for e in examples.examples}
    assert kinds == {"vqa", "captions"}
