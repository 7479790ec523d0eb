"""Thread settings of torch for the small tensors of the simulators."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["single_thread"]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, restoring the previous setting afterwards.

    The sweep points work on small tensors (a few thousand rows), where torch's thread pool costs more
    than it gains; on a shared 2-core machine two threads were ten times slower than one here.
    """
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)
