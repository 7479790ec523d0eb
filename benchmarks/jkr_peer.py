"""The paper-1 peer: Jiao & Keller-Ressel (NeurIPS 2024), the SGD runs of their Fig. 1, against the library.

Usage: ``python benchmarks/jkr_peer.py [--quick | --full] [--no-roofline]`` (``benchmarks/run.py`` calls
:func:`main` after the other peer). Prints three tables and writes them as CSV under ``benchmarks/results/``.

**The peer's loop** (as described for their published experiment; their code was not re-read here, and
neither their seeds, machine nor numpy/BLAS versions are known): one Python loop per run; a run performs
``K - 1`` updates (``for k in range(1, K)``); each update draws a fresh ``np.random.permutation(n)`` of the
``n`` rows and takes its first ``B`` entries as the batch (``B = 1``); ``x -= gamma * a (a'x - b)`` (for
``B > 1`` the mean over the batch); the run starts at ``init_scale * randn(d)``; numpy float64. The runs are
spread over a ``multiprocessing.Pool`` with one process per core. Their published random-features (Z) run,
1000 runs of 10,000 steps, took 6.6 minutes on 10 processes. Here each run has its own
``np.random.RandomState(seed + i)`` (the same calls as numpy's global generator; independent runs whatever
the number of processes). Data sets and settings are the library's (``sgdtails.data.jkr_dataset``,
``jkr_settings``: the published ones).

**The library**: ``sgdtails.linear.offline.run_offline_sgd`` on the same data sets and settings (float32,
blocks of 2048 runs on every core).

Three sections:

1. *Speed*: the peer on a few runs per data set (it is slow; the per-run time is extrapolated to the
   published 1000 runs), the library on many (``--quick`` 4096, default 10,000, ``--full`` also 100,000), and
   the library on exactly the published 1000 runs; ratios per run, and against the published 6.6 minutes.
2. *Law*: like for like, the centred projection ``z = q_1'x_K - mean`` of 300 peer runs against that of the
   library's runs after the same number of updates (capped at ``--law-updates``, default 999: the full
   ``K - 1`` of X, a cap for Y and Z, the same on both sides), two-sample Kolmogorov-Smirnov test.
3. *Roofline*: the machine's limits for this kernel, measured in the same run, just before and just after the
   library's timings (the better of the two is used, as ``run.py`` does with its limit). Per update and run
   the kernel reads one data row (``d`` numbers) and does one fused multiply-add per coordinate over the
   run's state (``x -= r a``) plus a dot product (``a'x``): 2 FMAs per *element-step* (run x update x
   coordinate). (a) memory bandwidth: a large torch ``copy_`` (2 x 256 MB float32, all cores), bytes read +
   written per second; (b) compute: the same arithmetic (``vecdot``, the residual, ``addcmul_``) on a
   cache-resident block (2048 x 200 float32, the library's block; and 256 x 200, which fits a core's L2), one
   block per core on one thread per core, as the library runs. The library's element-steps per second (runs x
   updates x d / seconds) is reported as a fraction of both limits; the bandwidth limit counts 12 bytes per
   element-step (float32: read the row element, read and write the state element: what a kernel that keeps
   nothing in cache must move), the kernel as written makes 4 passes, 28 bytes (``index_select`` 4 + 4,
   ``vecdot`` 4 + 4, ``addcmul_`` 4 + 4 + 4).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import math
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(0, str(HERE.parent / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

from sgdtails.data import jkr_dataset, jkr_settings  # noqa: E402
from sgdtails.linear.offline import run_offline_sgd, top_direction  # noqa: E402

NAMES = ("X", "Y", "Z")
PUBLISHED_Z_SECONDS = 6.6 * 60  # their Z run: 1000 runs x 10,000 steps on 10 processes
PUBLISHED_PROCESSES = 10
PUBLISHED_RUNS = 1000
FLOAT32 = 4
BYTES_MIN = 3 * FLOAT32  # row element read, state element read and written
BYTES_AS_WRITTEN = 7 * FLOAT32  # index_select r+w, vecdot r+r, addcmul_ r+r+w
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------------
# the peer
# --------------------------------------------------------------------------------------------------
def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    ds = jkr_dataset(name)  # built once per process
    return ds.features, ds.targets


def peer_run(task: tuple[str, float, int, int, float, int]) -> np.ndarray:
    """One run of the peer's loop: ``K - 1`` updates, a fresh permutation each, from ``init_scale randn(d)``.
    Returns the final iterate ``x_K``."""
    name, gamma, K, B, init_scale, seed = task
    A, b = _data(name)
    n, d = A.shape
    rs = np.random.RandomState(seed)
    x = init_scale * rs.randn(d)
    for _k in range(1, K):
        idx = rs.permutation(n)[:B]
        a = A[idx]
        x -= gamma * (a.T @ (a @ x - b[idx])) / B
    return x


def _warm(name: str) -> int:
    _data(name)
    return os.getpid()


def peer_runs(pool, name: str, n_runs: int, *, K: int | None = None, seed: int = 1
              ) -> tuple[np.ndarray, float]:
    """``n_runs`` peer runs over the pool: (final iterates (n_runs, d), wall seconds)."""
    st = jkr_settings(name)
    K = st.n_iterations if K is None else K
    tasks = [(name, st.gamma, K, st.batch_size, st.init_scale, seed + i) for i in range(n_runs)]
    t0 = time.perf_counter()
    out = pool.map(peer_run, tasks, chunksize=1)
    return np.stack(out), time.perf_counter() - t0


# --------------------------------------------------------------------------------------------------
# the library
# --------------------------------------------------------------------------------------------------
def library_runs(name: str, n_runs: int, *, n_updates: int | None = None, seed: int = 0):
    """The library on the same setting: (ProjectedRuns, wall seconds)."""
    ds, st = jkr_dataset(name), jkr_settings(name)
    n_updates = st.n_updates if n_updates is None else n_updates
    t0 = time.perf_counter()
    res = run_offline_sgd(ds, st.gamma, n_runs=n_runs, n_updates=n_updates, init_scale=st.init_scale,
                          seed=seed, progress=False)
    return res, time.perf_counter() - t0


def _warm_library() -> None:
    for name in NAMES:
        library_runs(name, 64, n_updates=10)


# --------------------------------------------------------------------------------------------------
# roofline
# --------------------------------------------------------------------------------------------------
def memory_bandwidth(n_bytes: int = 1 << 28, reps: int = 5, threads: int | None = None) -> float:
    """Bytes read + written per second by ``dst.copy_(src)`` of two ``n_bytes`` float32 tensors (far larger
    than the caches), best of ``reps``, on ``threads`` torch threads (default: every core)."""
    prev = torch.get_num_threads()
    torch.set_num_threads(threads or cores())
    try:
        src = torch.rand(n_bytes // FLOAT32)
        dst = torch.empty_like(src)
        dst.copy_(src)
        best = 0.0
        for _ in range(reps):
            t0 = time.perf_counter()
            dst.copy_(src)
            best = max(best, 2 * n_bytes / (time.perf_counter() - t0))
        return best
    finally:
        torch.set_num_threads(prev)


def _arith_block(nb: int, d: int, seconds: float, seed: int) -> tuple[int, float]:
    """The kernel's arithmetic on one cache-resident block, repeated for about ``seconds``:
    ``r = gamma (a'x) - gamma b; x -= r a``. Returns (element-steps done, seconds)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(nb, d, generator=g) / math.sqrt(d)  # |a|^2 ~ 1/3: the iteration stays bounded
    x = torch.randn(nb, d, generator=g)
    neg_gb = -0.2 * torch.rand(nb, generator=g)
    r = torch.empty(nb)
    reps = 0
    t0 = time.perf_counter()
    el = 0.0
    while el < seconds:
        for _ in range(50):
            torch.linalg.vecdot(a, x, out=r)
            r.mul_(0.2).add_(neg_gb)
            x.addcmul_(a, r.unsqueeze(1), value=-1.0)
        reps += 50
        el = time.perf_counter() - t0
    if not bool(torch.isfinite(x).all()):  # pragma: no cover (a bounded iteration)
        raise RuntimeError("compute probe diverged")
    return reps * nb * d, el


def compute_rate(nb: int, d: int = 200, seconds: float = 1.0, workers: int | None = None,
                 reps: int = 3) -> float:
    """Element-steps per second of the kernel's arithmetic on cache-resident (nb, d) float32 blocks, one per
    worker thread (default: one per core), torch on one intra-op thread as in the library; best of reps."""
    workers = workers or cores()
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    best = 0.0
    try:
        with ThreadPoolExecutor(max_workers=workers) as ex:
            list(ex.map(lambda i: _arith_block(nb, d, 0.05, i), range(workers)))  # warm-up
            for _ in range(reps):
                t0 = time.perf_counter()
                parts = list(ex.map(lambda i: _arith_block(nb, d, seconds / reps, i), range(workers)))
                wall = time.perf_counter() - t0
                best = max(best, sum(p[0] for p in parts) / wall)
    finally:
        torch.set_num_threads(prev)
    return best


def matmul_flops(n: int = 1024, reps: int = 5) -> float:
    """FLOP/s of a float32 matrix product on every core (torch threads = cores), best of ``reps``: the
    machine's arithmetic peak, for scale (not this kernel's limit)."""
    prev = torch.get_num_threads()
    torch.set_num_threads(cores())
    try:
        a, b = torch.rand(n, n), torch.rand(n, n)
        c = a @ b
        best = 0.0
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.mm(a, b, out=c)
            best = max(best, 2 * n**3 / (time.perf_counter() - t0))
        return best
    finally:
        torch.set_num_threads(prev)


def machine_limits(seconds: float = 1.5) -> tuple[float, dict[int, float]]:
    """(memory bandwidth in bytes/s, {block rows: compute rate in element-steps/s})."""
    return memory_bandwidth(), {nb: compute_rate(nb, 200, seconds=seconds) for nb in (2048, 256)}


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------
def _fmt_s(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.2f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.3g} s"


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="library on 4096 runs (default 10,000)")
    size.add_argument("--full", action="store_true", help="also measure the library on 100,000 runs")
    ap.add_argument("--peer-runs", type=int, default=None,
                    help="peer runs timed per data set (default 20 for Y and Z, 50 for X; more with --full)")
    ap.add_argument("--law-runs", type=int, default=300, help="peer runs for the law check (0: skip)")
    ap.add_argument("--law-updates", type=int, default=999,
                    help="updates of the law check's runs, both sides (0: the paper's K - 1)")
    ap.add_argument("--no-roofline", action="store_true", help="skip the machine-limit measurements")
    ap.add_argument("--out", default=str(HERE / "results"), help="directory for the CSV files")
    args = ap.parse_args(argv)
    np.seterr(all="ignore")
    n_cores = cores()
    n_lib = 4096 if args.quick else 10_000
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    t_start = time.perf_counter()
    print(f"Peer comparison, paper 1 (Jiao & Keller-Ressel 2024, Fig. 1 runs) {stamp}: {n_cores} cores; "
          f"numpy {np.__version__}, torch {torch.__version__}; load average {os.getloadavg()[0]:.1f}")

    # The peer's pool is forked before torch has done any work in this process (no thread pool to inherit).
    ctx = mp.get_context("fork")
    rows: list[dict] = []
    peer_time: dict[str, tuple[float, int]] = {}
    peer_law: dict[str, np.ndarray] = {}
    law_updates: dict[str, int] = {}
    with ctx.Pool(processes=n_cores) as pool:
        for name in NAMES:
            pool.map(_warm, [name] * (4 * n_cores), chunksize=1)
        for name in NAMES:
            st = jkr_settings(name)
            k = args.peer_runs or ((100 if st.n_iterations <= 1000 else 40) if args.full
                                   else (50 if st.n_iterations <= 1000 else 20))
            _, secs = peer_runs(pool, name, k, seed=1_000_000)
            peer_time[name] = (secs / k, k)
        if args.law_runs > 0:
            for name in NAMES:
                st = jkr_settings(name)
                upd = st.n_updates if args.law_updates <= 0 else min(args.law_updates, st.n_updates)
                law_updates[name] = upd
                peer_law[name], _ = peer_runs(pool, name, args.law_runs, K=upd + 1, seed=1)

    torch.set_num_threads(1)
    # the limits are measured just before and just after the library's timings; the better of the two is used
    # (so that load from other processes cannot make the library look closer to the limit than it is)
    limits = None if args.no_roofline else machine_limits()
    torch.set_num_threads(1)
    _warm_library()
    lib_time: dict[str, float] = {}
    lib_1000: dict[str, float] = {}
    lib_full: dict[str, float] = {}
    for name in NAMES:
        res, secs = library_runs(name, n_lib, seed=1)
        lib_time[name] = secs / n_lib
        if res.n_diverged:
            print(f"  note: {res.n_diverged} library runs diverged on {name}")
        lib_1000[name] = library_runs(name, PUBLISHED_RUNS, seed=2)[1]
        if args.full:
            lib_full[name] = library_runs(name, 100_000, seed=3)[1]

    # ---- speed table
    print(f"\n1. Speed. Peer: numpy float64, a Pool of {n_cores} processes, timed on the number of runs "
          f"shown and extrapolated per run; library: run_offline_sgd (float32, blocks on {n_cores} cores) on "
          f"{n_lib:,} runs. Times are wall-clock on this machine, per run = wall / runs.")
    hdr = (f"  {'set':3s} {'n':>5s} {'d':>4s} {'K-1':>6s} {'peer runs':>9s} {'peer s/run':>10s} "
           f"{'lib s/run':>10s} {'ratio':>7s} {'peer 1000 (extrap.)':>19s} {'lib 1000':>9s} "
           f"{'lib 100,000':>16s}")
    print(hdr)
    for name in NAMES:
        ds, st = jkr_dataset(name), jkr_settings(name)
        p, k = peer_time[name]
        lib = lib_time[name]
        big = lib_full.get(name, lib * 100_000)
        big_s = _fmt_s(big) + (" (meas.)" if name in lib_full else " (extrap.)")
        print(f"  {name:3s} {ds.n:5d} {ds.d:4d} {st.n_updates:6d} {k:9d} {p:10.4g} {lib:10.3g} "
              f"{p / lib:7.0f} {_fmt_s(p * PUBLISHED_RUNS):>19s} {_fmt_s(lib_1000[name]):>9s} {big_s:>16s}")
        rows.append({"section": "speed", "dataset": name, "n": ds.n, "d": ds.d, "n_updates": st.n_updates,
                     "processes": n_cores, "peer_runs_timed": k, "peer_s_per_run": p,
                     "peer_core_s_per_run": p * n_cores, "library_runs": n_lib, "library_s_per_run": lib,
                     "ratio_per_run": p / lib, "peer_1000_runs_s_extrapolated": p * PUBLISHED_RUNS,
                     "library_1000_runs_s": lib_1000[name], "library_100000_runs_s": big,
                     "library_100000_measured": name in lib_full,
                     "library_element_steps_per_s": st.n_updates * ds.d / lib})
    tot_peer = sum(peer_time[n][0] for n in NAMES) * PUBLISHED_RUNS
    tot_lib = sum(lib_1000.values())
    print(f"  the published Fig. 1 (1000 runs on each of X, Y, Z): peer {_fmt_s(tot_peer)} (extrapolated, "
          f"{n_cores} processes), library {_fmt_s(tot_lib)} (measured); ratio {tot_peer / tot_lib:.0f}")
    pz = peer_time["Z"][0] * n_cores
    print(f"  Z against the published 6.6 min on {PUBLISHED_PROCESSES} processes: library "
          f"{_fmt_s(lib_1000['Z'])} for the same 1000 runs on {n_cores} cores, "
          f"{PUBLISHED_Z_SECONDS / lib_1000['Z']:.0f} x faster (different machines); this peer would take "
          f"{_fmt_s(pz * PUBLISHED_RUNS / PUBLISHED_PROCESSES)} on {PUBLISHED_PROCESSES} processes "
          f"({pz:.3g} core-s per run, against their {PUBLISHED_Z_SECONDS * PUBLISHED_PROCESSES / 1000:.3g})")
    print(f"  note: 1000 runs are one block of the library (block_size 2048), so 'lib 1000' uses one core of "
          f"{n_cores}.")
    rows.append({"section": "speed", "dataset": "Z", "published_s": PUBLISHED_Z_SECONDS,
                 "published_processes": PUBLISHED_PROCESSES, "library_1000_runs_s": lib_1000["Z"],
                 "ratio_published_over_library": PUBLISHED_Z_SECONDS / lib_1000["Z"],
                 "peer_on_10_processes_s_extrapolated": pz * PUBLISHED_RUNS / PUBLISHED_PROCESSES})

    # ---- law
    if peer_law:
        print(f"\n2. Law, like for like: z = q_1'x_K - mean over the runs, {args.law_runs} peer runs against "
              "4096 library runs after the same number of updates; two-sample KS test.")
        print(f"  {'set':3s} {'updates':>7s} {'sd peer':>9s} {'sd lib':>9s} "
              + " ".join(f"{'q' + format(q, 'g'):>15s}" for q in (0.05, 0.5, 0.95))
              + f" {'KS D':>6s} {'p':>6s}")
        for name in NAMES:
            ds = jkr_dataset(name)
            q1 = top_direction(ds)
            yp = peer_law[name] @ q1
            zp = yp - yp.mean()
            res, _ = library_runs(name, 4096, n_updates=law_updates[name], seed=7)
            zl = res.centred_projection()
            ks = stats.ks_2samp(zp, zl)
            qp, ql = np.quantile(zp, QUANTILES), np.quantile(zl, QUANTILES)
            pick = [QUANTILES.index(q) for q in (0.05, 0.5, 0.95)]
            print(f"  {name:3s} {law_updates[name]:7d} {zp.std():9.4g} {zl.std():9.4g} "
                  + " ".join(f"{qp[i]:7.3g}/{ql[i]:<7.3g}" for i in pick)
                  + f" {ks.statistic:6.3f} {ks.pvalue:6.3f}")
            rows.append({"section": "law", "dataset": name, "n_updates": law_updates[name],
                         "peer_runs": args.law_runs, "library_runs": 4096, "library_diverged": res.n_diverged,
                         "sd_peer": float(zp.std()), "sd_library": float(zl.std()),
                         **{f"q{q:g}_peer": float(v) for q, v in zip(QUANTILES, qp, strict=True)},
                         **{f"q{q:g}_library": float(v) for q, v in zip(QUANTILES, ql, strict=True)},
                         "ks_D": float(ks.statistic), "ks_p": float(ks.pvalue)})
        print("  (quantiles: peer/library)")

    # ---- roofline
    if not args.no_roofline:
        bw1, comp1 = limits
        bw2, comp2 = machine_limits()
        bw = max(bw1, bw2)
        comp = {nb: max(comp1[nb], comp2[nb]) for nb in comp1}
        climit = max(comp.values())
        print(f"\n3. Roofline, on {n_cores} cores (best of before and after the library's timings): memory "
              f"bandwidth {bw / 1e9:.1f} GB/s "
              f"(torch copy_ of 256 MB, read + written); kernel arithmetic (vecdot + residual + addcmul_, "
              "2 FMAs per element-step) on cache-resident blocks, one per core: "
              + ", ".join(f"{nb} x 200: {v / 1e9:.2f} G element-steps/s" for nb, v in comp.items())
              + f" (the better, {climit / 1e9:.2f} G/s = {4 * climit / 1e9:.1f} GFLOP/s, is the compute "
              "limit)")
        print(f"  for scale: a float32 matrix product runs at {matmul_flops() / 1e9:.0f} GFLOP/s on the same "
              "cores; the kernel's element-wise passes (each a sweep over the block) are far from that peak")
        print(f"  bytes per element-step: {BYTES_MIN} that must move (float32 row element read, state read "
              f"and written), {BYTES_AS_WRITTEN} as the kernel is written (4 passes); bandwidth limit "
              f"{bw / BYTES_MIN / 1e9:.2f} G element-steps/s")
        print(f"  {'set':3s} {'runs':>7s} {'el-steps/s':>11s} {'of compute':>10s} {'of bandwidth':>12s} "
              f"{'traffic as written':>18s}")
        for name in NAMES:
            ds, st = jkr_dataset(name), jkr_settings(name)
            rate = st.n_updates * ds.d / lib_time[name]
            print(f"  {name:3s} {n_lib:7d} {rate:11.3g} {rate / climit:10.2f} {rate * BYTES_MIN / bw:12.2f} "
                  f"{rate * BYTES_AS_WRITTEN / 1e9:12.1f} GB/s")
            rows.append({"section": "roofline", "dataset": name, "library_runs": n_lib,
                         "library_element_steps_per_s": rate, "bandwidth_bytes_per_s": bw,
                         "compute_limit_element_steps_per_s": climit,
                         **{f"compute_{nb}x200_element_steps_per_s": v for nb, v in comp.items()},
                         "fraction_of_compute": rate / climit,
                         "fraction_of_bandwidth_12B": rate * BYTES_MIN / bw,
                         "traffic_as_written_bytes_per_s": rate * BYTES_AS_WRITTEN})
        print("  (the data sets, 0.5-1.6 MB in float32, and a block's state fit the last-level cache: the "
              "DRAM bandwidth is an upper bound this kernel need not reach)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"jkr-peer-{stamp}.csv"
    _write_csv(path, rows)
    print(f"\nwrote {path}; total {time.perf_counter() - t_start:.0f} s; load average "
          f"{os.getloadavg()[0]:.1f}")
    return rows


if __name__ == "__main__":
    main()
