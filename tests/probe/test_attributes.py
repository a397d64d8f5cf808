"""Attribute probes on hand-built tables: F1-selectivity, probe plumbing, grouping, correlations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.preprocessing import normalize

from vislang.data.schema import AttributeNorms
from vislang.errors import ConfigError
from vislang.probe.attributes import (
    ProbeSettings,
    by_knowledge_type,
    f1_selectivity,
    probe_attribute,
    probed_attributes,
    run_attribute_probes,
    score_correlations,
)
from vislang.probe.concept_embeddings import ConceptEmbeddings, concept_text, short_names

CONCEPTS = 60


def _norms() -> AttributeNorms:
    """60 concepts; "striped" (20 positives, visual), "a_tool" (30, taxonomic), "rare" (4)."""
    concepts = tuple(f"c{i:02d}" for i in range(CONCEPTS))
    positives = {
        "striped": frozenset(concepts[:20]),
        "a_tool": frozenset(concepts[::2]),
        "rare": frozenset(concepts[:4]),
    }
    return AttributeNorms(
        id="hand",
        concepts=concepts,
        attributes=("striped", "a_tool", "rare"),
        knowledge_type={
            "striped": "visual-form_and_surface",
            "a_tool": "taxonomic",
            "rare": "smell",
        },
        positives=positives,
        language="en",
        source="test",
    )


def _separable(norms: AttributeNorms, seed: int = 1) -> ConceptEmbeddings:
    """Each attribute is one coordinate (+1 / -1) plus small noise, in 8 dimensions."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(0.0, 0.1, size=(CONCEPTS, 8))
    for column, attribute in enumerate(norms.attributes):
        members = norms.positives[attribute]
        vectors[:, column] += [1.0 if c in members else -1.0 for c in norms.concepts]
    return ConceptEmbeddings("separable", "text", norms.concepts, vectors.astype(np.float32))


def _random(norms: AttributeNorms, seed: int = 2) -> ConceptEmbeddings:
    vectors = np.random.default_rng(seed).normal(size=(CONCEPTS, 8)).astype(np.float32)
    return ConceptEmbeddings("random", "text", norms.concepts, vectors)


def test_f1_selectivity_is_f1_minus_the_base_rate() -> None:
    # 12 positives among 48 concepts; a probe finds 9 of them and raises 3 false alarms:
    # precision 9/12, recall 9/12, F1 0.75; a random predictor's F1 is 12/48 = 0.25.
    precision = recall = 9 / 12
    f1 = 2 * precision * recall / (precision + recall)
    assert f1_selectivity(f1, positives=12, concepts=48) == pytest.approx(75.0 - 25.0)
    assert f1_selectivity(0.0, positives=1, concepts=4) == pytest.approx(-25.0)
    with pytest.raises(ValueError, match="positives"):
        f1_selectivity(0.5, positives=0, concepts=10)


def test_probe_f1_equals_a_hand_run_of_the_folds() -> None:
    norms = _norms()
    table = _random(norms, seed=5)
    labels = np.array([c in norms.positives["striped"] for c in norms.concepts])
    settings = ProbeSettings(seed=3)
    f1, f1_std = probe_attribute(table.vectors, labels, settings)

    fold_f1 = []
    splits = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=3)
    for train, test in splits.split(table.vectors, labels):
        unit = normalize(table.vectors)  # each row to length 1
        model = LogisticRegression(class_weight="balanced", max_iter=2000)
        model.fit(unit[train], labels[train])
        predicted = model.predict(unit[test])
        true_pos = int(np.sum(predicted & labels[test]))
        false_pos = int(np.sum(predicted & ~labels[test]))
        false_neg = int(np.sum(~predicted & labels[test]))
        fold_f1.append(2 * true_pos / (2 * true_pos + false_pos + false_neg))
    assert len(fold_f1) == 10
    assert f1 == pytest.approx(np.mean(fold_f1))
    assert f1_std == pytest.approx(np.std(fold_f1))


def test_separable_embeddings_are_selective_and_random_ones_are_not() -> None:
    norms = _norms()
    result = run_attribute_probes([_separable(norms), _random(norms)], norms)
    separable, random = result.models
    assert [s.attribute for s in separable.scores] == ["striped", "a_tool"]
    assert separable.left_out == {"rare": "4 positive concepts (< 10)"}
    for score in separable.scores:
        assert score.f1 == pytest.approx(100.0)
        assert score.selectivity == pytest.approx(100.0 - 100.0 * score.positives / CONCEPTS)
    for score in random.scores:
        assert abs(score.selectivity) < 20.0, score
    assert random.mean_selectivity < separable.mean_selectivity - 40.0


def test_same_seed_same_scores_and_another_seed_other_folds() -> None:
    norms = _norms()
    table = _random(norms)
    first = run_attribute_probes([table], norms, ProbeSettings(seed=7)).to_dict()
    again = run_attribute_probes([table], norms, ProbeSettings(seed=7)).to_dict()
    other = run_attribute_probes([table], norms, ProbeSettings(seed=8)).to_dict()
    assert first == again
    assert first["models"][0]["scores"] != other["models"][0]["scores"]


def test_scores_grouped_by_knowledge_type() -> None:
    norms = _norms()
    scores = run_attribute_probes([_separable(norms)], norms).models[0].scores
    rows = by_knowledge_type(scores)
    assert [r["knowledge_type"] for r in rows] == ["visual-form_and_surface", "taxonomic"]
    assert rows[0]["selectivity"] == pytest.approx(100.0 - 100.0 * 20 / 60)
    assert rows[1]["selectivity"] == pytest.approx(50.0)
    assert [r["attributes"] for r in rows] == [1, 1]


def test_correlations_of_per_attribute_scores() -> None:
    norms = AttributeNorms(
        id="three",
        concepts=tuple(f"c{i:02d}" for i in range(CONCEPTS)),
        attributes=("a", "b", "c"),
        knowledge_type=dict.fromkeys("abc", "taxonomic"),
        positives={
            "a": frozenset(f"c{i:02d}" for i in range(10)),
            "b": frozenset(f"c{i:02d}" for i in range(20)),
            "c": frozenset(f"c{i:02d}" for i in range(30)),
        },
        language="en",
        source="test",
    )
    separable = _separable(norms)
    shuffled = ConceptEmbeddings("shuffled", "text", norms.concepts, separable.vectors[::-1].copy())
    result = run_attribute_probes([separable, _random(norms), shuffled], norms)
    models, attributes, matrix = score_correlations({m.model: m.scores for m in result.models})
    assert models == ["separable", "random", "shuffled"]
    assert attributes == ["a", "b", "c"]
    assert np.allclose(np.diag(matrix), 1.0)
    assert np.allclose(matrix, matrix.T)
    # the separable scores fall with the base rate: 90, 66.7, 50 (all F1 = 100)
    sep = [s.selectivity for s in result.models[0].scores]
    rnd = [s.selectivity for s in result.models[1].scores]
    assert matrix[0, 1] == pytest.approx(np.corrcoef(sep, rnd)[0, 1])


def test_constant_scores_have_no_correlation() -> None:
    norms = _norms()
    half = AttributeNorms(
        id="half",
        concepts=norms.concepts,
        attributes=("x", "y"),
        knowledge_type={"x": "taxonomic", "y": "taxonomic"},
        positives={"x": frozenset(norms.concepts[:30]), "y": frozenset(norms.concepts[30:])},
        language="en",
        source="test",
    )
    vectors = np.zeros((CONCEPTS, 2), dtype=np.float32)
    vectors[:30, 0] = 1.0
    vectors[30:, 1] = 1.0
    perfect = ConceptEmbeddings("perfect", "text", half.concepts, vectors)
    result = run_attribute_probes([perfect, _random(half)], half)
    assert [s.selectivity for s in result.models[0].scores] == [50.0, 50.0]
    assert math.isnan(result.correlations[0, 1])
    assert result.to_dict()["correlations"]["pearson"][0][1] is None


def test_attributes_need_positives_and_negatives_over_the_embedded_concepts() -> None:
    norms = _norms()
    kept, left_out = probed_attributes(norms, norms.concepts[:22], ProbeSettings())
    # over c00..c21: "striped" has 20 positives but only 2 negatives, "a_tool" 11 and 11
    assert kept == ["a_tool"]
    assert left_out == {"striped": "2 negative concepts", "rare": "4 positive concepts (< 10)"}


def test_bad_inputs_are_refused() -> None:
    norms = _norms()
    with pytest.raises(ConfigError, match="at least one model"):
        run_attribute_probes([], norms)
    with pytest.raises(ConfigError, match="once"):
        run_attribute_probes([_random(norms), _random(norms)], norms)
    stranger = ConceptEmbeddings("x", "text", ("zebra",), np.zeros((1, 2), dtype=np.float32))
    with pytest.raises(ConfigError, match="not in 'hand'"):
        run_attribute_probes([stranger], norms)


def test_concept_text_and_short_names() -> None:
    mcrae_like = _norms()
    assert concept_text(mcrae_like, "bat_(animal)") == "bat"
    assert concept_text(mcrae_like, "fire_hydrant") == "fire hydrant"
    things_like = AttributeNorms(
        id="t",
        concepts=("bat1",),
        attributes=(),
        knowledge_type={},
        positives={},
        language="en",
        source="things",
        meta={"words": {"bat1": "bat"}},
    )
    assert concept_text(things_like, "bat1") == "bat"
    assert short_names(["runs/a/model", "random:runs/a/model", "minilm"]) == {
        "runs/a/model": "a",
        "random:runs/a/model": "random:a",
        "minilm": "minilm",
    }
    assert short_names(["x/a/model", "y/a/model"]) == {
        "x/a/model": "x/a/model",
        "y/a/model": "y/a/model",
    }


def test_an_embedding_of_the_other_factor_scores_below_chance() -> None:
    # 6 shapes x 8 colours, as in the world: "pointed" holds for 2 shapes (16 of 48 concepts).
    # Held-out concepts of one colour leave that colour under-represented among the training
    # positives, so a probe that can only see colour learns the wrong sign: selectivity < 0.
    concepts = tuple(f"{colour}-{shape}" for colour in range(8) for shape in range(6))
    norms = AttributeNorms(
        id="factorial",
        concepts=concepts,
        attributes=("pointed", "warm"),
        knowledge_type={"pointed": "visual-form_and_surface", "warm": "visual-colour"},
        positives={
            "pointed": frozenset(c for c in concepts if int(c.split("-")[1]) < 2),
            "warm": frozenset(c for c in concepts if int(c.split("-")[0]) < 3),
        },
        language="en",
        source="test",
    )
    colour_only = np.zeros((len(concepts), 8))
    for row, concept in enumerate(concepts):
        colour_only[row, int(concept.split("-")[0])] = 1.0
    colour_only += np.random.default_rng(0).normal(0.0, 0.01, colour_only.shape)
    table = ConceptEmbeddings("colour-only", "images", concepts, colour_only)
    scores = {s.attribute: s for s in run_attribute_probes([table], norms).models[0].scores}
    assert scores["warm"].f1 == pytest.approx(100.0)
    assert scores["pointed"].selectivity < -10.0
