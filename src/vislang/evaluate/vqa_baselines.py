"""Answers without looking at the image: what a VQA model must beat.

- :func:`language_prior_answers`: a causal language model answers from the question alone
  (greedy continuation of the question, the way the stage-0 model read "question answer"
  texts). This is the language prior a vision-language model starts from; the share of
  questions it gets right measures how much the questions give away.
- :func:`majority_answers`: for every (question type, language) the most frequent answer among
  training questions of that type and language (ties broken by the answer's first appearance),
  falling back to the language's most frequent answer, then the overall one.

Score either with :func:`vislang.evaluate.vqa.score_vqa`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from vislang.data.schema import VQAExample
from vislang.models.causal_lm import CausalLM
from vislang.models.vision_language import ANSWER_MAX_NEW_TOKENS


def language_prior_answers(
    lm: CausalLM,
    records: Sequence[VQAExample],
    *,
    template: str = "{question}",
    batch_size: int = 64,
    max_new_tokens: int = ANSWER_MAX_NEW_TOKENS,
) -> list[str]:
    """The language model's greedy answer to each question, with no image: the continuation of
    ``template`` filled with the question."""
    prompts = [template.format(question=record.question) for record in records]
    return lm.generate(prompts, num_beams=1, max_new_tokens=max_new_tokens, batch_size=batch_size)


def majority_answers(
    train_records: Sequence[VQAExample], records: Sequence[VQAExample]
) -> list[str]:
    """For each record, the most frequent training answer of its question type and language
    (see the module docstring for the fall-backs)."""
    if not train_records:
        raise ValueError("majority answers need training questions")
    by_pair: dict[tuple[str | None, str], Counter[str]] = {}
    by_language: dict[str, Counter[str]] = {}
    overall: Counter[str] = Counter()
    for record in train_records:
        answer = record.answer_counts.most_common(1)[0][0]
        by_pair.setdefault((record.question_type, record.language), Counter())[answer] += 1
        by_language.setdefault(record.language, Counter())[answer] += 1
        overall[answer] += 1
    answers = []
    for record in records:
        counts = (
            by_pair.get((record.question_type, record.language))
            or by_language.get(record.language)
            or overall
        )
        answers.append(counts.most_common(1)[0][0])
    return answers


__all__ = ["language_prior_answers", "majority_answers"]
