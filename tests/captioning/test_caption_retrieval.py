"""Caption retrieval: search k, drop the image's own captions and duplicates, filter each caption
by its own length, keep K, and every kept caption keeps its own score."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vislang.errors import ConfigError
from vislang.models.registry import load_model
from vislang.represent.feature_store import FeatureRow
from vislang.retrieval.caption_retrieval import (
    CaptionRetriever,
    RetrievalConfig,
    build_caption_datastore,
    select_captions,
)
from vislang.retrieval.datastore import Datastore, EncoderMismatchError, SearchHit


def _hit(row: int, score: float, text: str, image_id: str = "other", language: str = "en"):
    return SearchHit(row, score, f"r{row}", image_id, None, text, language, "test", "train")


def _words(text: str) -> int:
    return len(text.split())


def test_filters_each_caption_on_its_own_and_keeps_scores_aligned() -> None:
    hits = [
        _hit(0, 0.95, "a red circle", image_id="query"),  # the query image's own caption
        _hit(1, 0.90, "a blue square"),
        _hit(2, 0.85, "one two three four five six seven"),  # too long (7 words > 5)
        _hit(3, 0.80, "a blue square"),  # exact duplicate of a kept caption
        _hit(4, 0.75, " a blue square "),  # duplicate after stripping spaces
        _hit(5, 0.70, "two stars"),
        _hit(6, 0.65, "a green heart"),
        _hit(7, 0.60, "three crosses here"),
        _hit(8, 0.55, "kept only if fewer"),
    ]
    config = RetrievalConfig(search_k=9, keep=4, max_caption_tokens=5)
    found = select_captions(hits, config, exclude_image_id="query", count_tokens=_words)
    assert found.captions == ("a blue square", "two stars", "a green heart", "three crosses here")
    assert found.scores == (0.90, 0.70, 0.65, 0.60)
    assert found.rows == (1, 5, 6, 7)
    assert found.dropped == {"same_image": 1, "duplicate": 2, "too_long": 1, "empty": 0}
    assert found.searched == 9


def test_a_long_caption_does_not_drop_its_neighbours() -> None:
    """The bug of filtering a padded batch: one long caption must not cut the others."""
    hits = [_hit(0, 0.9, "short one"), _hit(1, 0.8, "x " * 40), _hit(2, 0.7, "short two")]
    found = select_captions(
        hits, RetrievalConfig(search_k=3, keep=3, max_caption_tokens=3), count_tokens=_words
    )
    assert found.captions == ("short one", "short two") and found.scores == (0.9, 0.7)


def test_a_length_limit_needs_a_token_counter() -> None:
    with pytest.raises(ConfigError, match="token counter"):
        select_captions([_hit(0, 1.0, "a")], RetrievalConfig())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c d", "e f g", "h i j k", "", "a"]),
            st.sampled_from(["q", "x", "y"]),
        ),
        max_size=20,
    ),
    st.integers(0, 6),
    st.integers(1, 4),
)
def test_kept_captions_are_the_first_eligible_hits_with_their_own_scores(
    items: list[tuple[str, str]], keep: int, limit: int
) -> None:
    hits = [_hit(i, 1.0 - i / 100, text, image) for i, (text, image) in enumerate(items)]
    config = RetrievalConfig(search_k=max(keep, 1), keep=keep, max_caption_tokens=limit)
    found = select_captions(hits, config, exclude_image_id="q", count_tokens=_words)
    eligible, seen = [], set()
    for hit in hits:
        text = hit.text.strip()
        if hit.image_id != "q" and text and text not in seen and _words(text) <= limit:
            eligible.append(hit)
            seen.add(text)
    expected = eligible[:keep]
    assert found.rows == tuple(hit.row for hit in expected)
    by_row = {hit.row: hit for hit in hits}
    for row, text, score in zip(found.rows, found.captions, found.scores, strict=True):
        assert by_row[row].text.strip() == text and by_row[row].score == score


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"keep": 5, "search_k": 4}, "cannot keep 5"),
        ({"keep": -1}, "keep must be"),
        ({"max_caption_tokens": 0}, "max_caption_tokens"),
        ({"language": ""}, "language"),
    ],
)
def test_bad_retrieval_configs_are_refused(fields: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RetrievalConfig(**fields)


# --- a real datastore ------------------------------------------------------------------------

CAPTIONS = {
    "img0": {
        "en": ["There is a red circle.", "A large red circle."],
        "de": ["Es gibt einen roten Kreis."],
    },
    "img1": {
        "en": ["There is a blue square.", "There is one object."],
        "de": ["Es gibt ein blaues Quadrat."],
    },
    "img2": {
        "en": ["There is one object.", "There is a green star."],
        "de": ["Es gibt einen grünen Stern."],
    },
    "img3": {"en": ["There are two objects."], "de": ["Es gibt zwei Objekte."]},
}


@pytest.fixture(scope="module")
def encoder():
    return load_model("clip-tiny").eval()


@pytest.fixture(scope="module")
def store(encoder) -> Datastore:
    rows = [
        FeatureRow(f"{image}-{lang}#{n}", image, None, text, lang, "test", "train")
        for image, by_language in CAPTIONS.items()
        for lang, texts in by_language.items()
        for n, text in enumerate(texts)
    ]
    return build_caption_datastore(encoder, rows, model="clip-tiny")


def _queries(encoder, count: int) -> np.ndarray:
    pixels = torch.randn(count, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    return encoder.encode_images(pixels).numpy()


def test_datastore_holds_every_caption_and_embeds_repeats_alike(store, encoder) -> None:
    assert store.count == 11 and store.modality == "text"
    texts = store.metadata.column("text").to_pylist()
    repeated = [i for i, text in enumerate(texts) if text == "There is one object."]
    assert len(repeated) == 2
    vectors = store.index.reconstruct_n(0, store.count)
    np.testing.assert_allclose(vectors[repeated[0]], vectors[repeated[1]])
    direct = encoder.encode_texts(["There is a red circle."]).numpy()[0]
    np.testing.assert_allclose(vectors[0], direct / np.linalg.norm(direct), atol=1e-6)


def test_retrieval_leaves_out_the_query_image_and_keeps_the_cosine_of_each_caption(
    store, encoder
) -> None:
    config = RetrievalConfig(search_k=6, keep=3, max_caption_tokens=None, language="target")
    retriever = CaptionRetriever(store, encoder, config)
    queries = _queries(encoder, 3)
    found = retriever.retrieve(queries, ["en", "de", "en"], ["img0", "img1", None])
    texts = store.metadata.column("text").to_pylist()
    vectors = store.index.reconstruct_n(0, store.count)
    for query, result, excluded, language in zip(
        queries, found, ["img0", "img1", None], ["en", "de", "en"], strict=True
    ):
        assert excluded not in result.image_ids
        assert len(result.captions) == len(set(result.captions)) <= 3
        assert list(result.scores) == sorted(result.scores, reverse=True)
        unit = query / np.linalg.norm(query)
        for row, text, score in zip(result.rows, result.captions, result.scores, strict=True):
            assert texts[row] == text
            assert store.metadata.column("language")[row].as_py() == language
            assert score == pytest.approx(float(vectors[row] @ unit), abs=1e-5)


def test_cross_language_and_any_language_retrieval(store, encoder) -> None:
    queries = _queries(encoder, 2)
    fixed = RetrievalConfig(search_k=5, keep=3, max_caption_tokens=None, language="de")
    found = CaptionRetriever(store, encoder, fixed).retrieve(queries, ["sw", "en"])
    assert all(
        r.language == "de" and all(c.startswith("Es gibt") for c in r.captions) for r in found
    )
    anything = dataclasses.replace(fixed, language="any", search_k=11, keep=11)
    result = CaptionRetriever(store, encoder, anything).retrieve(queries[:1], ["en"])[0]
    assert {"Es gibt zwei Objekte.", "There are two objects."} <= set(result.captions)


def test_without_k_nothing_is_searched(store, encoder) -> None:
    none = RetrievalConfig(keep=0, max_caption_tokens=None)
    found = CaptionRetriever(store, encoder, none).retrieve(_queries(encoder, 2), ["en", "de"])
    assert [r.captions for r in found] == [(), ()]


def test_a_datastore_answers_only_its_own_encoder(store, tmp_path) -> None:
    other = load_model("clip-tiny", seed=1).eval()
    with pytest.raises(EncoderMismatchError):
        CaptionRetriever(store, other, RetrievalConfig(max_caption_tokens=None))
    store.save(tmp_path / "store")
    reloaded = Datastore.load(tmp_path / "store", verify=True)
    assert reloaded.count == store.count and reloaded.model == "clip-tiny"


def test_language_views_give_the_filtered_search_of_the_whole_datastore(store, encoder) -> None:
    config = RetrievalConfig(search_k=4, keep=4, max_caption_tokens=None, drop_duplicates=False)
    retriever = CaptionRetriever(store, encoder, config)
    queries = _queries(encoder, 3)
    for language in ("en", "de"):
        found = retriever.retrieve(queries, [language] * 3, ["img2", None, "img0"])
        whole = store.search(
            queries,
            4,
            fingerprint=encoder.fingerprint(),
            exclude_image_ids=["img2", None, "img0"],
            language=language,
        )
        for result, hits in zip(found, whole, strict=True):
            assert result.rows == tuple(hit.row for hit in hits)
            assert result.scores == pytest.approx([hit.score for hit in hits], abs=1e-6)
