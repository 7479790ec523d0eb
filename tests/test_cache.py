"""The result cache: keys, atomic verified entries, corruption recovery, resumption after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from sgdtails._core import cache


def test_key_depends_on_params_seed_and_version():
    base = cache.cache_key("ns", {"a": 1, "seed": 3})
    assert base == cache.cache_key("ns", {"seed": 3, "a": 1})  # order-free
    assert base != cache.cache_key("ns", {"a": 1, "seed": 4})
    assert base != cache.cache_key("other", {"a": 1, "seed": 3})
    assert base != cache.cache_key("ns", {"a": 1, "seed": 3}, version="0.0.0")
    assert cache.cache_key("ns", {"x": np.float64(0.5)}) == cache.cache_key("ns", {"x": 0.5})


def test_cached_computes_once_and_returns_same_arrays(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(5.0), "label": "abc", "n": 3}

    first = cache.cached(tmp_path, "ns", {"seed": 1}, compute)
    second = cache.cached(tmp_path, "ns", {"seed": 1}, compute)
    assert len(calls) == 1
    for key in ("x", "label", "n"):
        np.testing.assert_array_equal(first[key], second[key])
    assert str(second["label"]) == "abc"


def test_no_cache_dir_means_no_files(tmp_path):
    out = cache.cached(None, "ns", {}, lambda: {"x": [1, 2]})
    np.testing.assert_array_equal(out["x"], [1, 2])
    assert not any(tmp_path.iterdir())


def test_entries_are_byte_for_byte_reproducible(tmp_path):
    def compute():
        return {"x": np.linspace(0, 1, 7)}

    cache.cached(tmp_path / "a", "ns", {"seed": 2}, compute)
    cache.cached(tmp_path / "b", "ns", {"seed": 2}, compute)
    (fa,) = (tmp_path / "a" / "ns").glob("*.npz")
    (fb,) = (tmp_path / "b" / "ns").glob("*.npz")
    assert fa.read_bytes() == fb.read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_entry_is_recomputed_with_warning(tmp_path, damage):
    compute_calls = []

    def compute():
        compute_calls.append(1)
        return {"x": np.arange(1000.0)}

    cache.cached(tmp_path, "ns", {"seed": 0}, compute)
    (path,) = (tmp_path / "ns").glob("*.npz")
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(raw[: len(raw) // 2]))
    elif damage == "flip":
        # change one stored float inside the array payload (the zip is stored, not compressed)
        i = raw.find(np.float64(500.0).tobytes())
        raw[i] ^= 0xFF
        path.write_bytes(bytes(raw))
    else:
        path.write_bytes(b"not an npz")
    with pytest.warns(cache.CacheCorruptionWarning):
        out = cache.cached(tmp_path, "ns", {"seed": 0}, compute)
    np.testing.assert_array_equal(out["x"], np.arange(1000.0))
    assert len(compute_calls) == 2
    # and the repaired entry is now good
    assert cache.read_entry(path) is not None


def test_failed_compute_leaves_no_entry(tmp_path):
    def boom():
        raise RuntimeError("simulated failure")

    with pytest.raises(RuntimeError):
        cache.cached(tmp_path, "ns", {}, boom)
    assert not list((tmp_path / "ns").glob("*.npz"))
    assert not list((tmp_path / "ns").glob("*.tmp"))


def test_bad_results_are_refused(tmp_path):
    with pytest.raises(TypeError, match="mapping"):
        cache.cached(tmp_path, "ns", {}, lambda: [1, 2])
    with pytest.raises(TypeError, match="object array"):
        cache.cached(tmp_path, "ns", {"k": 1}, lambda: {"x": np.array([{}, 1], dtype=object)})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        cache.cache_key("ns", {"f": object()})


def test_sweep_logs_hits_and_misses(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv(cache.LOG_ENV, str(log))
    points = [{"i": i} for i in range(3)]
    cache.sweep(tmp_path, "ns", points, lambda p: {"y": p["i"] ** 2}, progress=False)
    out = cache.sweep(tmp_path, "ns", points, lambda p: {"y": -1}, progress=False)
    assert [int(r["y"]) for r in out] == [0, 1, 4]
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events == ["miss"] * 3 + ["hit"] * 3


SWEEP_SCRIPT = textwrap.dedent("""
    import sys, time
    from sgdtails._core.cache import sweep
    def compute(p):
        time.sleep(0.4)
        return {"y": p["i"] * 10}
    sweep(sys.argv[1], "slow", [{"i": i} for i in range(8)], compute, progress=False)
    print("finished")
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_killed_sweep_resumes_from_finished_points(tmp_path, sig):
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP_SCRIPT)
    cache_dir = tmp_path / "cache"
    # SIGINT as in a terminal, even where this test runs with it ignored (a background job inherits that)
    proc = subprocess.Popen([sys.executable, str(script), str(cache_dir)],
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while len(list((cache_dir / "slow").glob("*.npz"))) < 3:
        assert time.monotonic() < deadline, "sweep made no progress"
        assert proc.poll() is None, "sweep ended before it was killed"
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    done = sorted((cache_dir / "slow").glob("*.npz"))
    assert 3 <= len(done) < 8
    assert not list((cache_dir / "slow").glob("*.tmp"))  # no half-written entry
    assert all(cache.read_entry(p) is not None for p in done)
    # resume: only the missing points are computed
    log = tmp_path / "log.jsonl"
    env = {**__import__("os").environ, cache.LOG_ENV: str(log)}
    out = subprocess.run([sys.executable, str(script), str(cache_dir)], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    assert "finished" in out.stdout
    events = [json.loads(line)["event"] for line in Path(log).read_text().splitlines()]
    assert events.count("hit") == len(done)
    assert events.count("miss") == 8 - len(done)
