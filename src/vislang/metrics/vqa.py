"""VQA accuracy exactly as the official VQA evaluation script computes it.

For one question with the answers of its annotators (VQAv2: ten) and a predicted answer:

* the prediction is normalised: newlines and tabs become spaces, the ends are stripped, then
  punctuation is processed (a mark next to a space, or any mark in a text with a digit-comma-digit
  group, is deleted; otherwise replaced by a space; periods not followed by a digit are deleted)
  and words are processed (lower-cased; number words ``none``, ``zero``..``ten`` become digits;
  articles ``a an the`` are dropped; contractions written without apostrophe are restored, e.g.
  ``dont`` -> ``don't``);
* annotator answers are stripped, and their punctuation is processed only when the annotators
  disagree (the official script assumes them already normalised, as they are in the VQA files;
  a mark it replaces by a space is not stripped again, so an answer ``yes!`` never matches);
* accuracy = mean over the annotators ``j`` of ``min(1, (#other annotators who gave the
  prediction) / 3)``, i.e. ``min(#humans that said it / 3, 1)`` averaged over the leave-one-out
  subsets; it is a fraction in [0, 1] (the official tables print it times 100).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from vislang.metrics.metric_score import MetricScore

_PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<"]
_PUNCTUATION += ["@", "`", ",", "?", "!"]
_COMMA_IN_NUMBER = re.compile(r"(\d)(,)(\d)")
# the official pattern: a period not followed by a digit ("(?!<=" is a lookahead for "<=")
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_PERIODS_REMOVED = 32  # the official script passes re.UNICODE (32) as ``count`` by mistake
_NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4"}
_NUMBERS |= {"five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_ARTICLES = frozenset({"a", "an", "the"})


def _pairs(text: str) -> dict[str, str]:
    pairs = (item.split("=") for item in text.split())
    return {key: value for key, value in pairs}


# the official table (keys with a capital I never match: words are lower-cased first)
_CONTRACTIONS = _pairs(
    """aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've
    couldnt've=couldn't've didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've
    hadn'tve=hadn't've hasnt=hasn't havent=haven't hed=he'd hed've=he'd've he'dve=he'd've hes=he's
    howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm Ive=I've isnt=isn't
    itd=it'd itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
    mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've
    neednt=needn't notve=not've oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at
    'ow'sat='ow's'at shant=shan't shed've=she'd've she'dve=she'd've she's=she's shouldve=should've
    shouldnt=shouldn't shouldnt've=shouldn't've shouldn'tve=shouldn't've somebody'd=somebodyd
    somebodyd've=somebody'd've somebody'dve=somebody'd've somebodyll=somebody'll
    somebodys=somebody's someoned=someone'd someoned've=someone'd've someone'dve=someone'd've
    someonell=someone'll someones=someone's somethingd=something'd somethingd've=something'd've
    something'dve=something'd've somethingll=something'll thats=that's thered=there'd
    thered've=there'd've there'dve=there'd've therere=there're theres=there's theyd=they'd
    theyd've=they'd've they'dve=they'd've theyll=they'll theyre=they're theyve=they've
    twas='twas wasnt=wasn't wed've=we'd've we'dve=we'd've weve=we've werent=weren't
    whatll=what'll whatre=what're whats=what's whatve=what've whens=when's whered=where'd
    wheres=where's whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll
    whos=who's whove=who've whyll=why'll whyre=why're whys=why's wont=won't wouldve=would've
    wouldnt=wouldn't wouldnt've=wouldn't've wouldn'tve=wouldn't've yall=y'all yall'll=y'all'll
    y'allll=y'all'll yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've youd=you'd
    youd've=you'd've you'dve=you'd've youll=you'll youre=you're youve=you've"""
)


def normalize_answer(answer: str) -> str:
    """An answer as the official script normalises predictions (punctuation, then words)."""
    return _process_words(_process_punctuation(_strip(answer)))


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """Official VQA accuracy of one predicted answer given every annotator's answer."""
    if not answers:
        raise ValueError("a question needs at least one annotator answer")
    predicted = normalize_answer(prediction)
    human = [_strip(answer) for answer in answers]
    if len(set(human)) > 1:
        human = [_process_punctuation(answer) for answer in human]
    total = 0.0
    for left_out in range(len(human)):
        matches = sum(1 for j, answer in enumerate(human) if j != left_out and answer == predicted)
        total += min(1.0, matches / 3)
    return total / len(human)


def vqa_scores(predictions: Sequence[str], answers: Sequence[Sequence[str]]) -> MetricScore:
    """VQA accuracy of each question and their mean (named ``VQA accuracy``).

    ``answers[i]`` lists the annotators' answers of question ``i``, as in
    :attr:`vislang.data.schema.VQAExample.answers`.
    """
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} questions")
    per_item = np.array(
        [vqa_accuracy(p, a) for p, a in zip(predictions, answers, strict=True)], dtype=float
    )
    corpus = float(per_item.mean()) if per_item.size else float("nan")
    return MetricScore(name="VQA accuracy", corpus=corpus, per_item=per_item)


def _strip(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def _process_punctuation(text: str) -> str:
    out = text
    has_number_comma = _COMMA_IN_NUMBER.search(text) is not None
    for mark in _PUNCTUATION:
        if mark + " " in text or " " + mark in text or has_number_comma:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD.sub("", out, count=_PERIODS_REMOVED)


def _process_words(text: str) -> str:
    words = [_NUMBERS.get(word, word) for word in text.lower().split()]
    words = [word for word in words if word not in _ARTICLES]
    return " ".join(_CONTRACTIONS.get(word, word) for word in words)
