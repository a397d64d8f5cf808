"""Seeds derived from the run's seed, so that every random draw of a run is a function of it.

The loop reseeds the global generators (torch, numpy, Python's ``random``) before building the
model and before every optimiser step from ``(seed, step, rank)``. A step's randomness (dropout,
augmentation) therefore does not depend on what ran before it — evaluation, checkpointing, an
interruption and a resume — which is what lets a resumed run end with bitwise the same weights
without carrying generator states in its checkpoints.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed mixed from ``seed`` and ``keys`` (strings hashed stably, not by ``hash``)."""
    entropy = [seed % 2**63]
    for key in keys:
        if isinstance(key, str):
            key = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:7], "little")
        entropy.append(key % 2**63)
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def seed_everything(seed: int) -> None:
    """Seed torch's, numpy's and Python's global generators."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def seed_step(seed: int, step: int, rank: int) -> None:
    """Seed the global generators for optimiser step ``step`` (0-based) on process ``rank``."""
    seed_everything(derive_seed(seed, "step", step, rank))
