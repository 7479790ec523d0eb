"""Speed of the simulators against the physical limit (random-normal generation) and against the peer code.

Usage: ``python benchmarks/run.py [--quick] [--device cpu|cuda] [--threads 1] [--no-peer] [--no-jkr-peer]
[--no-memory]`` (``make bench``). Prints a table and writes it as CSV under ``benchmarks/results/``
(git-ignored). On the CPU it ends with the two peer comparisons, ``benchmarks/peer.py`` (Gurbuzbalaban et
al.) and ``benchmarks/jkr_peer.py`` (Jiao & Keller-Ressel: Fig. 1 runs, their law, and the offline kernel
against the machine's memory bandwidth and arithmetic rate).

For each configuration (linear SGD d=100, B=1/10/100; hSGD d=100; ReLU-gate SGD and variant d=100,
b=1/10; direct and reduced samplers; float32 and float64):

- ``kernel``: chain-steps per second of the sampler alone (the function the simulation loop calls);
- ``run``: chain-steps per second of the library call (``run_sgd`` / ``run_hsgd`` / ``run_relu``),
  including its bookkeeping (divergence checks, averages);
- ``normals``: normal variates one chain-step draws (``sgdtails.reduced.normals_per_step``); gamma
  variates of the Wishart batch sums are listed separately and not counted as normals;
- ``limit``: the generator's throughput, normals per second, measured in the same run: torch's own
  generator filling a large tensor (2^22 entries; 2^27 on a GPU) of the same dtype on the same device,
  best of 3, measured just before and just after each configuration (the better of the two is used, so
  that load from other processes cannot make a sampler look better than the generator); ``limit/s`` in
  the table is that throughput divided by the configuration's normals per step;
- ``eff``: normals drawn per second / ``limit``: 1 means the step costs no more than drawing its normals;
- ``peak MB``: peak memory for 1e5 chains at d=100: on the CPU the peak resident set size
  (``getrusage`` ``ru_maxrss``) of a fresh subprocess per configuration, minus its size before the run
  (its total in parentheses); on CUDA ``torch.cuda.max_memory_allocated``. Configurations whose
  mini-batch tensor alone would exceed 3 GB are not run (the predicted size is shown).

Timings take the best of three repetitions (``timeit`` practice) because the machine may be shared;
intra-op threads default to 1 (on a busy 2-core machine torch's thread pool oversubscribes the cores
and small tensor ops slow down tenfold; normal generation is single-threaded anyway).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sgdtails import data  # noqa: E402
from sgdtails.linear import hsgd, sgd  # noqa: E402
from sgdtails.linear import reduced as linear_reduced  # noqa: E402
from sgdtails.relu import law as relu_law  # noqa: E402
from sgdtails.relu import reduced as relu_reduced  # noqa: E402
from sgdtails.relu import simulate as relu_sim  # noqa: E402

D = 100
MEM_CHAINS = 100_000
MEM_LIMIT_BYTES = {"cpu": 3e9, "cuda": 40e9}


# --------------------------------------------------------------------------------------------------
# configurations
# --------------------------------------------------------------------------------------------------
def configurations(quick: bool) -> list[dict]:
    cfgs: list[dict] = []
    dtypes = ("float32", "float64")
    for dt in dtypes:
        for b in (1, 10, 100):
            for s in ("direct", "reduced"):
                cfgs.append({"kind": "linear", "algorithm": "sgd", "batch": b, "sampler": s, "dtype": dt})
        cfgs.append({"kind": "hsgd", "algorithm": "hsgd", "batch": 10, "sampler": "direct", "dtype": dt})
        for alg in ("sgd", "variant"):
            for b in (1, 10):
                for s in ("direct", "reduced"):
                    cfgs.append({"kind": "relu", "algorithm": alg, "batch": b, "sampler": s, "dtype": dt})
    return cfgs


def memory_configurations(cfgs: list[dict], quick: bool) -> list[dict]:
    if not quick:
        return cfgs
    return [c for c in cfgs if c["dtype"] == "float32" and c["batch"] == 10
            and (c["kind"] == "linear" or (c["algorithm"] == "sgd" and c["sampler"] == "reduced"))]


def _tdtype(name: str) -> torch.dtype:
    return torch.float32 if name == "float32" else torch.float64


def linear_problem() -> data.GaussianDesign:
    return data.isotropic(D, sigma=1.0)


def linear_gamma(batch: int) -> float:
    """Half the step size at which the stationary tail index is 2 (isotropic, lambda = 1): stable."""
    return 0.5 * 2.0 / (1.0 + (D + 1) / batch)


RELU_ETA = 0.1


def normals(cfg: dict) -> dict[str, int]:
    kind = cfg["kind"]
    if kind == "hsgd":
        return linear_reduced.normals_per_step("hsgd", d=D, batch=cfg["batch"])
    mode = "explicit"
    if kind == "linear" and cfg["sampler"] == "reduced":
        mode = linear_reduced.resolve_batch_sums("auto", cfg["batch"], _tdtype(cfg["dtype"]), cfg["device"])
    return linear_reduced.normals_per_step(kind, d=D, batch=cfg["batch"], batch_sums=mode, sigma=1.0,
                                    sampler=cfg["sampler"])


def n_chains_for(cfg: dict) -> int:
    """Enough chains to amortise per-call overhead, few enough that a direct mini-batch stays ~8M entries."""
    per = normals(cfg)["normal"]
    big = 1 << (23 if cfg["device"] == "cpu" else 27)
    cap = 10_000 if cfg["device"] == "cpu" else 1 << 18
    return int(min(cap, max(256, big // per)))


# --------------------------------------------------------------------------------------------------
# builders: the kernel (one call = one step of every chain) and the library call
# --------------------------------------------------------------------------------------------------
def _ensure_registered() -> None:
    """Make ``sampler="reduced"`` of ``run_sgd`` available in this process if the library does not offer
    it yet (``relu`` loads ``sgdtails.reduced`` itself)."""
    sgd.GRADIENT_SAMPLERS.setdefault("reduced", linear_reduced.linear_gradient_sampler)


def build_kernel(cfg: dict, n: int, gen: torch.Generator):
    dev, dt = torch.device(cfg["device"]), _tdtype(cfg["dtype"])
    if cfg["kind"] == "linear":
        prob = linear_problem()
        factory = (linear_reduced.linear_gradient_sampler if cfg["sampler"] == "reduced"
                   else sgd.direct_gradient_sampler)
        grad = factory(prob, cfg["batch"], gen, dev, dt)
        x = torch.randn(n, D, generator=gen, dtype=dt, device=dev) * 0.1
        return lambda: grad(x)
    if cfg["kind"] == "relu":
        law = relu_law.DataLaw.make("realizable", D)
        ws = relu_law.random_teacher(D, 1, dtype=dt, device=dev)
        if cfg["sampler"] == "reduced":
            step = relu_reduced.relu_stepper(algorithm=cfg["algorithm"], law=law, batch=cfg["batch"],
                                        eta=RELU_ETA, w_star=ws)
        else:
            step = relu_sim.make_stepper("direct", algorithm=cfg["algorithm"], law=law, batch=cfg["batch"],
                                     eta=RELU_ETA, w_star=ws)
        z = torch.randn(n, D, generator=gen, dtype=dt, device=dev) * 0.1
        return lambda: step(z, gen)
    return None


def run_library(cfg: dict, n: int, n_iter: int, seed: int = 0):
    dev, dt = cfg["device"], _tdtype(cfg["dtype"])
    if cfg["kind"] == "linear":
        _ensure_registered()
        return sgd.run_sgd(linear_problem(), linear_gamma(cfg["batch"]), cfg["batch"], n_chains=n,
                              n_iter=n_iter, seed=seed, device=dev, dtype=dt, sampler=cfg["sampler"])
    if cfg["kind"] == "hsgd":
        return hsgd.run_hsgd(linear_problem(), 0.05, cfg["batch"], n_chains=n, n_iter=n_iter, seed=seed,
                             device=dev, dtype=dt)
    return relu_sim.run_relu(cfg["algorithm"], "realizable", d=D, batch=cfg["batch"], eta=RELU_ETA,
                             n_chains=n, n_iters=n_iter, seed=seed, sampler=cfg["sampler"], device=dev,
                             dtype=dt, n_trajectories=0)


def substeps(cfg: dict) -> int:
    return hsgd.default_substeps(1.0, 0.05) if cfg["kind"] == "hsgd" else 1


# --------------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------------
def _sync(device: str) -> None:
    if device != "cpu":
        torch.cuda.synchronize()


def best_rate(fn, work: float, budget: float, device: str, reps: int = 3) -> float:
    """Best of ``reps`` rates (work units per second), each repetition running ``fn`` for budget/reps s."""
    fn()
    _sync(device)
    best = 0.0
    for _ in range(reps):
        k, t0 = 0, time.perf_counter()
        while True:
            fn()
            k += 1
            _sync(device)
            el = time.perf_counter() - t0
            if el >= budget / reps:
                break
        best = max(best, work * k / el)
    return best


def normal_limit(dtype: str, device: str, budget: float) -> float:
    gen = torch.Generator(device=device).manual_seed(0)
    buf = torch.empty(1 << (22 if device == "cpu" else 27), dtype=_tdtype(dtype), device=device)
    return best_rate(lambda: buf.normal_(generator=gen), buf.numel(), budget, device)


def time_run(cfg: dict, n: int, budget: float) -> float:
    """Chain-steps (iterations) per second of the library call, best of 3, ~budget seconds in all."""
    t0 = time.perf_counter()
    run_library(cfg, n, 2)
    _sync(cfg["device"])
    per_iter = max((time.perf_counter() - t0) / 2, 1e-6)
    n_iter = max(3, int(budget / 3 / per_iter))
    best = 0.0
    for rep in range(3):
        t0 = time.perf_counter()
        run_library(cfg, n, n_iter, seed=rep)
        _sync(cfg["device"])
        best = max(best, n * n_iter / (time.perf_counter() - t0))
    return best


# --------------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------------
def predicted_batch_bytes(cfg: dict, n: int) -> float:
    per = normals(cfg)["normal"]
    return float(n) * per * (4 if cfg["dtype"] == "float32" else 8)


def probe_memory(cfg: dict) -> dict:
    """Run 2 iterations of the library call on MEM_CHAINS chains; report peak memory (MB)."""
    if cfg["device"] != "cpu":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run_library(cfg, MEM_CHAINS, 2)
        torch.cuda.synchronize()
        return {"peak_mb": (torch.cuda.max_memory_allocated() - before) / 2**20, "total_mb": float("nan")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", json.dumps(cfg)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        return {"peak_mb": float("nan"), "total_mb": float("nan"), "error": out.stderr[-300:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _probe_main(cfg_json: str) -> None:
    cfg = json.loads(cfg_json)
    torch.set_num_threads(1)
    run_library(cfg, 64, 2)  # warm up imports and allocator
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    run_library(cfg, MEM_CHAINS, 2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mb": peak - before, "total_mb": peak}))


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------
def fmt(v: float, spec: str = ".3g") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="sgdtails benchmark")
    ap.add_argument("--quick", action="store_true", help="about a minute and a half instead of about four")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--no-peer", action="store_true", help="skip the peer comparisons")
    ap.add_argument("--no-jkr-peer", action="store_true",
                    help="skip the paper-1 peer (benchmarks/jkr_peer.py: Fig. 1 runs, law, roofline)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    ap.add_argument("--out", default=str(HERE / "results"), help="directory for the CSV files")
    ap.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe is not None:
        _probe_main(args.probe)
        return 0
    torch.set_num_threads(args.threads)
    if args.device != "cpu" and not torch.cuda.is_available():
        print(f"--device {args.device}: CUDA is not available here", file=sys.stderr)
        return 2
    quick = args.quick
    budget = (0.15 if quick else 0.6) * (1 if args.device == "cpu" else 2)
    t_start = time.perf_counter()
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dev_name = (torch.cuda.get_device_name() if args.device != "cpu"
                else f"CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s)")
    print(f"sgdtails benchmark {stamp} on {dev_name}; torch {torch.__version__}; "
          f"{'quick' if quick else 'full'}; load average {os.getloadavg()[0]:.1f}")

    limits = {dt: normal_limit(dt, args.device, 3 * budget) for dt in ("float32", "float64")}
    for dt, v in limits.items():
        print(f"  random-normal limit at the start ({dt}, torch normal_ filling a large tensor): "
              f"{v:.3g} normals/s")

    cfgs = [{**c, "device": args.device} for c in configurations(quick)]
    mem_set = {json.dumps(c, sort_keys=True) for c in memory_configurations(cfgs, quick)}
    rows = []
    for cfg in cfgs:
        n = n_chains_for(cfg)
        gen = torch.Generator(device=args.device).manual_seed(0)
        lim_before = normal_limit(cfg["dtype"], args.device, budget / 2)
        kern = build_kernel(cfg, n, gen)
        k_rate = best_rate(kern, n, budget, args.device) if kern is not None else float("nan")
        r_rate = time_run(cfg, n, budget)
        lim = max(lim_before, normal_limit(cfg["dtype"], args.device, budget / 2))
        limits[cfg["dtype"]] = max(limits[cfg["dtype"]], lim)
        nn = normals(cfg)
        m = substeps(cfg)
        per_step = nn["normal"] * m
        mem = {"peak_mb": float("nan"), "total_mb": float("nan")}
        pred = predicted_batch_bytes(cfg, MEM_CHAINS)
        if not args.no_memory and json.dumps(cfg, sort_keys=True) in mem_set:
            mem = (probe_memory(cfg) if pred <= MEM_LIMIT_BYTES.get(args.device, 3e9)
                   else {"peak_mb": float("nan"), "total_mb": float("nan"),
                         "skipped": f"mini-batch alone {pred / 1e9:.0f} GB"})
        row = {"kind": cfg["kind"], "algorithm": cfg["algorithm"], "batch": cfg["batch"],
               "sampler": cfg["sampler"], "dtype": cfg["dtype"], "device": args.device, "d": D,
               "n_chains": n, "substeps": m, "normals_per_step": per_step, "gammas_per_step": nn["gamma"],
               "kernel_steps_per_s": k_rate, "run_steps_per_s": r_rate, "normal_limit": lim,
               "limit_steps_per_s": lim / per_step,
               "eff_kernel": k_rate * per_step / lim if kern is not None else float("nan"),
               "eff_run": r_rate * per_step / lim,
               "peak_mb_1e5_chains": mem["peak_mb"], "total_mb_1e5_chains": mem["total_mb"],
               "memory_note": mem.get("skipped", mem.get("error", ""))}
        rows.append(row)
        print(f"  . {cfg['kind']:6s} {cfg['algorithm']:7s} B={cfg['batch']:<3d} {cfg['sampler']:7s} "
              f"{cfg['dtype']}: run {r_rate:.3g}/s", flush=True)
    # speed-up of reduced over direct
    for r in rows:
        twin = [q for q in rows if q["kind"] == r["kind"] and q["algorithm"] == r["algorithm"]
                and q["batch"] == r["batch"] and q["dtype"] == r["dtype"] and q["sampler"] == "direct"]
        r["speedup_vs_direct"] = r["run_steps_per_s"] / twin[0]["run_steps_per_s"] if twin else float("nan")

    header = (f"{'model':14s} {'B':>4s} {'sampler':8s} {'dtype':8s} {'N':>6s} {'normals':>8s} "
              f"{'kernel/s':>9s} {'run/s':>9s} {'limit/s':>9s} {'eff.k':>6s} {'eff.run':>7s} "
              f"{'x direct':>8s} {'peak MB (total)':>17s}")
    m_hsgd = substeps({"kind": "hsgd"})
    print(f"\nchain-steps per second (d=100; hSGD: one iteration = {m_hsgd} Euler sub-step(s))")
    print(header)
    print("-" * len(header))
    for r in rows:
        model = f"{r['kind']}-{r['algorithm']}" if r["kind"] == "relu" else r["kind"]
        normals_s = f"{r['normals_per_step']}" + (f"+{r['gammas_per_step']}g" if r["gammas_per_step"] else "")
        if r["memory_note"].startswith("mini-batch"):
            mem_s = f"({r['memory_note']})"
        elif math.isnan(r["peak_mb_1e5_chains"]):
            mem_s = "-"
        else:
            mem_s = f"{r['peak_mb_1e5_chains']:.0f} ({fmt(r['total_mb_1e5_chains'], '.0f')})"
        print(f"{model:14s} {r['batch']:>4d} {r['sampler']:8s} {r['dtype']:8s} {r['n_chains']:>6d} "
              f"{normals_s:>8s} {fmt(r['kernel_steps_per_s']):>9s} {fmt(r['run_steps_per_s']):>9s} "
              f"{fmt(r['limit_steps_per_s']):>9s} {fmt(r['eff_kernel'], '.2f'):>6s} "
              f"{fmt(r['eff_run'], '.2f'):>7s} {fmt(r['speedup_vs_direct'], '.1f'):>8s} {mem_s:>17s}")

    print("best random-normal throughput seen in this run: "
          + ", ".join(f"{dt} {v:.3g}/s" for dt, v in limits.items()))
    for r in rows:
        if r["kind"] == "linear" and r["batch"] == 10 and r["sampler"] == "reduced":
            print(f"target (reduced linear SGD, d=100, B=10, {r['dtype']}: efficiency >= 0.5): kernel "
                  f"{r['eff_kernel']:.2f}, library call {r['eff_run']:.2f}")

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{args.device}-{stamp}.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\nwrote {path}")

    if not args.no_peer and args.device == "cpu":
        import peer

        print()
        peer_rows = peer.main(["--threads", str(args.threads)] + (["--quick"] if quick else []))
        ppath = out_dir / f"peer-{stamp}.csv"
        keys = sorted({k for r in peer_rows for k in r})
        with ppath.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(peer_rows)
        print(f"wrote {ppath}")
    if not args.no_peer and not args.no_jkr_peer and args.device == "cpu":
        import jkr_peer

        print()
        jkr_peer.main((["--quick"] if quick else []) + ["--out", str(out_dir)])
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
