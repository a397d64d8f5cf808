"""Metrics: caption scores, retrieval recall, VQA accuracy, foil and Winoground scores."""

from vislang.metrics.bleu import bleu
from vislang.metrics.caption_scores import CaptionScores, score_captions, score_tokenized
from vislang.metrics.cider import cider_d
from vislang.metrics.classification import categorical_accuracy, exact_match
from vislang.metrics.foils import FoilScores, foil_scores
from vislang.metrics.metric_score import MetricScore
from vislang.metrics.retrieval import (
    RetrievalRanks,
    retrieval_ranks,
    retrieval_ranks_from_similarity,
)
from vislang.metrics.rouge import rouge_l
from vislang.metrics.tokenize import CaptionTokenizer, tokenizer_for
from vislang.metrics.vqa import normalize_answer, vqa_accuracy, vqa_scores
from vislang.metrics.winoground import WinogroundScores, winoground_scores

__all__ = [
    "CaptionScores",
    "CaptionTokenizer",
    "FoilScores",
    "MetricScore",
    "RetrievalRanks",
    "WinogroundScores",
    "bleu",
    "categorical_accuracy",
    "cider_d",
    "exact_match",
    "foil_scores",
    "normalize_answer",
    "retrieval_ranks",
    "retrieval_ranks_from_similarity",
    "rouge_l",
    "score_captions",
    "score_tokenized",
    "tokenizer_for",
    "vqa_accuracy",
    "vqa_scores",
    "winoground_scores",
]
