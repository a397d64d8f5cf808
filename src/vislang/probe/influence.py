"""Modality influence of a visual-prefix VLM on a generated world's captions and answers.

:func:`influence_examples` draws reference texts (answers to VQA questions and captions) with
their images from a dataset whose images have structured scenes beside them (a world folder);
:func:`measure_influence` runs two probes on them, batch by batch:

- :func:`vislang.probe.attention_mass.attention_mass`: from the positions that predict the
  reference text, the attention mass on image tokens vs text tokens per layer and head;
- :func:`vislang.probe.ablation.ablation_log_likelihoods`: the text's log-likelihood with the
  image intact, with its objects masked, and with no image.

The :class:`InfluenceReport` averages both over the examples (overall and per kind),
:meth:`InfluenceReport.to_dict` gives the JSON form with every example's numbers, and
:func:`plot_attention_by_layer` draws the per-layer image mass.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vislang.console import progress
from vislang.data.images import load_image, source_label
from vislang.data.schema import CaptionExample, VQAExample
from vislang.errors import ConfigError, VislangError
from vislang.fileio import atomic_write_bytes
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.vlm_data import build_examples, sample_pool
from vislang.probe.ablation import CONDITIONS, AblationScores, ablation_log_likelihoods
from vislang.probe.attention_mass import AttentionMass, attention_mass, require_joint_attention
from vislang.probe.object_masking import masked_world_image


@dataclass(frozen=True)
class InfluenceExample:
    """One reference text with its image: ``kind`` is ``"vqa"`` (``question`` asked, ``text``
    the most frequent answer) or ``"captions"`` (``text`` one caption, ``question`` empty)."""

    image: Path
    kind: str
    question: str
    text: str
    language: str
    question_type: str | None = None

    def prompt(self, model: PrefixVLM) -> str:
        """The model's prompt for this example (its question or caption template)."""
        if self.kind == "vqa":
            return model.question_prompt(self.question)
        return model.caption_prompt(self.language)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the image as a path string)."""
        return {
            "image": str(self.image),
            "kind": self.kind,
            "question": self.question,
            "text": self.text,
            "language": self.language,
            "question_type": self.question_type,
        }


@dataclass
class InfluenceReport:
    """Both probes' results on the examples that could be measured (``skipped`` lists
    ``(image, reason)`` for the ones whose image or scene could not be read)."""

    examples: list[InfluenceExample]
    attention: AttentionMass
    ablation: list[AblationScores]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def per_layer(self, kind: str | None = None) -> list[dict[str, float]]:
        """Per layer: the mean image and text mass over examples (of ``kind``) and heads, and the
        mean image share of the keys (the uniform-attention reference)."""
        chosen = self._indices(kind)
        image = self.attention.image[chosen].mean(axis=(0, 2))
        text = self.attention.text[chosen].mean(axis=(0, 2))
        share = float(self.attention.image_share[chosen].mean())
        return [
            {"layer": layer, "image": float(i), "text": float(t), "uniform_image": share}
            for layer, (i, t) in enumerate(zip(image, text, strict=True))
        ]

    def per_head(self) -> list[list[float]]:
        """``[layer][head]``: the mean image mass over all examples."""
        return self.attention.image.mean(axis=0).tolist()

    def ablation_means(
        self, kind: str | None = None, question_type: str | None = None
    ) -> dict[str, dict[str, float]]:
        """Per condition: the mean summed log-likelihood (``total``) and the mean per-token
        log-likelihood (``per_token``) over the examples (of ``kind``, of ``question_type``)."""
        chosen = self._indices(kind, question_type)
        means = {}
        for name in CONDITIONS:
            scores = [self.ablation[i].condition(name) for i in chosen]
            means[name] = {
                "total": float(np.mean([s.total for s in scores])),
                "per_token": float(np.mean([s.mean for s in scores])),
            }
        return means

    def ablation_wins(
        self, kind: str | None = None, question_type: str | None = None
    ) -> dict[str, float]:
        """Share of examples (of ``kind``, of ``question_type``) whose text is likelier with the
        intact image than with the objects masked (``intact_over_masked``) and than with no
        image (``intact_over_no_image``)."""
        chosen = self._indices(kind, question_type)
        rows = [self.ablation[i] for i in chosen]
        return {
            "intact_over_masked": float(np.mean([r.intact.total > r.masked.total for r in rows])),
            "intact_over_no_image": float(
                np.mean([r.intact.total > r.no_image.total for r in rows])
            ),
        }

    def kinds(self) -> list[str]:
        """The kinds of example measured, in first-seen order."""
        return list(dict.fromkeys(example.kind for example in self.examples))

    def question_types(self) -> list[str]:
        """The question types of the VQA examples measured, sorted."""
        return sorted({e.question_type for e in self.examples if e.question_type is not None})

    def to_dict(self, per_example: bool = True) -> dict[str, Any]:
        """The summary (overall and per kind) and, with ``per_example``, every example's
        per-layer image mass and three log-likelihoods."""
        result: dict[str, Any] = {
            "examples": len(self.examples),
            "kinds": {kind: len(self._indices(kind)) for kind in self.kinds()},
            "attention": {
                "per_layer": self.per_layer(),
                "per_head_image": self.per_head(),
                "by_kind": {kind: self.per_layer(kind) for kind in self.kinds()},
            },
            "ablation": {
                "mean": self.ablation_means(),
                "wins": self.ablation_wins(),
                "by_kind": {
                    kind: {"mean": self.ablation_means(kind), "wins": self.ablation_wins(kind)}
                    for kind in self.kinds()
                },
                "by_question_type": {
                    name: {
                        "examples": len(self._indices(question_type=name)),
                        "mean": self.ablation_means(question_type=name),
                        "wins": self.ablation_wins(question_type=name),
                    }
                    for name in self.question_types()
                },
            },
            "skipped": [{"image": image, "reason": reason} for image, reason in self.skipped],
        }
        if per_example:
            result["per_example"] = [
                {
                    **example.to_dict(),
                    "image_mass_per_layer": self.attention.image[i].mean(axis=1).tolist(),
                    "log_likelihood": {
                        name: scores.condition(name)._asdict() for name in CONDITIONS
                    },
                }
                for i, (example, scores) in enumerate(
                    zip(self.examples, self.ablation, strict=True)
                )
            ]
        return result

    def _indices(self, kind: str | None = None, question_type: str | None = None) -> list[int]:
        chosen = [
            i
            for i, e in enumerate(self.examples)
            if (kind is None or e.kind == kind)
            and (question_type is None or e.question_type == question_type)
        ]
        if not chosen:
            raise ValueError(f"no example of kind {kind!r} and question type {question_type!r}")
        return chosen


def influence_examples(
    data: str,
    *,
    split: str | None = "test",
    n: int = 300,
    seed: int = 0,
    languages: Sequence[str] | None = None,
) -> list[InfluenceExample]:
    """``n`` examples (all when ``n`` is 0) drawn with ``seed`` from the answers and captions of
    ``data`` (``"FORMAT:PATH"``) in ``split``; records with missing images or malformed items are
    left out (a reader skips them)."""
    from vislang.data.readers import read_dataset

    dataset = read_dataset(
        data,
        kinds=(VQAExample, CaptionExample),
        split=split,
        languages=list(languages) if languages else None,
        on_missing_image="skip",
        on_bad_item="skip",
    )
    table = build_examples(dataset.of_kind(VQAExample) + dataset.of_kind(CaptionExample))
    if not table.examples:
        where = f" in split {split!r}" if split else ""
        raise ConfigError(f"{data}: no questions with answers or captions{where}")
    return [
        InfluenceExample(
            Path(table.sources[e.image]), e.kind, e.text, e.target, e.language, e.question_type
        )
        for e in sample_pool(table.examples, n, seed)
    ]


def measure_influence(
    model: PrefixVLM,
    examples: Sequence[InfluenceExample],
    *,
    batch_size: int = 16,
    show_progress: bool = True,
) -> InfluenceReport:
    """Attention mass and the three-condition ablation on every example whose image and
    structured scene can be read (the others are listed in ``skipped``)."""
    model = require_joint_attention(model)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    kept: list[InfluenceExample] = []
    masses: list[AttentionMass] = []
    scores: list[AblationScores] = []
    skipped: list[tuple[str, str]] = []
    with progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task("modality influence", total=len(examples))
        for start in range(0, len(examples), batch_size):
            chunk, intact, masked = _load_images(examples[start : start + batch_size], skipped)
            if chunk:
                texts = [" " + example.text for example in chunk]
                prompts = [example.prompt(model) for example in chunk]
                pixels = model.load_pixels(intact)
                masked_pixels = model.load_pixels(masked)
                masses.append(attention_mass(model, texts, prompts, pixels))
                scores += ablation_log_likelihoods(model, texts, prompts, pixels, masked_pixels)
                kept += chunk
            bar.advance(task, len(examples[start : start + batch_size]))
    if not kept:
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise ConfigError(f"no example could be measured{first}")
    return InfluenceReport(kept, AttentionMass.concatenate(masses), scores, skipped)


def plot_attention_by_layer(report: InfluenceReport, path: str | Path, title: str = "") -> Path:
    """A PNG of the mean image-token attention mass per layer (bars), every head's mean (dots)
    and the uniform-attention reference (dashed line); written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = report.per_layer()
    heads = np.asarray(report.per_head())
    layers = np.arange(len(rows))
    figure, axes = plt.subplots(figsize=(1.2 * len(rows) + 3, 3.6))
    axes.bar(layers, [row["image"] for row in rows], color="#4477aa", label="image (mean of heads)")
    for head in range(heads.shape[1]):
        axes.scatter(
            layers,
            heads[:, head],
            color="#222222",
            s=10,
            zorder=3,
            label="one head" if head == 0 else None,
        )
    axes.axhline(
        rows[0]["uniform_image"], color="#cc6677", linestyle="--", label="uniform attention"
    )
    axes.set_xticks(layers)
    axes.set_xlabel("layer")
    axes.set_ylabel("attention mass on image tokens")
    axes.set_ylim(0, 1)
    axes.set_title(
        title or f"Attention to the image from the text ({report.attention.examples} examples)"
    )
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    plt.close(figure)
    target = Path(path)
    atomic_write_bytes(target, buffer.getvalue())
    return target


def _load_images(
    examples: Sequence[InfluenceExample], skipped: list[tuple[str, str]]
) -> tuple[list[InfluenceExample], list[Any], list[Any]]:
    """The examples whose image and scene could be read, their images and their masked images;
    the others are appended to ``skipped``."""
    kept, intact, masked = [], [], []
    for example in examples:
        try:
            image = load_image(example.image)
            hidden = masked_world_image(image, example.image)
        except VislangError as error:
            skipped.append((source_label(example.image), str(error)))
            continue
        kept.append(example)
        intact.append(image)
        masked.append(hidden)
    return kept, intact, masked


__all__ = [
    "InfluenceExample",
    "InfluenceReport",
    "influence_examples",
    "measure_influence",
    "plot_attention_by_layer",
]
