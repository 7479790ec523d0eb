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
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(_check_seed(seed, "a torch.Generator"))
    return gen


def numpy_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy ``Generator`` seeded with ``seed`` (a generator is passed through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_check_seed(seed, "a numpy.random.Generator"))


def _check_seed(seed: Any, generator: str) -> int:
    """A seed is a non-negative integer below 2**63 (every run is seeded for reproducibility)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be a non-negative integer or {generator}, got {seed!r}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return int(seed)
