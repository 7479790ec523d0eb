"""Many sigmoid networks trained at once (sgdtails.mlp): gradients, batching, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sgdtails import mlp

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, size=(40, 5))
    return a, np.sin(a.sum(1)) + 0.1 * rng.standard_normal(40)


def test_backpropagation_matches_autograd(toy):
    a, y = toy
    gen = torch.Generator().manual_seed(1)
    p = mlp.init_parameters(5, 7, 3, gen, dtype=torch.float64, shared=False)
    x = torch.as_tensor(a[None, :4].repeat(3, 0))
    t = torch.as_tensor(y[None, :4].repeat(3, 0))
    manual = mlp.gradients(p, x, t)
    leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    mlp.loss(leaves, x, t).sum().backward()
    for name in mlp.PARAMETERS:
        torch.testing.assert_close(manual[name], leaves[name].grad, rtol=1e-10, atol=1e-12)


def test_batched_step_equals_one_network_at_a_time(toy):
    a, y = toy
    gen = torch.Generator().manual_seed(2)
    p = mlp.init_parameters(5, 6, 2, gen, dtype=torch.float64, shared=False)
    singles = [{k: v[i:i + 1].clone() for k, v in p.items()} for i in range(2)]
    idx = torch.randint(0, 40, (20, 2, 3), generator=gen)
    feats, targ = torch.as_tensor(a), torch.as_tensor(y)
    for step in idx:
        mlp.sgd_step(p, feats[step], targ[step], 0.3)
        for i, q in enumerate(singles):
            mlp.sgd_step(q, feats[step[i:i + 1]], targ[step[i:i + 1]], 0.3)
    for i, q in enumerate(singles):
        for name in mlp.PARAMETERS:
            torch.testing.assert_close(p[name][i:i + 1], q[name], rtol=1e-12, atol=1e-14)


def test_training_reduces_the_loss_and_has_the_documented_shapes(toy):
    a, y = toy
    runs = mlp.train_networks(a, y, n_networks=6, n_steps=400, lr=0.5, hidden=8, seed=3, block_size=4,
                              progress=False)
    assert runs.w2.shape == (6, 8, 8) and runs.w2_init.shape == (8, 8) and runs.final_loss.shape == (6,)
    gen = torch.Generator().manual_seed(0)
    p0 = mlp.init_parameters(5, 8, 1, gen, dtype=torch.float64)
    start = float(mlp.loss(p0, torch.as_tensor(a)[None], torch.as_tensor(y)[None])[0])
    assert np.all(runs.final_loss < start)
    z = runs.centred_weight(0, 1)
    assert z.shape == (6,) and abs(z.mean()) < 1e-12 and z.std() > 0


def test_shared_initial_point_and_independence_from_workers(toy):
    a, y = toy
    args = dict(n_networks=5, n_steps=30, lr=0.2, hidden=4, seed=7, block_size=2, progress=False)
    one = mlp.train_networks(a, y, workers=1, **args)
    two = mlp.train_networks(a, y, workers=2, **args)
    np.testing.assert_array_equal(one.w2, two.w2)
    zero = mlp.train_networks(a, y, **(args | {"n_steps": 1, "lr": 1e-12}))
    np.testing.assert_allclose(zero.w2, np.broadcast_to(zero.w2_init, zero.w2.shape), atol=1e-9)


@pytest.mark.parametrize("bad,match", [(dict(lr=-1.0), "lr"), (dict(n_networks=0), "n_networks"),
                                       (dict(init="random"), "init"), (dict(batch_size=0), "batch_size")])
def test_bad_arguments_are_named(toy, bad, match):
    a, y = toy
    with pytest.raises(ValueError, match=match):
        mlp.train_networks(a, y, **(dict(n_networks=2, n_steps=2, progress=False) | bad))
    with pytest.raises(ValueError, match="targets"):
        mlp.train_networks(a, y[:-1], n_networks=2, n_steps=2, progress=False)
