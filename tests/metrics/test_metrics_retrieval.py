"""Retrieval recall@k: hand-computed cases, ties, blocks and the brute-force definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vislang.metrics import retrieval_ranks, retrieval_ranks_from_similarity

# 3 images, 5 texts: texts 0,1 describe image 0; text 2 image 1; texts 3,4 image 2
OWNER = [0, 0, 1, 2, 2]
SIMILARITY = np.array(
    [
        [0.9, 0.1, 0.2, 0.95, 0.0],  # image 0: a wrong text (3) first, its caption 0 second
        [0.1, 0.2, 0.3, 0.4, 0.5],  # image 1: its caption (2) is third
        [0.0, 0.0, 0.0, 0.1, 0.9],  # image 2: its caption 4 first
    ]
)


def test_hand_computed_ranks_and_recalls() -> None:
    ranks = retrieval_ranks_from_similarity(SIMILARITY, OWNER)
    # text -> image, column by column: t0: 0.9 vs 0.1, 0.0 -> 0; t1: 0.1 < 0.2 -> 1;
    # t2: 0.3 top -> 0; t3: 0.1 < 0.95, 0.4 -> 2; t4: 0.9 top -> 0
    assert ranks.text_to_image.tolist() == [0, 1, 0, 2, 0]
    # image -> text: image 0 best own 0.9, one wrong text above; image 1: 0.5, 0.4 above 0.3
    assert ranks.image_to_text.tolist() == [1, 2, 0]
    assert ranks.recall(1) == {"text_to_image": 0.6, "image_to_text": pytest.approx(1 / 3)}
    assert ranks.recalls((1, 2, 3)) == {
        "text_to_image@1": 0.6,
        "image_to_text@1": pytest.approx(1 / 3),
        "text_to_image@2": 0.8,
        "image_to_text@2": pytest.approx(2 / 3),
        "text_to_image@3": 1.0,
        "image_to_text@3": 1.0,
    }


def test_ties_never_help() -> None:
    ranks = retrieval_ranks_from_similarity(np.ones((3, 6)), [0, 0, 1, 1, 2, 2])
    assert ranks.text_to_image.tolist() == [2] * 6  # both other images count as above
    assert ranks.image_to_text.tolist() == [4] * 3  # the four other captions count as above
    assert ranks.recall(1) == {"text_to_image": 0.0, "image_to_text": 0.0}


def test_images_without_captions_are_left_out_of_image_to_text() -> None:
    ranks = retrieval_ranks_from_similarity(np.eye(3)[:, :2], [0, 1])
    assert ranks.image_to_text.tolist() == [0, 0, -1]
    assert ranks.recall(1)["image_to_text"] == 1.0


def _brute_force(similarity, owner):
    owner = np.asarray(owner)
    t2i = [int((similarity[:, t] >= similarity[owner[t], t]).sum()) - 1 for t in range(owner.size)]
    i2t = []
    for i in range(similarity.shape[0]):
        own = np.flatnonzero(owner == i)
        wrong = similarity[i, owner != i]
        i2t.append(min(int((wrong >= similarity[i, c]).sum()) for c in own) if own.size else -1)
    return t2i, i2t


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 4),
    st.integers(0, 2**31 - 1),
    st.integers(1, 200),
    st.booleans(),
)
def test_blocked_embeddings_equal_the_definition(n_images, per_image, seed, block, coarse) -> None:
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(n_images, 8)).astype(np.float32)
    owner = np.repeat(np.arange(n_images), per_image)
    rng.shuffle(owner)
    texts = images[owner] + rng.normal(size=(owner.size, 8)).astype(np.float32)
    if coarse:  # many exact ties
        images, texts = np.round(images), np.round(texts)
    ranks = retrieval_ranks(images, texts, owner, block_elements=block)
    t2i, i2t = _brute_force(images @ texts.T, owner)
    assert ranks.text_to_image.tolist() == t2i
    assert ranks.image_to_text.tolist() == i2t


def test_bad_shapes_and_indices_are_refused() -> None:
    with pytest.raises(ValueError, match="one image index per text"):
        retrieval_ranks_from_similarity(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="outside"):
        retrieval_ranks_from_similarity(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="2-d with one width"):
        retrieval_ranks(np.zeros((2, 3)), np.zeros((2, 4)), [0, 1])
