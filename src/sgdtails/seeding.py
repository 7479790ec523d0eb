"""Seeds: one root seed, stable per-point sub-seeds, and generator construction."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import torch

SeedLike = int | np.random.Generator | torch.Generator | None


def derive_seed(root_seed: int, *keys: Any) -> int:
    """Stable 63-bit seed from a root seed and any JSON-serialisable keys (same on every machine)."""
    payload = json.dumps([int(root_seed), *keys], sort_keys=True, default=repr)
    digest = hashlib.sha256(payload.encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def torch_generator(seed: int | torch.Generator | None, device: str | torch.device = "cpu"
                    ) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (a generator is passed through)."""
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        raise ValueError("seed must be an integer or a torch.Generator, got None "
                         "(every simulation is seeded for reproducibility)")
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed) & ((1 << 63) - 1))
    return gen


def numpy_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy ``Generator`` seeded with ``seed`` (a generator is passed through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise ValueError("seed must be an integer or a numpy Generator, got None "
                         "(every estimator is seeded for reproducibility)")
    return np.random.default_rng(int(seed))
