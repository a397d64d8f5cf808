"""Attribute probes fed by the real readers: McRae norms with the packaged MiniLM sentence
encoder against its random-init control, THINGS categories with a tiny dual encoder's text tower."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vislang.probe.attribute_job import read_norms, run_attribute_job
from vislang.probe.attributes import ProbeSettings
from vislang.probe.concept_embeddings import concept_embeddings, load_concept_encoder


@pytest.fixture(scope="module")
def mcrae(shared_data: Path):
    return read_norms(f"mcrae:{shared_data / 'mcrae'}")


def test_minilm_reads_mcrae_attributes_that_its_random_init_cannot(mcrae) -> None:
    # attributes with >= 80 of 541 concepts: an_animal, is_large, is_long, is_small, made_of_metal
    settings = ProbeSettings(min_positives=80)
    result = run_attribute_job(["minilm", "random:minilm"], mcrae, "text", settings)
    pretrained, control = result.models
    assert pretrained.concepts == control.concepts == 541
    assert [s.attribute for s in pretrained.scores] == mcrae.attributes_with_min_positives(80)
    animal = next(s for s in pretrained.scores if s.attribute == "an_animal")
    assert animal.knowledge_type == "taxonomic"
    assert animal.positives == len(mcrae.positives["an_animal"])
    assert animal.selectivity > 40.0
    assert pretrained.mean_selectivity > control.mean_selectivity + 15.0
    assert result.correlations.shape == (2, 2)


def test_random_minilm_is_seeded(mcrae) -> None:
    first = load_concept_encoder("random:minilm", seed=4).embed_texts(["apple", "car"])
    again = load_concept_encoder("random:minilm", seed=4).embed_texts(["apple", "car"])
    other = load_concept_encoder("random:minilm", seed=5).embed_texts(["apple", "car"])
    pretrained = load_concept_encoder("minilm").embed_texts(["apple", "car"])
    assert first.shape == pretrained.shape == (2, 384)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)
    assert not np.allclose(first, pretrained)


def test_things_categories_feed_the_probe(shared_data: Path) -> None:
    norms = read_norms(f"things:{shared_data / 'things'}")
    encoder = load_concept_encoder("clip-tiny")
    table = concept_embeddings(encoder, norms, "text")
    assert table.vectors.shape == (1854, 128)
    # homonyms are embedded from their word: bat1 (the animal) and bat2 (the club) coincide
    rows = {c: i for i, c in enumerate(table.concepts)}
    assert np.array_equal(table.vectors[rows["bat1"]], table.vectors[rows["bat2"]])
    settings = ProbeSettings(min_positives=100)
    result = run_attribute_job(["clip-tiny"], norms, "text", settings)
    scores = result.models[0].scores
    assert [s.attribute for s in scores] == norms.attributes_with_min_positives(100)
    assert {s.knowledge_type for s in scores} == {"taxonomic"}
    for score in scores:
        assert score.positives == norms.meta["category_totals"][score.attribute]
        assert score.concepts == 1854
        assert -100.0 < score.selectivity < 100.0
