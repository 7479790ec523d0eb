"""The GPU path: simulations run end to end with ``device="cuda"``; the reduced samplers never synchronise.

Skipped, with the reason, where CUDA is not available (CI has no GPU).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from sgdtails import data
from sgdtails.experiments import bounds_hold
from sgdtails.linear import hsgd, sgd
from sgdtails.linear import reduced as linear_reduced
from sgdtails.linear.hsgd_multirate import run_hsgd_multirate
from sgdtails.relu import law as relu_law
from sgdtails.relu import radial as relu_radial
from sgdtails.relu import reduced as relu_reduced
from sgdtails.relu import simulate as relu_sim

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="CUDA is not available on this machine (no GPU or CPU-only torch)")

CUDA = torch.device("cuda")


def _cuda_gen(seed: int) -> torch.Generator:
    return torch.Generator(device=CUDA).manual_seed(seed)


class _NoSync:
    """Raise on any host-device synchronisation (a hidden ``.cpu()``, ``.item()``, ``.numpy()``...)."""

    def __enter__(self) -> None:
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")

    def __exit__(self, *exc: object) -> None:
        torch.cuda.set_sync_debug_mode(0)


@pytest.mark.parametrize("batch", [1, 10, 100])
@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_linear_reduced_kernel_stays_on_device(batch: int, sigma: float) -> None:
    prob = data.power_law(50, exponent=1.0, sigma=sigma, x_true="random", seed=1)
    gen = _cuda_gen(0)
    grad = linear_reduced.linear_gradient_sampler(prob, batch, gen, CUDA, torch.float32)
    x = torch.zeros(4096, 50, device=CUDA)
    with _NoSync():
        for _ in range(5):
            x = x - 0.05 * grad(x)
    assert x.device.type == "cuda" and torch.isfinite(x).all()


@pytest.mark.parametrize("algorithm", ["sgd", "variant"])
@pytest.mark.parametrize("setup,noise,flip", [("realizable", 0.0, 0.0), ("realizable", 0.5, 0.0),
                                              ("binary", 0.0, 0.1)])
def test_relu_reduced_kernel_stays_on_device(algorithm: str, setup: str, noise: float, flip: float
                                             ) -> None:
    law = relu_law.DataLaw.make(setup, 30, noise, flip)
    ws = relu_law.random_teacher(30, 1, device=CUDA, dtype=torch.float32)
    step = relu_reduced.relu_stepper(algorithm=algorithm, law=law, batch=4, eta=0.2, w_star=ws)
    z = torch.randn(4096, 30, device=CUDA, generator=_cuda_gen(1)) / 30**0.5
    gen = _cuda_gen(2)
    with _NoSync():
        for _ in range(5):
            z = step(z, gen)
    assert z.device.type == "cuda" and torch.isfinite(z).all()


@pytest.mark.parametrize("sampler", ["direct", "reduced", "auto"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_run_sgd_on_cuda(sampler: str, dtype: torch.dtype) -> None:
    prob = data.isotropic(20, sigma=1.0)
    res = sgd.run_sgd(prob, 0.1, 4, n_chains=2000, n_iter=50, average=True, seed=3, device="cuda",
                         dtype=dtype, sampler=sampler)
    assert isinstance(res.final, np.ndarray) and res.final.shape == (2000, 20)
    assert np.isfinite(res.final).all() and res.n_diverged == 0


def test_run_sgd_offline_on_cuda() -> None:
    rng = np.random.default_rng(0)
    finite = data.FiniteDataset(features=rng.standard_normal((300, 8)), targets=rng.standard_normal(300))
    res = sgd.run_sgd(finite, 0.1, 3, n_chains=500, n_iter=30, seed=1, device="cuda")
    assert np.isfinite(res.final).all()
    with pytest.raises(ValueError, match="sampler"):
        sgd.run_sgd(finite, 0.1, 3, n_chains=10, n_iter=3, seed=1, device="cuda", sampler="reduced")


def test_run_hsgd_on_cuda() -> None:
    res = hsgd.run_hsgd(data.isotropic(20, sigma=1.0), 0.1, 4, n_chains=2000, n_iter=30, seed=3,
                        device="cuda")
    assert np.isfinite(res.final).all()


@pytest.mark.parametrize("algorithm", ["sgd", "variant"])
@pytest.mark.parametrize("sampler", ["direct", "reduced", "auto"])
def test_run_relu_on_cuda(algorithm: str, sampler: str) -> None:
    res = relu_sim.run_relu(algorithm, "binary", d=20, batch=4, eta=0.2, n_chains=2000, n_iters=40,
                        flip_prob=0.1, seed=2, sampler=sampler, device="cuda")
    assert res.last.shape == (2000, 20) and np.isfinite(res.last).all()


def test_cuda_reduced_matches_cpu_direct_in_law() -> None:
    """Final iterates of a short run: reduced on the GPU versus direct on the CPU (KS, p > 1e-3)."""
    prob = data.gaussian_design(np.linspace(1.0, 0.5, 10), sigma=1.0, x_true="random", seed=2)
    kw = {"n_chains": 8000, "n_iter": 40, "dtype": torch.float64}
    a = sgd.run_sgd(prob, 0.3, 3, seed=1, device="cuda", sampler="reduced", **kw).centered()
    b = sgd.run_sgd(prob, 0.3, 3, seed=2, device="cpu", sampler="direct", **kw).centered()
    for fa, fb in ((np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)), (a[:, 0], b[:, 0])):
        assert stats.ks_2samp(fa, fb).pvalue > 1e-3


def test_bounds_hold_on_cuda_agrees_with_the_cpu() -> None:
    """The chapter's points with SGD and hSGD on the GPU: Hill indices within 4 combined standard errors
    (from the bootstrap intervals) of the CPU's."""
    sizes = dict(n_chains=4000, n_iter=30, hsgd_max_step=0.05, kesten_walkers=128, kesten_steps=30,
                 iso_gammas=[0.3], pl_gamma_fracs=[1.0], batch_sizes=[1], dims=[10], deltas=[1.0],
                 digits_features=8, digits_gamma_fracs=[0.5])
    cpu = bounds_hold.run(bounds_hold.BoundsParams(**sizes), seed=3).frame
    gpu = bounds_hold.run(bounds_hold.BoundsParams(**sizes, device="cuda"), seed=3).frame
    for method in ("sgd", "hsgd"):
        width_cpu, width_gpu = (f[f"{method}_hi"] - f[f"{method}_lo"] for f in (cpu, gpu))
        se = np.hypot(width_cpu, width_gpu) / 3.92
        assert (np.abs(cpu[method] - gpu[method]) <= 4 * se).all(), (method, cpu[method], gpu[method])


def test_multirate_hsgd_graph_replays_give_the_eager_numbers() -> None:
    """One CUDA graph per pattern of moving groups: the same kernels on the same tensors as the eager loop,
    so the same numbers, bit for bit (a run length that ends inside the slow groups' windows)."""
    ds = data.jkr_dataset("Z")
    gamma = data.jkr_settings("Z").gamma
    runs = [run_hsgd_multirate(ds, gamma, n_runs=5000, n_iter=37, substeps=16, seed=3, device="cuda",
                               cuda_graphs=graphs, progress=False) for graphs in (True, False)]
    np.testing.assert_array_equal(runs[0].projections, runs[1].projections)
    np.testing.assert_array_equal(runs[0].diverged, runs[1].diverged)


@pytest.mark.parametrize("setup,noise", [("realizable", 0.5), ("binary", 0.0), ("linear", 0.5)])
def test_radial_relu_on_cuda_matches_the_cpu_in_law(setup: str, noise: float) -> None:
    """The radial sampler of Part II's sweeps on the GPU: |w_K - c| against the CPU's (KS, p > 1e-3)."""
    kw = dict(d=10, batch=4, eta=0.5, n_chains=20000, n_iters=200, label_noise=noise, n_trajectories=2)
    a = relu_radial.run_relu_radial("sgd", setup, seed=1, device="cuda", **kw)
    b = relu_radial.run_relu_radial("sgd", setup, seed=2, device="cpu", **kw)
    assert a.last.shape == b.last.shape and np.isfinite(a.last).all()
    za, zb = (r.last_dev if setup != "binary" else r.last for r in (a, b))
    assert stats.ks_2samp(np.linalg.norm(za, axis=1), np.linalg.norm(zb, axis=1)).pvalue > 1e-3
