"""On-disk cache of expensive results, keyed by parameters, seed and library version (and source hash).

Each entry is one ``.npz`` file written atomically (temporary file, fsync, rename) that carries a SHA-256
checksum of its arrays; a corrupt or truncated entry is recomputed with a warning. A per-key file lock
keeps concurrent runs from computing or writing the same entry twice. An interrupted sweep loses only the
point being computed: every finished point is already on disk.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from tqdm.std import tqdm

from sgdtails import __version__

Arrays = dict[str, np.ndarray]
_CHECKSUM = "__sha256__"
_PARAMS = "__params__"
LOG_ENV = "SGDTAILS_CACHE_LOG"
#: set to "0" (the pipeline does, papermill shows its own bar) to silence sweep progress bars
PROGRESS_ENV = "SGDTAILS_PROGRESS"


class CacheCorruptionWarning(UserWarning):
    """A cache entry failed its checksum or could not be read and was recomputed."""


def device_entry(device: str) -> dict[str, str]:
    """The device as an entry of a cache key (and, where the caller wants it, of a seed): ``{}`` on the CPU,
    so that CPU keys and numbers stay what they were before a device option existed."""
    return {} if device == "cpu" else {"device": device}


def canonical_params(params: Mapping[str, Any]) -> str:
    """Canonical JSON of ``params`` (sorted keys; numpy scalars and arrays as lists)."""

    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        raise TypeError(f"cache parameter of type {type(obj).__name__} is not JSON-serialisable: {obj!r}")

    return json.dumps(params, sort_keys=True, default=default, separators=(",", ":"))


@functools.cache
def library_fingerprint() -> str:
    """The library version plus a hash of its source files: any code change invalidates cached results."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


def cache_key(namespace: str, params: Mapping[str, Any], version: str | None = None) -> str:
    """Hex key of (namespace, params, library version and source hash)."""
    payload = f"{namespace}\n{canonical_params(params)}\n{version or library_fingerprint()}"
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _as_arrays(result: Mapping[str, Any]) -> Arrays:
    if not isinstance(result, Mapping):
        raise TypeError(f"compute must return a mapping of names to arrays, got {type(result).__name__}")
    out: Arrays = {}
    for name, value in result.items():
        if name.startswith("__"):
            raise ValueError(f"result names may not start with '__': {name!r}")
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"result {name!r} is an object array; store numbers or strings only")
        out[str(name)] = arr
    return out


def write_entry(path: Path, arrays: Mapping[str, np.ndarray], params_json: str = "") -> None:
    """Write ``arrays`` and their checksum to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(arrays)
    payload[_CHECKSUM] = np.asarray(_checksum(arrays))
    payload[_PARAMS] = np.asarray(params_json)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_entry(path: Path) -> Arrays | None:
    """Read and verify an entry; ``None`` (with a warning) if corrupt, truncated or failing its checksum."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        stored = str(arrays.pop(_CHECKSUM))
        arrays.pop(_PARAMS, None)
    except Exception as exc:  # a truncated zip raises several different errors
        warnings.warn(f"cache entry {path} is unreadable ({type(exc).__name__}: {exc}); recomputing",
                      CacheCorruptionWarning, stacklevel=3)
        return None
    if _checksum(arrays) != stored:
        warnings.warn(f"cache entry {path} fails its checksum; recomputing",
                      CacheCorruptionWarning, stacklevel=3)
        return None
    return arrays


def _log(event: str, namespace: str, key: str) -> None:
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"event": event, "namespace": namespace, "key": key}) + "\n")


def cached(
    cache_dir: str | os.PathLike[str] | None,
    namespace: str,
    params: Mapping[str, Any],
    compute: Callable[[], Mapping[str, Any]],
) -> Arrays:
    """Return ``compute()`` as a dict of arrays, from ``cache_dir`` when an entry for ``params`` exists.

    ``params`` must determine the result (include the seed). With ``cache_dir=None`` nothing is stored.
    """
    if cache_dir is None:
        return _as_arrays(compute())
    key = cache_key(namespace, params)
    path = Path(cache_dir) / namespace / f"{key}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            arrays = read_entry(path)
            if arrays is not None:
                _log("hit", namespace, key)
                return arrays
        arrays = _as_arrays(compute())
        write_entry(path, arrays, canonical_params(params))
        _log("miss", namespace, key)
        return arrays


def sweep(
    cache_dir: str | os.PathLike[str] | None,
    namespace: str,
    points: Sequence[Mapping[str, Any]],
    compute: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    *,
    desc: str | None = None,
    progress: bool = True,
) -> list[Arrays]:
    """Evaluate ``compute(point)`` for every point, each cached on its own, with a progress bar.

    Finished points survive an interruption; a re-run recomputes only the missing ones.
    """
    results: list[Arrays] = []
    show = progress and os.environ.get(PROGRESS_ENV, "1") != "0"
    bar = tqdm(points, desc=desc or namespace, disable=not show, leave=False)
    for point in bar:
        results.append(cached(cache_dir, namespace, point, lambda p=point: compute(p)))
    return results
