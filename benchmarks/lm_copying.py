"""Does a frozen language model copy from its context? The measurement behind
``related_captions`` in docs/captioning.md ("Why the paragraphs are preceded by related captions").

For ``--records`` English caption records of the recipes' world (12,000 scenes, seed 0,
compositional split mode; scenes from ``--first-scene`` on), X is the record's first caption and
"others" up to three captions of another record drawn at random (seeded). Each language model
scores X (mean log-probability per token) after four contexts: none (the baseline every
difference is taken against), the others, the others with X second, the others with X last. A
model that copies finds X more likely once the context holds it.

    python benchmarks/lm_copying.py --lm runs/lm-stage0-documents/model --lm OTHER/model
"""

from __future__ import annotations

import argparse
import random

import torch

from vislang.data.schema import CaptionExample
from vislang.data.world import World, WorldConfig
from vislang.models.causal_lm import CausalLM, token_log_likelihoods
from vislang.models.registry import load_model

CONTEXTS = ("none", "others", "others, X second", "others, X last")
BASELINE = "none"


def contexts(records: list[CaptionExample], seed: int) -> dict[str, list[tuple[str, str]]]:
    """(context, X) pairs per context kind, one per record."""
    rng = random.Random(seed)
    pairs: dict[str, list[tuple[str, str]]] = {name: [] for name in CONTEXTS}
    for record in records:
        x = record.captions[0]
        other = rng.choice([r for r in records if r is not record])
        others = [c for c in other.captions if c != x][:3]
        pairs["none"].append(("", x))
        pairs["others"].append((" ".join(others), x))
        pairs["others, X second"].append((" ".join([others[0], x, *others[1:]]), x))
        pairs["others, X last"].append((" ".join([*others, x]), x))
    return pairs


@torch.no_grad()
def mean_log_probability(lm: CausalLM, pairs: list[tuple[str, str]]) -> float:
    """Mean over pairs of the per-token log-probability of X after its context."""
    prefixes = [context for context, _ in pairs]
    texts = [f" {x}" if context else x for context, x in pairs]
    batch = lm.tokenize(texts, prefixes if any(prefixes) else None)
    logits = lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    totals, counts = token_log_likelihoods(logits, batch["labels"])
    return float((totals / counts).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lm", action="append", required=True, help="A language model folder.")
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--first-scene", type=int, default=9000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    world = World(WorldConfig(scenes=12000, seed=0, split="compositional"))
    records = [
        record
        for index in range(args.first_scene, 12000)
        for record in world.item(index).records.get("captions", ())
        if isinstance(record, CaptionExample) and record.language == "en"
    ][: args.records]
    pairs = contexts(records, args.seed)
    print(f"{len(records)} English caption records from scene {args.first_scene} on")
    print("| context before X | " + " | ".join(args.lm) + " |")
    print("|---|" + "---:|" * len(args.lm))
    scores = {}
    for path in args.lm:
        lm = load_model(path).eval()
        scores[path] = {name: mean_log_probability(lm, pairs[name]) for name in CONTEXTS}
    for name in CONTEXTS:
        cells = []
        for path in args.lm:
            value, difference = scores[path][name], scores[path][name] - scores[path][BASELINE]
            cells.append(f"{value:.2f} ({difference:+.2f} against {BASELINE})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
