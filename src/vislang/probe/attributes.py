"""Attribute probes ("Seeing What Tastes Good", Oneata, Elliott & Frank 2025).

For each attribute of an :class:`AttributeNorms` table that at least ``min_positives`` concepts
have, a logistic regression learns to tell the concepts that have it from those that do not, from
the concepts' embeddings alone (:mod:`vislang.probe.concept_embeddings`). Concepts are split by
repeated stratified k-fold (5 folds × 2 repeats, seeded): the probe is always tested on concepts
it never saw. The score is the F1-selectivity: F1 of the positive class at threshold 0.5, ×100,
minus 100·positives/concepts, the F1 of a predictor that says "yes" at random with the attribute's
base rate; 0 means the embedding tells nothing about the attribute. Scores are reported per
attribute, averaged per knowledge type (McRae's ``BR_Label``), and compared between models by the
Pearson correlation of their per-attribute scores.

The probe scales each concept vector to unit length (so one regularisation strength ``C`` suits
every encoder) and weighs the classes inversely to their frequency, so that a rare attribute is
not won by always answering "no" (which scores F1 = 0).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from vislang.console import progress
from vislang.data.schema import AttributeNorms
from vislang.errors import ConfigError
from vislang.probe.concept_embeddings import ConceptEmbeddings

MIN_POSITIVES = 10
FOLDS = 5
REPEATS = 2


def f1_selectivity(f1: float, positives: int, concepts: int) -> float:
    """F1 (in [0, 1]) ×100 minus 100·positives/concepts, the F1 of a random predictor."""
    if not 0 < positives <= concepts:
        raise ValueError(f"need 0 < positives <= concepts, got {positives} of {concepts}")
    return 100.0 * f1 - 100.0 * positives / concepts


@dataclass(frozen=True)
class ProbeSettings:
    """How each attribute is probed: folds × repeats of stratified CV, the seed of the splits,
    the fewest positive concepts an attribute needs, and the regression's inverse
    regularisation ``c``."""

    min_positives: int = MIN_POSITIVES
    folds: int = FOLDS
    repeats: int = REPEATS
    seed: int = 0
    c: float = 1.0


DEFAULT_SETTINGS = ProbeSettings()


@dataclass(frozen=True)
class AttributeScore:
    """One attribute probed on one model's concept embeddings (F1 values ×100)."""

    attribute: str
    knowledge_type: str
    positives: int
    concepts: int
    f1: float
    f1_std: float
    selectivity: float


def probe_attribute(
    vectors: np.ndarray, labels: np.ndarray, settings: ProbeSettings = DEFAULT_SETTINGS
) -> tuple[float, float]:
    """Mean and standard deviation (over folds × repeats) of the held-out F1 in [0, 1] of a
    logistic regression predicting boolean ``labels`` from ``vectors``."""
    labels = np.asarray(labels, dtype=bool)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if min(positives, negatives) < settings.folds:
        raise ValueError(
            f"{settings.folds}-fold stratified CV needs >= {settings.folds} positive and negative "
            f"concepts, got {positives} and {negatives}"
        )
    classifier = make_pipeline(
        Normalizer(),
        LogisticRegression(C=settings.c, class_weight="balanced", max_iter=2000),
    )
    splits = RepeatedStratifiedKFold(
        n_splits=settings.folds, n_repeats=settings.repeats, random_state=settings.seed
    )
    scores = cross_val_score(classifier, vectors, labels, cv=splits, scoring="f1")
    return float(scores.mean()), float(scores.std())


def probed_attributes(
    norms: AttributeNorms, concepts: Sequence[str], settings: ProbeSettings
) -> tuple[list[str], dict[str, str]]:
    """The attributes of ``norms`` probed over ``concepts`` (enough positives and negatives), and
    the reason each other attribute that has a positive among them is left out."""
    present = set(concepts)
    kept, left_out = [], {}
    for attribute in norms.attributes:
        positives = len(norms.positives.get(attribute, frozenset()) & present)
        if positives == 0:
            continue
        if positives < settings.min_positives:
            left_out[attribute] = f"{positives} positive concepts (< {settings.min_positives})"
        elif len(present) - positives < settings.folds:
            left_out[attribute] = f"{len(present) - positives} negative concepts"
        else:
            kept.append(attribute)
    return kept, left_out


def probe_attributes(
    embeddings: ConceptEmbeddings,
    norms: AttributeNorms,
    settings: ProbeSettings = DEFAULT_SETTINGS,
) -> tuple[list[AttributeScore], dict[str, str]]:
    """Probe every attribute with enough positives over the concepts ``embeddings`` covers.

    Returns the scores in table order and the attributes left out with the reason.
    """
    unknown = sorted(set(embeddings.concepts) - set(norms.concepts))
    if unknown:
        raise ConfigError(f"embeddings of concepts not in {norms.id!r}: {unknown[:5]}")
    attributes, left_out = probed_attributes(norms, embeddings.concepts, settings)
    present = set(embeddings.concepts)
    scores = []
    with progress(transient=True) as bar:
        task = bar.add_task(f"{embeddings.model}: attribute probes", total=len(attributes))
        for attribute in attributes:
            members = norms.positives[attribute] & present
            labels = np.array([c in members for c in embeddings.concepts])
            f1, f1_std = probe_attribute(embeddings.vectors, labels, settings)
            scores.append(
                AttributeScore(
                    attribute=attribute,
                    knowledge_type=norms.knowledge_type.get(attribute, "unknown"),
                    positives=len(members),
                    concepts=len(labels),
                    f1=100.0 * f1,
                    f1_std=100.0 * f1_std,
                    selectivity=f1_selectivity(f1, len(members), len(labels)),
                )
            )
            bar.advance(task)
    return scores, left_out


def by_knowledge_type(scores: Sequence[AttributeScore]) -> list[dict[str, Any]]:
    """Mean F1-selectivity and F1 per knowledge type, most selective first."""
    groups: dict[str, list[AttributeScore]] = defaultdict(list)
    for score in scores:
        groups[score.knowledge_type].append(score)
    rows = [
        {
            "knowledge_type": kind,
            "attributes": len(group),
            "selectivity": float(np.mean([s.selectivity for s in group])),
            "f1": float(np.mean([s.f1 for s in group])),
        }
        for kind, group in groups.items()
    ]
    return sorted(rows, key=lambda row: (-row["selectivity"], row["knowledge_type"]))


def score_correlations(
    scores: Mapping[str, Sequence[AttributeScore]],
) -> tuple[list[str], list[str], np.ndarray]:
    """Pearson correlations between models' per-attribute F1-selectivity, over the attributes
    every model was probed on. Returns (models, attributes, matrix); NaN where a model's scores
    are constant."""
    models = list(scores)
    by_model = {m: {s.attribute: s.selectivity for s in scores[m]} for m in models}
    common = [
        a for a in (s.attribute for s in scores[models[0]]) if all(a in by_model[m] for m in models)
    ]
    table = np.array([[by_model[m][a] for a in common] for m in models], dtype=float)
    size = len(models)
    matrix = np.full((size, size), np.nan)
    for i in range(size):
        for j in range(size):
            matrix[i, j] = _pearson(table[i], table[j]) if len(common) > 1 else math.nan
    return models, common, matrix


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


@dataclass
class ModelProbeResult:
    """One model's attribute probes on one table."""

    model: str
    source: str
    concepts: int
    scores: list[AttributeScore]
    left_out: dict[str, str]
    skipped_concepts: dict[str, str] = field(default_factory=dict)
    bad_images: list[dict[str, str]] = field(default_factory=list)

    @property
    def mean_selectivity(self) -> float:
        """Mean F1-selectivity over the probed attributes."""
        return float(np.mean([s.selectivity for s in self.scores])) if self.scores else math.nan


@dataclass
class AttributeProbeResult:
    """Attribute probes of several models on one attribute table."""

    norms: str
    settings: ProbeSettings
    models: list[ModelProbeResult]
    correlation_models: list[str]
    correlation_attributes: list[str]
    correlations: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: settings, per model the per-type table and every attribute
        score, and the correlation matrix."""
        return {
            "norms": self.norms,
            "settings": asdict(self.settings),
            "models": [
                {
                    "model": m.model,
                    "source": m.source,
                    "concepts": m.concepts,
                    "attributes": len(m.scores),
                    "mean_selectivity": _finite(m.mean_selectivity),
                    "by_knowledge_type": by_knowledge_type(m.scores),
                    "scores": [asdict(s) for s in m.scores],
                    "left_out_attributes": m.left_out,
                    "skipped_concepts": m.skipped_concepts,
                    "bad_images": m.bad_images,
                }
                for m in self.models
            ],
            "correlations": {
                "models": self.correlation_models,
                "attributes": len(self.correlation_attributes),
                "pearson": [[_finite(v) for v in row] for row in self.correlations.tolist()],
            },
        }


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def run_attribute_probes(
    embeddings: Sequence[ConceptEmbeddings],
    norms: AttributeNorms,
    settings: ProbeSettings = DEFAULT_SETTINGS,
) -> AttributeProbeResult:
    """Probe each model's concept embeddings on ``norms`` and correlate their scores."""
    if not embeddings:
        raise ConfigError("attribute probes need at least one model")
    labels = [e.model for e in embeddings]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"each model may be probed once, got {labels}")
    results = []
    for table in embeddings:
        scores, left_out = probe_attributes(table, norms, settings)
        results.append(
            ModelProbeResult(
                model=table.model,
                source=table.source,
                concepts=len(table.concepts),
                scores=scores,
                left_out=left_out,
                skipped_concepts=dict(table.skipped),
                bad_images=list(table.bad_images),
            )
        )
    models, attributes, matrix = score_correlations({r.model: r.scores for r in results})
    return AttributeProbeResult(norms.id, settings, results, models, attributes, matrix)
