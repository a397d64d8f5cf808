"""The scoring interface on every model family: tiny random models saved to folders, scored
through the real loading path; log-likelihoods checked against hand computations from logits."""

from __future__ import annotations

import numpy as np
import probe_models
import pytest
import torch

from shared_parts import tiny_lm
from vislang.errors import ConfigError, VislangError
from vislang.models.registry import load_model
from vislang.probe.scoring import SCORE_TYPES, offered_scores, scorer_for

TEXTS = ["There is a red circle.", "There are three stars.", "A red circle is to the left."]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {name: probe_models.saved(name, root) for name in probe_models.FAMILIES}


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    return probe_models.images(tmp_path_factory.mktemp("images"))


OFFERS = {
    "dual_encoder": ("similarity",),
    "causal_lm": ("text_loglik",),
    "prefix_vlm": ("loglik", "text_loglik"),
    "flamingo": ("loglik",),
    "smallcap": ("loglik",),
}


@pytest.mark.parametrize("family", sorted(OFFERS))
def test_each_family_offers_its_scores_and_refuses_the_rest_by_name(folders, family) -> None:
    model = load_model(folders[family])
    assert offered_scores(model) == OFFERS[family]
    for score_type in SCORE_TYPES:
        if score_type in OFFERS[family]:
            continue
        with pytest.raises(VislangError) as refused:
            scorer_for(model, score_type)
        message = str(refused.value)
        assert model.family in message and score_type in message
        assert "offers: " + ", ".join(OFFERS[family]) in message


def test_match_is_refused_because_no_family_has_a_matching_head(folders) -> None:
    with pytest.raises(VislangError, match="matching head"):
        scorer_for(folders["dual_encoder"], "match")
    with pytest.raises(ConfigError, match="unknown score type 'perplexity'"):
        scorer_for(folders["dual_encoder"], "perplexity")


@pytest.mark.parametrize(
    ("family", "score_type"),
    [(family, score) for family, scores in OFFERS.items() for score in scores],
)
def test_scores_are_finite_batch_invariant_and_follow_the_image(
    folders, image_files, family, score_type
) -> None:
    images = [image_files[0], image_files[0], image_files[1]]
    whole = scorer_for(folders[family], score_type, batch_size=8).score_pairs(images, TEXTS)
    single = scorer_for(folders[family], score_type, batch_size=1).score_pairs(images, TEXTS)
    assert whole.failures == [] and np.isfinite(whole.scores).all()
    np.testing.assert_allclose(whole.scores, single.scores, rtol=1e-4, atol=1e-5)
    other = [image_files[2]] * 3
    changed = scorer_for(folders[family], score_type).score_pairs(other, TEXTS).scores
    if score_type == "text_loglik":
        np.testing.assert_allclose(changed, whole.scores, rtol=1e-5)
    else:
        assert not np.allclose(changed, whole.scores)


def test_similarity_is_the_cosine_of_the_embeddings(folders, image_files) -> None:
    encoder = load_model(folders["dual_encoder"])
    scores = scorer_for(encoder, "similarity").score_pairs(image_files, TEXTS).scores
    from vislang.data.batch import load_batch

    pixels = load_batch(image_files, encoder.preprocess).pixels
    with torch.no_grad():
        image = encoder.image_embeddings(pixels)
        text = encoder.text_embeddings(**encoder.tokenize(TEXTS))
    expected = torch.nn.functional.cosine_similarity(image, text).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert (np.abs(scores) <= 1 + 1e-6).all()


def _hand_log_likelihood(model, prefix_ids: list[int], text: str) -> tuple[float, int]:
    """Sum of log p(token | everything before) over the text's tokens and the end token."""
    tokenizer = model.tokenizer
    text_ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([model.start_ids + prefix_ids + text_ids])
    with torch.no_grad():
        logits = model.model(input_ids=ids).logits[0]
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    first = len(model.start_ids) + len(prefix_ids)
    total = sum(float(log_probs[first + i - 1, token]) for i, token in enumerate(text_ids))
    return total, len(text_ids)


def test_text_loglik_matches_a_hand_computation(folders) -> None:
    lm = load_model(folders["causal_lm"])
    summed = scorer_for(lm, "text_loglik", length_normalised=False)
    per_token = scorer_for(lm, "text_loglik")
    blank = [None] * len(TEXTS)
    got_sum = summed.score_pairs(blank, TEXTS).scores
    got_mean = per_token.score_pairs(blank, TEXTS).scores
    for i, text in enumerate(TEXTS):
        total, count = _hand_log_likelihood(lm, [], text)
        assert got_sum[i] == pytest.approx(total, rel=1e-4)
        assert got_mean[i] == pytest.approx(total / count, rel=1e-4)
        assert total < 0 and count > 1


def test_prefix_vlm_loglik_matches_a_hand_splice_of_the_image(folders, image_files) -> None:
    vlm = load_model(folders["prefix_vlm"])
    scores = scorer_for(vlm, "loglik", length_normalised=False).score_pairs(
        [image_files[1]], [TEXTS[0]]
    )
    pixels = vlm.load_pixels([image_files[1]])
    lm, tokenizer = vlm.lm, vlm.tokenizer
    prompt_ids = tokenizer(vlm.caption_prompt("en"), add_special_tokens=False)["input_ids"]
    slot = prompt_ids.index(vlm.config.image_token_id)
    text_ids = tokenizer(" " + TEXTS[0], add_special_tokens=False)["input_ids"] + [2]
    before = lm.start_ids + prompt_ids[:slot]
    after = prompt_ids[slot + 1 :] + text_ids
    with torch.no_grad():
        visual = vlm.visual_tokens(pixels)[0]
        if vlm.image_position is not None:
            visual = visual + vlm.image_position.weight[0]
        embeds = torch.cat(
            [lm.embed_tokens(torch.tensor(before)), visual, lm.embed_tokens(torch.tensor(after))]
        )
        logits = lm.model(inputs_embeds=embeds[None]).logits[0].double()
    log_probs = torch.log_softmax(logits, dim=-1)
    first = len(before) + visual.shape[0] + len(after) - len(text_ids)
    total = sum(float(log_probs[first + i - 1, t]) for i, t in enumerate(text_ids))
    assert scores.scores[0] == pytest.approx(total, rel=1e-4)


def test_prefix_vlm_text_loglik_is_its_lm_reading_the_prompt_without_the_image(folders) -> None:
    """The prompt without ``<image>``, then a space and the text, as the VLM was trained."""
    vlm = load_model(folders["prefix_vlm"])
    score = scorer_for(vlm, "text_loglik", length_normalised=False).score_pairs([None], [TEXTS[1]])
    prefix = vlm.tokenizer("en:", add_special_tokens=False)["input_ids"]
    total, _ = _hand_log_likelihood(vlm.lm, prefix, " " + TEXTS[1])
    assert score.scores[0] == pytest.approx(total, rel=1e-4)


def test_an_undecodable_image_leaves_its_pairs_nan_and_the_rest_scored(
    folders, image_files, tmp_path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    scorer = scorer_for(folders["dual_encoder"], "similarity")
    result = scorer.score_pairs([image_files[0], broken, image_files[1]], TEXTS)
    assert np.isnan(result.scores[1]) and np.isfinite(result.scores[[0, 2]]).all()
    assert len(result.failures) == 1 and result.failures[0][0] == str(broken)
    alone = scorer.score_pairs([image_files[1]], [TEXTS[2]]).scores[0]
    assert result.scores[2] == pytest.approx(alone, rel=1e-5)


def test_image_scores_need_an_image_per_text(folders) -> None:
    scorer = scorer_for(folders["dual_encoder"], "similarity")
    with pytest.raises(ConfigError, match="need an image per text"):
        scorer.score_pairs([None], TEXTS[:1])
    with pytest.raises(ValueError, match="2 images for 3 texts"):
        scorer.score_pairs([None, None], TEXTS)


def test_smallcap_with_retrieval_scores_after_the_captions_retrieved_from_its_datastore(
    tmp_path, image_files
) -> None:
    from vislang.data.batch import load_batch
    from vislang.models.captioning import token_counter
    from vislang.models.causal_lm import token_log_likelihoods
    from vislang.models.cross_attention import CrossAttentionConfig
    from vislang.models.registry import save_model
    from vislang.models.smallcap import DATASTORE_DIR, SmallCap
    from vislang.represent.feature_store import FeatureRow
    from vislang.retrieval.caption_retrieval import (
        CaptionRetriever,
        RetrievalConfig,
        build_caption_datastore,
    )
    from vislang.retrieval.datastore import Datastore

    captioner = SmallCap.build(
        tiny_lm(),
        probe_models.dual_encoder(),
        CrossAttentionConfig(encoder_dim=1, reduction=2),
        languages=["en"],
        retrieval=RetrievalConfig(keep=2, search_k=3, max_caption_tokens=20),
    )
    rows = [
        FeatureRow(f"r{n}", f"r{n}", None, text, "en")
        for n, text in enumerate(["a red circle", "two blue squares", "a green star"])
    ]
    folder = save_model(captioner, tmp_path / "smallcap")
    with pytest.raises(ConfigError, match="give its caption datastore"):
        scorer_for(folder, "loglik")
    build_caption_datastore(captioner.encoder, rows).save(folder / DATASTORE_DIR)
    scorer = scorer_for(folder, "loglik", length_normalised=False)
    got = scorer.score_pairs([image_files[0]], [TEXTS[0]]).scores[0]

    model = load_model(folder)
    retriever = CaptionRetriever(
        Datastore.load(folder / DATASTORE_DIR),
        model.encoder,
        model.config.retrieval,
        token_counter(model.lm.tokenizer),
    )
    pixels = load_batch([image_files[0]], model.preprocess).pixels
    found = retriever.retrieve(model.encoder.encode_images(pixels).numpy(), ["en"], [None])[0]
    assert len(found.captions) == 2
    prompt = model.template("en").prompt(found.captions, model.eos)
    batch = model.training_tokens([prompt], [TEXTS[0]], ["en"])
    with torch.no_grad():
        logits = model(model.image_features(pixels), batch["input_ids"], batch["attention_mask"])
    total, _ = token_log_likelihoods(logits, batch["labels"])
    assert got == pytest.approx(float(total[0]), rel=1e-4)
