"""Helpers for the caption metric tests: real captions and the COCO toolkit's scores."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

XFLICKRCO_LANGUAGES = ("de", "en", "es", "id", "ja", "ru", "tr", "zh")


def coco_captions(shared_data: Path) -> dict[int, list[str]]:
    """Human captions of the coco-mini images (train and val), per image id, in file order."""
    captions: dict[int, list[str]] = {}
    for split in ("train2017", "val2017"):
        path = shared_data / "coco-mini" / "annotations" / f"captions_{split}.json"
        for annotation in json.loads(path.read_text(encoding="utf-8"))["annotations"]:
            captions.setdefault(annotation["image_id"], []).append(annotation["caption"])
    return captions


def xflickrco_captions(shared_data: Path, language: str) -> list[str]:
    """The xFlickr&CO test captions of one language, one per image, in file order."""
    path = shared_data / "xflickrco" / f"test-{language}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [caption for line in lines for caption in json.loads(line)["sentences"]]


def leave_one_out(
    groups: Sequence[Sequence[Sequence[str]]],
) -> tuple[list[Sequence[str]], list[list[Sequence[str]]]]:
    """Each caption of a group as the hypothesis, the other captions of its group as references."""
    hypotheses: list[Sequence[str]] = []
    references: list[list[Sequence[str]]] = []
    for group in groups:
        for k, caption in enumerate(group):
            hypotheses.append(caption)
            references.append([other for j, other in enumerate(group) if j != k])
    return hypotheses, references


def toolkit_scores(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]]
) -> dict[str, tuple[float, np.ndarray]]:
    """pycocoevalcap's BLEU-1..4, ROUGE-L and CIDEr-D (corpus, per item) on the same tokens."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    res = {i: [" ".join(tokens)] for i, tokens in enumerate(hypotheses)}
    gts = {i: [" ".join(tokens) for tokens in refs] for i, refs in enumerate(references)}
    bleu, bleu_items = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"BLEU-{k + 1}": (bleu[k], np.asarray(bleu_items[k])) for k in range(4)}
    rouge, rouge_items = Rouge().compute_score(gts, res)
    out["ROUGE-L"] = (float(rouge), np.asarray(rouge_items))
    cider, cider_items = Cider().compute_score(gts, res)
    out["CIDEr-D"] = (float(cider), np.asarray(cider_items))
    return out
