"""Evaluation of captioners: CIDEr-D, BLEU and ROUGE-L per language, and English truth.

:func:`evaluate_captioner` captions every image in every evaluation language (beam search), scores
the captions of each language against that language's references with
:func:`vislang.metrics.caption_scores.score_captions` (per-language tokenisation; CIDEr-D's
document frequencies from that language's references), and averages over the languages and over
MaRVL's languages (id, sw, ta, tr, zh) present. For images of the synthetic world it also checks
each generated English caption against the image's structured scene
(:mod:`vislang.evaluate.world_truth`) and reports the share that is true (and the share that reads
as a world caption at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vislang import console
from vislang.errors import ConfigError
from vislang.evaluate.world_truth import english_caption_truth
from vislang.metrics.caption_scores import CAPTION_METRICS, score_captions
from vislang.models.caption_data import CaptionedImage, EncodedImages, encode_images
from vislang.models.captioning import Captioner, CaptionResult
from vislang.retrieval.caption_retrieval import CaptionRetriever

MARVL_LANGUAGES = ("id", "sw", "ta", "tr", "zh")
"""The languages of MaRVL, averaged separately as PAELLA averages its low-resource languages."""

REPORTED_METRICS = ("CIDEr-D", "BLEU-4", "BLEU-1", "ROUGE-L")


@dataclass
class CaptioningReport:
    """Scores per language, the captions with their prompts, and the English truth check."""

    languages: dict[str, dict[str, float]]
    results: list[CaptionResult]
    english_truth: dict[str, float] | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    def mean(self, languages: Sequence[str] | None = None) -> dict[str, float]:
        """Each metric averaged over ``languages`` (default: all scored ones); empty when none
        of them was scored."""
        chosen = [code for code in (languages or self.languages) if code in self.languages]
        if not chosen:
            return {}
        return {
            name: sum(self.languages[code][name] for code in chosen) / len(chosen)
            for name in REPORTED_METRICS
        }

    def metrics(self) -> dict[str, float]:
        """Flat metrics for logs: the means (``CIDEr-D``, ``BLEU-4``, ...), the MaRVL means
        (``CIDEr-D_marvl``), each language's CIDEr-D and BLEU-4 (``CIDEr-D_de``) and the share of
        English captions true of their scene (``english_true``)."""
        metrics = dict(self.mean())
        metrics.update({f"{k}_marvl": v for k, v in self.mean(MARVL_LANGUAGES).items()})
        for code, scores in self.languages.items():
            metrics.update({f"{name}_{code}": scores[name] for name in ("CIDEr-D", "BLEU-4")})
        if self.english_truth is not None:
            metrics["english_true"] = self.english_truth["share_true"]
            metrics["english_parsed"] = self.english_truth["share_parsed"]
        return metrics

    def to_dict(self, with_results: bool = True) -> dict[str, Any]:
        """JSON-ready: per-language scores, means, truth, and (optionally) every caption."""
        data: dict[str, Any] = {
            "languages": self.languages,
            "mean": self.mean(),
            "mean_marvl": self.mean(MARVL_LANGUAGES),
            "english_truth": self.english_truth,
            "failed_images": [{"source": s, "reason": r} for s, r in self.failures],
        }
        if with_results:
            data["captions"] = [result.to_dict() for result in self.results]
        return data


def evaluate_captioner(
    captioner: Captioner,
    images: Sequence[CaptionedImage],
    languages: Sequence[str],
    *,
    retriever: CaptionRetriever | None = None,
    encoded: EncodedImages | None = None,
    batch_size: int = 32,
    caption_options: Mapping[str, Any] | None = None,
    show_progress: bool = False,
) -> CaptioningReport:
    """Caption ``images`` in each of ``languages`` and score them against their references.

    ``encoded`` are the images' encodings by the captioner's encoder, when already computed
    (their ``kept`` rows then index ``images``); ``caption_options`` go to the captioner's
    ``caption_encoded`` (e.g. LMCap's ``demonstrations``). Images without references in a
    language are not captioned in it.
    """
    if encoded is None:
        encoded = encode_images(captioner.encoder, images, batch_size=batch_size)
    kept = [images[i] for i in encoded.kept] if len(encoded.kept) != len(images) else list(images)
    jobs = [
        (row, language)
        for language in languages
        for row, item in enumerate(kept)
        if item.captions.get(language)
    ]
    if not jobs:
        raise ConfigError(f"no image has reference captions in {', '.join(languages)}")
    results: list[CaptionResult] = []
    with console.progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task("captioning", total=len(jobs))
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            rows = [row for row, _ in chunk]
            results += captioner.caption_encoded(
                encoded.features[rows],
                encoded.embeddings[rows],
                [language for _, language in chunk],
                retriever,
                [kept[row].image_id for row in rows],
                **dict(caption_options or {}),
            )
            bar.advance(task, len(chunk))
    by_language: dict[str, dict[str, float]] = {}
    for language in languages:
        pairs = [
            (kept[row], r) for (row, lang), r in zip(jobs, results, strict=True) if lang == language
        ]
        if not pairs:
            continue
        scores = score_captions(
            {item.image_id: item.captions[language] for item, _ in pairs},
            {item.image_id: result.caption for item, result in pairs},
            language,
        )
        by_language[language] = {name: scores.corpus[name] for name in CAPTION_METRICS}
        by_language[language]["images"] = float(len(pairs))
    truth = _english_truth(kept, jobs, results) if "en" in languages else None
    return CaptioningReport(by_language, results, truth, list(encoded.failures))


def _english_truth(
    images: Sequence[CaptionedImage],
    jobs: Sequence[tuple[int, str]],
    results: Sequence[CaptionResult],
) -> dict[str, float] | None:
    """Shares of English captions that read as world captions and that are true of the scene
    (over the images whose scene is known); ``None`` when no scene is known."""
    verdicts = [
        english_caption_truth(result.caption, images[row].scene)
        for (row, language), result in zip(jobs, results, strict=True)
        if language == "en" and images[row].scene is not None
    ]
    if not verdicts:
        return None
    checked = len(verdicts)
    return {
        "checked": float(checked),
        "share_true": verdicts.count("true") / checked,
        "share_false": verdicts.count("false") / checked,
        "share_parsed": (checked - verdicts.count("unparsed")) / checked,
    }


__all__ = ["MARVL_LANGUAGES", "CaptioningReport", "evaluate_captioner"]
