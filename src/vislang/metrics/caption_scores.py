"""Caption scores of a whole evaluation set: tokenise, then BLEU-1..4, ROUGE-L and CIDEr-D.

:func:`score_captions` takes raw captions keyed by image id and returns corpus and per-image
scores together with the tokenizer used. The numbers are those of the COCO caption toolkit
(``pycocoevalcap``) on the same tokens: English is tokenised as the toolkit does (references and
predictions each in image order, as the lines of one file, like the toolkit), other languages as
:mod:`vislang.metrics.tokenize` describes. METEOR and SPICE are not computed (both need Java
programs that vislang does not ship).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vislang.metrics.bleu import bleu
from vislang.metrics.cider import cider_d
from vislang.metrics.metric_score import MetricScore
from vislang.metrics.ngrams import Tokens, count_paired
from vislang.metrics.rouge import rouge_l
from vislang.metrics.tokenize import tokenizer_for

CAPTION_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D")


@dataclass(frozen=True)
class CaptionScores:
    """Corpus and per-image caption scores, with what is needed to reproduce them."""

    language: str
    tokenizer: str
    corpus: dict[str, float]
    per_image: dict[str, dict[str, float]]  # image id -> metric -> score, in input order

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (without the per-image scores)."""
        return {
            "language": self.language,
            "tokenizer": self.tokenizer,
            "images": len(self.per_image),
            **self.corpus,
        }

    def per_image_rows(self) -> list[dict[str, Any]]:
        """One row per image: ``{"image_id": ..., "BLEU-1": ..., ...}``."""
        return [{"image_id": image, **scores} for image, scores in self.per_image.items()]


def score_tokenized(
    hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]
) -> dict[str, MetricScore]:
    """BLEU-1..4, ROUGE-L and CIDEr-D of tokenised hypotheses, keyed by metric name."""
    counts = count_paired(hypotheses, references, max_n=4)
    scores = [*bleu(hypotheses, references, counts=counts)]
    scores.append(rouge_l(hypotheses, references))
    scores.append(cider_d(hypotheses, references, counts=counts))
    return {score.name: score for score in scores}


def score_captions(
    references: Mapping[Any, Sequence[str]],
    predictions: Mapping[Any, str],
    language: str = "en",
) -> CaptionScores:
    """Score one predicted caption per image against that image's reference captions.

    Every image with a prediction needs references and every image with references a prediction
    (CIDEr-D's document frequencies depend on the set scored). Image ids are compared as strings.
    """
    refs = {str(image): list(captions) for image, captions in references.items()}
    preds = {str(image): caption for image, caption in predictions.items()}
    if not preds:
        raise ValueError("no predictions to score")
    unreferenced = [image for image in preds if image not in refs]
    if unreferenced:
        raise ValueError(f"{_some(unreferenced)} have a prediction but no references")
    unpredicted = [image for image in refs if image not in preds]
    if unpredicted:
        raise ValueError(f"{_some(unpredicted)} have references but no prediction")
    for image, captions in refs.items():
        if not captions:
            raise ValueError(f"image {image} has an empty list of references")
    images = list(preds)
    tokenize = tokenizer_for(language)
    hypotheses = tokenize([preds[image] for image in images])
    flat = tokenize([caption for image in images for caption in refs[image]])
    grouped: list[list[list[str]]] = []
    start = 0
    for image in images:
        grouped.append(flat[start : start + len(refs[image])])
        start += len(refs[image])
    scores = score_tokenized(hypotheses, grouped)
    per_image = {
        image: {name: float(scores[name].per_item[k]) for name in CAPTION_METRICS}
        for k, image in enumerate(images)
    }
    return CaptionScores(
        language=tokenize.language,
        tokenizer=tokenize.name,
        corpus={name: float(scores[name].corpus) for name in CAPTION_METRICS},
        per_image=per_image,
    )


def _some(images: list[str]) -> str:
    shown = ", ".join(images[:5])
    more = f" and {len(images) - 5} more" if len(images) > 5 else ""
    return f"{len(images)} image(s) ({shown}{more})"
