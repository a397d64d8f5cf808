"""Caption metrics: vislang's CIDEr-D, BLEU-1..4 and ROUGE-L against pycocoevalcap's scorers.

Both sides score the same tokenised input: ``--images`` images (default 5,000), each with
``--refs`` reference captions (default 5) and one predicted caption. Captions are synthetic and
seeded: every image gets a scene (subject, colour, action, place, ...) drawn from a small generated
vocabulary, and each of its captions describes that scene with its own choice of words and word
order, so references agree with each other and with the prediction about as much as real captions
do. pycocoevalcap gets the tokens joined by spaces (its input format), vislang the token lists.

Each scorer runs ``--repeats`` times (default 1) in this one process, alternating the two sides; the
best time counts. Prints both times, the speed ratio and the largest difference between the two
implementations' corpus and per-image scores, and exits with status 1 if any differs by more than
1e-9. Target: CIDEr-D >= 20x faster.

    python benchmarks/metrics.py
    python benchmarks/metrics.py --images 20000 --repeats 3
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from vislang.metrics import bleu, cider_d, rouge_l

TOLERANCE = 1e-9


def _words(rng: np.random.Generator, count: int, syllables: tuple[int, int]) -> list[str]:
    parts = ["ka", "lo", "mi", "ne", "ru", "so", "ta", "vi", "ze", "po", "da", "fe", "gu", "ha"]
    words: set[str] = set()
    while len(words) < count:
        n = rng.integers(syllables[0], syllables[1] + 1)
        words.add("".join(rng.choice(parts, size=n)))
    return sorted(words)


def synthetic_captions(
    n_images: int, n_refs: int, seed: int
) -> tuple[list[list[str]], list[list[list[str]]]]:
    """One predicted caption and ``n_refs`` references per image, as token lists."""
    rng = np.random.default_rng(seed)
    nouns = _words(rng, 400, (2, 3))
    adjectives = _words(rng, 80, (2, 3))
    verbs = _words(rng, 120, (2, 3))
    places = _words(rng, 150, (2, 4))
    function = ["a", "the", "is", "are", "on", "in", "with", "of", "and", "near", "two", "some"]

    def describe(scene: dict[str, Any]) -> list[str]:
        subject = [str(rng.choice(["a", "the", "one"])), *scene["adjectives"][: rng.integers(0, 3)]]
        subject.append(scene["noun"] if rng.random() < 0.8 else str(rng.choice(nouns)))
        action = ["is", scene["verb"] if rng.random() < 0.7 else str(rng.choice(verbs))]
        where = [str(rng.choice(["in", "on", "near"])), "the", scene["place"]]
        extra = ["with", str(rng.choice(function)), scene["object"]] if rng.random() < 0.5 else []
        parts = [subject, action, where, extra]
        if rng.random() < 0.3:
            parts = [where, subject, action, extra]
        return [token for part in parts for token in part]

    predictions, references = [], []
    for _ in range(n_images):
        scene = {
            "noun": str(rng.choice(nouns)),
            "adjectives": [str(a) for a in rng.choice(adjectives, size=2, replace=False)],
            "verb": str(rng.choice(verbs)),
            "place": str(rng.choice(places)),
            "object": str(rng.choice(nouns)),
        }
        predictions.append(describe(scene))
        references.append([describe(scene) for _ in range(n_refs)])
    return predictions, references


def _toolkit(name: str, gts: dict, res: dict) -> tuple[float, np.ndarray]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if name == "CIDEr-D":
        corpus, items = Cider().compute_score(gts, res)
        return float(corpus), np.asarray(items)
    if name == "ROUGE-L":
        corpus, items = Rouge().compute_score(gts, res)
        return float(corpus), np.asarray(items)
    corpus, items = Bleu(4).compute_score(gts, res, verbose=0)
    return float(corpus[3]), np.asarray(items[3])


def _ours(name: str, predictions: list, references: list) -> tuple[float, np.ndarray]:
    if name == "CIDEr-D":
        score = cider_d(predictions, references)
    elif name == "ROUGE-L":
        score = rouge_l(predictions, references)
    else:
        score = bleu(predictions, references)[3]
    return score.corpus, score.per_item


def _best_time(run: Callable[[], tuple[float, np.ndarray]], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--refs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    predictions, references = synthetic_captions(args.images, args.refs, args.seed)
    res = {i: [" ".join(tokens)] for i, tokens in enumerate(predictions)}
    gts = {i: [" ".join(tokens) for tokens in refs] for i, refs in enumerate(references)}
    tokens = sum(map(len, predictions)) + sum(len(t) for refs in references for t in refs)
    print(
        f"{args.images} images x {args.refs} references + 1 prediction, {tokens} tokens "
        f"(synthetic, seed {args.seed}); best of {args.repeats} run(s)"
    )
    print(f"{'metric':10} {'pycocoevalcap':>14} {'vislang':>9} {'ratio':>7}  {'max |diff|':>10}")
    equal = True
    for name in ("CIDEr-D", "BLEU-4", "ROUGE-L"):
        theirs_time, (theirs, theirs_items) = _best_time(
            lambda name=name: _toolkit(name, gts, res), args.repeats
        )
        ours_time, (ours, ours_items) = _best_time(
            lambda name=name: _ours(name, predictions, references), args.repeats
        )
        difference = max(abs(ours - theirs), float(np.max(np.abs(ours_items - theirs_items))))
        equal &= difference <= TOLERANCE
        print(
            f"{name:10} {theirs_time:>13.3f}s {ours_time:>8.3f}s {theirs_time / ours_time:>6.1f}x"
            f"  {difference:>10.1e}   (score {ours:.4f})"
        )
    print("BLEU-4 timing covers BLEU-1..4, which both sides compute together.")
    if not equal:
        print(f"scores differ by more than {TOLERANCE}", file=sys.stderr)
        return 1
    print(f"scores equal to {TOLERANCE} (corpus and every image)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
