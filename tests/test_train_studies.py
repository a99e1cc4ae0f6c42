"""What the studies need from the engine: autoencoders (BCE on logits, evaluated in pixel
space), denoising (per-run traced σ), sparse AEs (per-run λ), k-fold × lr × wd grids,
regression on a tiny set over many epochs, chunking, several epochs per call, the
seed-004 window rule, progress bar and clear errors."""
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax.train import early_stopping as es_lib
from nnjax import layers as L
from nnjax.analysis import stats
from nnjax.train.progress import Progress
from nnjax.train.program import TrainState
from nnjax.train.runs import kfold, make_runs, select
from nnjax.data import gaussian_noise
from nnjax.train import (EarlyStopping, TrainConfig, evaluate, fit,
                         predict)

RNG = np.random.default_rng(1)
XA = RNG.random((256, 8)).astype(np.float32)          # "images" in [0, 1]
XA_VAL = RNG.random((64, 8)).astype(np.float32)
AE = L.Sequential(L.Linear(4), L.ActivityL1(0.0), L.ReLU(), L.Linear(8))
AE_CFG = TrainConfig(epochs=3, batch_size=32, learning_rate=1e-2, loss="binary_cross_entropy",
                     target="input", output_fn=jax.nn.sigmoid,
                     noise=gaussian_noise, drop_last=True)       # clipped to [0, 1]
X = RNG.normal(size=(255, 8)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)
MLP = L.Sequential(L.Linear(16), L.ReLU(), L.Linear(2))
CFG = TrainConfig(epochs=3, batch_size=32, learning_rate=1e-2, drop_last=True)


def max_diff(a, b):
    return max(float(jnp.max(jnp.abs(u - v)))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def run(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def test_autoencoder_denoising_and_sparsity_sweep_in_one_program():
    runs = make_runs(2, noise_std=[0.0, 0.3], l1=[0.0, 1e-2])   # 8 runs: σ × λ × seed
    res = fit(AE, AE_CFG, XA, XA_VAL, XA_VAL, runs=runs)
    assert sorted(res.history) == ["train_loss", "val_loss", "val_mse"]
    assert res.info["gradcheck"]["ok"]
    lam = np.asarray(res.model_state[1].value)                    # ActivityL1's λ (a HyperValue)
    np.testing.assert_allclose(lam, [0, 0, 1e-2, 1e-2, 0, 0, 1e-2, 1e-2], rtol=1e-6)
    # val_mse is the reconstruction error of sigmoid(logits) in [0, 1] pixel space
    recon = predict(AE, res.params, res.model_state, XA_VAL, output_fn=jax.nn.sigmoid)
    mse = np.mean((np.asarray(recon) - XA_VAL) ** 2, axis=(1, 2))
    np.testing.assert_allclose(res.history["val_mse"][:, -1], mse, rtol=1e-5)
    np.testing.assert_allclose(res.test["mse"], mse, rtol=1e-5)
    # σ = 0 and λ = 0 is the plain autoencoder (noise off, the layer's own λ = 0)
    plain = fit(AE, AE_CFG.replace(noise=None), XA, XA_VAL, runs=2, verify=False)
    assert max_diff(run(res.params, 0), run(plain.params, 0)) < 1e-6
    assert max_diff(run(res.params, 1), run(plain.params, 1)) < 1e-6
    assert max_diff(run(res.params, 4), run(res.params, 0)) > 1e-4   # σ = 0.3 differs
    # evaluation under a chosen corruption: the target stays clean, the error grows
    noisy = evaluate(AE, AE_CFG, res.params, res.model_state, XA_VAL, key=jax.random.key(3),
                     corrupt=lambda k, x: jnp.clip(x + 0.5 * jax.random.normal(k, x.shape), 0, 1))
    assert np.all(noisy["mse"] >= res.test["mse"] - 1e-7)   # a dead code ignores its input
    assert np.mean(noisy["mse"]) > np.mean(res.test["mse"])


def test_kfold_lr_wd_grid_and_chunks():
    runs = make_runs([0], folds=3, learning_rate=[1e-2, 5e-2], weight_decay=[0.0, 1e-3])
    res = fit(MLP, CFG, (X, Y), runs=runs, verify=False)
    assert res.history["val_accuracy"].shape == (12, 3)
    assert np.all(np.isfinite(res.history["val_loss"]))
    labels = res.runs.labels()
    i = next(j for j, lab in enumerate(labels)
             if lab == {"learning_rate": 5e-2, "weight_decay": 1e-3, "fold": 1, "seed": 0})
    tr, va = kfold(len(X), 3, seed=0)
    assert tr.shape == (3, 170) and va.shape == (3, 85)
    assert len(np.intersect1d(tr[1], va[1])) == 0
    solo = fit(MLP, CFG, (X[tr[1]], Y[tr[1]]), (X[va[1]], Y[va[1]]), verify=False,
               runs=make_runs([0], learning_rate=[5e-2], weight_decay=[1e-3]))
    assert max_diff(run(res.params, i), run(solo.params, 0)) < 1e-6
    np.testing.assert_allclose(res.history["val_loss"][i], solo.history["val_loss"][0], rtol=1e-5)
    chunked = fit(MLP, CFG, (X, Y), runs=runs, verify=False, chunk_size=5)   # 12 → 3×5 padded
    assert max_diff(res.params, chunked.params) < 1e-6
    np.testing.assert_allclose(res.history["val_loss"], chunked.history["val_loss"], rtol=1e-6)


def test_tiny_regression_many_epochs_per_call():
    """Seed 001's linear regression: 400 points, SGD 0.01, batch 32, 500 epochs, 25 runs."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (400, 1)).astype(np.float32)
    y = (3.0 * x[:, 0] - 2.0 + 0.5 * rng.normal(size=400)).astype(np.float32)[:, None]
    cfg = TrainConfig(epochs=500, batch_size=32, optimizer="sgd", learning_rate=0.01,
                      loss="mse", epochs_per_call=100)
    res = fit(L.Linear(1), cfg, (x, y), (x, y), runs=25, progress=False)
    assert sorted(res.history) == ["train_loss", "val_loss", "val_mse"]
    assert res.history["train_loss"].shape == (25, 500)
    final = stats.iqm(res.history["val_mse"][:, -1])
    assert 0.2 < final < 0.3                                      # noise floor 0.25
    np.testing.assert_allclose(np.asarray(res.params.w)[:, 0, 0], 3.0, atol=0.05)
    one_per_call = fit(L.Linear(1), cfg.replace(epochs=4, epochs_per_call=1), (x, y),
                       runs=[0, 1], verify=False)
    four_per_call = fit(L.Linear(1), cfg.replace(epochs=4, epochs_per_call=3), (x, y),
                        runs=[0, 1], verify=False)                 # 3 + 3 with the limit at 4
    assert max_diff(one_per_call.params, four_per_call.params) < 1e-6
    assert four_per_call.history["train_loss"].shape == (2, 4)


def _stop_epoch(es, values):
    """Feed a metric sequence to one tracker; the epoch after which it stops (or None)."""
    tr = es_lib.init(es, (), ())
    old, new = TrainState(jnp.zeros(2), (), ()), TrainState(jnp.ones(2), (), ())
    update = jax.jit(lambda tr, v, e: es_lib.update(es, tr, old, new, {"train_loss": v,
                                                                       "val_loss": v}, e, True))
    for e, v in enumerate(values):
        tr, _, _ = update(tr, jnp.float32(v), jnp.int32(e))
        if not bool(tr.active):
            return e, tr
    return None, tr


def test_window_rule_of_seed_004_and_patience_rule_of_seed_001():
    window = EarlyStopping("train_loss", patience=None, window=3, min_delta=1e-4,
                           restore_best=False)
    falling = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    assert _stop_epoch(window, falling)[0] is None
    plateau = [1.0, 0.9, 0.8, 0.79995, 0.79994, 0.79993, 0.79992]
    assert _stop_epoch(window, plateau)[0] == 5                  # 0.8 − 0.79993 < 1e-4
    rising = [1.0, 0.9, 0.8, 0.85, 0.95, 1.1]
    assert _stop_epoch(window, rising)[0] == 4                   # 0.9 → 0.95 went up
    patience = EarlyStopping("val_loss", patience=2, restore_best=False)
    e, tr = _stop_epoch(patience, [1.0, 0.5, 0.6, 0.4, 0.45, 0.41, 0.3])
    assert e == 5 and int(tr.best_epoch) == 3
    nan_loss = EarlyStopping("val_loss", patience=5, restore_best=False)
    e, tr = _stop_epoch(nan_loss, [1.0, 0.5, np.nan])
    assert e == 2 and bool(tr.diverged) and int(tr.epochs_run) == 2


def test_progress_bar_on_a_terminal_and_rate_limited_lines_in_a_log():
    quiet = io.StringIO()
    bar = Progress(10, 15, stream=quiet, log_every=None)
    bar.update(1, {"train_loss": np.ones(15)}, 15)
    assert not bar.enabled and quiet.getvalue() == ""
    log = io.StringIO()                       # not a terminal: plain lines, ≤ 1 per minute
    bar = Progress(10, 15, stream=log)
    for epoch in range(1, 11):
        bar.update(epoch, {"train_loss": np.full(15, 1.0 / epoch)}, 15)
    bar.close("done")
    lines = log.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in log.getvalue(), lines   # first, last, message
    assert "epoch  1/10" in lines[0] and "epoch 10/10" in lines[1] and "loss 0.1000" in lines[1]
    assert lines[2] == "done"
    out = io.StringIO()
    bar = Progress(10, 15, stream=out, enabled=True)
    bar.update(1, {"train_loss": np.ones(15), "val_accuracy": np.full(15, 0.5)}, 15)
    bar.update(2, {"train_loss": np.full(15, 0.5), "val_accuracy": np.full(15, 0.75)}, 14)
    bar.close()
    text = out.getvalue()
    assert "15 runs (14 active)" in text and "epoch  2/10" in text and "ETA" in text
    assert "val_accuracy 0.7500" in text and text.endswith("\n")


def test_clear_errors():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match=r"sweep \['width'\], which this model and config cannot"):
        fit(MLP, CFG, (X, Y), runs=make_runs(2, width=[32, 64]), verify=False)
    with pytest.raises(ValueError, match="val_accuracy.*not recorded"):
        fit(MLP, CFG.replace(early_stopping=EarlyStopping("val_accuracy")), (X, Y))
    with pytest.raises(ValueError, match="needs training labels"):
        fit(MLP, CFG, X)
    with pytest.raises(ValueError, match="held-out fold"):
        fit(MLP, CFG, (X, Y), (X, Y), runs=make_runs(1, folds=3))
    assert select(make_runs(3, learning_rate=[1, 2]), [4]).labels() == [
        {"learning_rate": 2.0, "seed": 1}]
