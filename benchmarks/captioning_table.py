"""The world's captioning table (docs/captioning.md): four captioners and a retrieval baseline on
the i.i.d. and the compositional test splits, in every language, measured in one run.

    python benchmarks/captioning_table.py \
        --no-retrieval runs/smallcap-world-noretrieval/model \
        --retrieval runs/smallcap-world/model \
        --english runs/smallcap-world-english/model \
        --every-reference runs/smallcap-world-every-reference/model \
        --lm runs/lm-stage0-documents/model --images 100 --out runs/captioning-table.json

Rows: (a) cross-attention without retrieval (the baseline every ratio is taken against), (b)
LMCap: the frozen language model prompted with retrieved captions and demonstrations, no training
(it retrieves from (c)'s datastore with (c)'s encoder), (c) cross-attention with retrieval, (d)
(c) trained on English captions only and evaluated in every language with target-language
retrieval, (e) (c) trained on every reference caption of its images as SmallCap and PAELLA train
(the recipes train (c) on the one most like the retrieved caption), and (r) the nearest retrieved
caption itself (no language model: what retrieval alone gives). ``--lm`` must be the language
model frozen inside (a), (c), (d) and (e): the script refuses another. Each row captions the first
``--images`` images of each test split of the world the recipes train on, in all seven languages;
CIDEr-D and BLEU-4 are averaged over the languages and over MaRVL's (id, sw, ta, tr, zh); English
captions are checked against their scenes. Prints the table, then each row's CIDEr-D on the
compositional split as a difference and a ratio to (a).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vislang.data.world.languages import LANGUAGES
from vislang.evaluate.captioning import MARVL_LANGUAGES, CaptioningReport, evaluate_captioner
from vislang.fileio import atomic_write_json
from vislang.models.caption_data import captions_world, generated_world
from vislang.models.captioners import load_captioner
from vislang.models.captioning import CaptionResult
from vislang.models.dual_encoder import DualEncoder
from vislang.models.lmcap import LMCap, LMCapConfig, demonstrations_from_images
from vislang.models.registry import load_model
from vislang.retrieval.caption_retrieval import CaptionRetriever, RetrievalConfig

SPLITS = ("test", "test_comp")
BASELINE = "a"
TITLES = {
    "a": "(a) cross-attention, no retrieval",
    "b": "(b) LMCap: prompting with retrieval, no training",
    "c": "(c) cross-attention with retrieval",
    "d": "(d) (c) trained on English only",
    "e": "(e) (c) trained on every reference",
    "r": "(r) nearest retrieved caption, no LM",
}


class NearestCaption:
    """The best retrieved caption as the caption: retrieval without a language model."""

    def __init__(self, encoder: DualEncoder) -> None:
        self.encoder = encoder

    def caption_encoded(
        self,
        features: torch.Tensor,
        embeddings: np.ndarray,
        languages: Sequence[str],
        retriever: CaptionRetriever | None = None,
        image_ids: Sequence[str | None] | None = None,
    ) -> list[CaptionResult]:
        """One result per image: its first retrieved caption in its language."""
        if retriever is None or image_ids is None:
            raise ValueError("the nearest caption needs a retriever and the images' ids")
        found = retriever.retrieve(embeddings, list(languages), image_ids)
        return [
            CaptionResult(r.captions[0] if r.captions else "", language, "", r, image_id)
            for r, language, image_id in zip(found, languages, image_ids, strict=True)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-retrieval", type=Path, required=True, help="row (a) model folder")
    parser.add_argument("--retrieval", type=Path, required=True, help="row (c) model folder")
    parser.add_argument("--english", type=Path, help="row (d) model folder")
    parser.add_argument("--every-reference", type=Path, help="row (e) model folder")
    parser.add_argument("--lm", type=Path, required=True, help="the frozen LM, for row (b)")
    parser.add_argument("--images", type=int, default=100, help="images per test split")
    parser.add_argument("--scenes", type=int, default=12000, help="the recipes' world")
    parser.add_argument("--world-seed", type=int, default=0)
    parser.add_argument("--shots", type=int, default=1, help="LMCap demonstrations")
    parser.add_argument("--lmcap-k", type=int, default=3, help="LMCap retrieved captions")
    parser.add_argument("--out", type=Path, help="write every number as JSON here")
    args = parser.parse_args()

    languages = list(LANGUAGES)
    world = generated_world(
        captions_world(args.scenes, args.world_seed, "compositional"), ["train", *SPLITS]
    )
    tests = {split: world[split][: args.images] for split in SPLITS}
    lm = load_model(args.lm)
    rows: dict[str, dict[str, Any]] = {}

    def evaluate(name: str, captioner: Any, retriever: Any, options: dict | None = None) -> None:
        started = time.perf_counter()
        reports = {
            split: evaluate_captioner(
                captioner, images, languages, retriever=retriever, caption_options=options
            )
            for split, images in tests.items()
        }
        rows[name]["seconds"] = round(time.perf_counter() - started, 1)
        rows[name].update({split: _numbers(report) for split, report in reports.items()})
        print(f"{TITLES[name]}: evaluated in {rows[name]['seconds']} s", flush=True)

    trained = {
        "a": args.no_retrieval,
        "c": args.retrieval,
        "d": args.english,
        "e": args.every_reference,
    }
    loaded = {}
    for name, folder in trained.items():
        if folder is None:
            continue
        loaded[name] = load_captioner(folder, languages=languages)
        if not _same_weights(loaded[name].captioner.lm.model, lm.model):
            raise SystemExit(f"{folder}: its frozen language model is not {args.lm}")
        record = json.loads((folder / "training.json").read_text(encoding="utf-8"))
        rows[name] = {
            "model": folder.as_posix(),
            "trained_parameters": record["parameters"]["trainable"],
            "training_captions": record["training_captions"],
            "training_languages": record["languages"],
        }
        evaluate(name, loaded[name].captioner, loaded[name].retriever)

    retriever = loaded["c"].retriever
    encoder = loaded["c"].captioner.encoder
    lmcap = LMCap(
        lm,
        encoder,
        LMCapConfig(
            prompt_set="world-paragraph-lmcap",
            shots=args.shots,
            retrieval=RetrievalConfig(search_k=15, keep=args.lmcap_k, max_caption_tokens=25),
            max_new_tokens=25,
        ),
    )
    lmcap_retriever = CaptionRetriever(
        retriever.store, encoder, lmcap.config.retrieval, retriever.count_tokens
    )
    demonstrations = demonstrations_from_images(lmcap, lmcap_retriever, world["train"], languages)
    rows["b"] = {"model": args.lm.as_posix(), "trained_parameters": 0, "training_captions": 0}
    evaluate("b", lmcap, lmcap_retriever, {"demonstrations": demonstrations})
    rows["r"] = {"model": "nearest caption", "trained_parameters": 0, "training_captions": 0}
    evaluate("r", NearestCaption(encoder), retriever)

    result = {"images_per_split": args.images, "languages": languages, "rows": rows}
    if args.out is not None:
        atomic_write_json(args.out, result)
    print(markdown_table(result))
    print()
    print(against_baseline(result))


def _same_weights(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    """Whether two language models hold the same input embeddings (the same trained model)."""
    a, b = first.get_input_embeddings().weight, second.get_input_embeddings().weight
    return a.shape == b.shape and bool(torch.equal(a, b))


def _numbers(report: CaptioningReport) -> dict[str, Any]:
    return {
        "mean": report.mean(),
        "mean_marvl": report.mean(MARVL_LANGUAGES),
        "languages": report.languages,
        "english_truth": report.english_truth,
        "examples": [r.to_dict() for r in report.results if r.language == "en"][:5],
    }


def markdown_table(result: dict[str, Any]) -> str:
    """The table of docs/captioning.md (CIDEr-D and BLEU-4 ×100)."""
    lines = [
        "| system | trained params | training captions | iid CIDEr-D | iid MaRVL | iid BLEU-4 "
        "| comp. CIDEr-D | comp. MaRVL | comp. BLEU-4 | English true iid / comp. |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in sorted(result["rows"]):
        row = result["rows"][name]
        cells = []
        for split in SPLITS:
            numbers = row[split]
            cells += [
                f"{100 * numbers['mean']['CIDEr-D']:.1f}",
                f"{100 * numbers['mean_marvl']['CIDEr-D']:.1f}",
                f"{100 * numbers['mean']['BLEU-4']:.1f}",
            ]
        truth = " / ".join(f"{row[split]['english_truth']['share_true']:.0%}" for split in SPLITS)
        lines.append(
            f"| {TITLES[name]} | {row['trained_parameters']:,} | {row['training_captions']:,} | "
            + " | ".join(cells)
            + f" | {truth} |"
        )
    return "\n".join(lines)


def against_baseline(result: dict[str, Any]) -> str:
    """Each row's compositional CIDEr-D over all languages against (a)'s: difference and ratio."""
    rows = result["rows"]
    baseline = rows[BASELINE]["test_comp"]["mean"]["CIDEr-D"]
    lines = [f"compositional CIDEr-D over all languages against {TITLES[BASELINE]}:"]
    for name in sorted(rows):
        score = rows[name]["test_comp"]["mean"]["CIDEr-D"]
        ratio = f"{score / baseline:.2f}x" if baseline > 0 else "n/a"
        lines.append(f"  {TITLES[name]}: {100 * (score - baseline):+.1f} ({ratio})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
