"""fit's run mapping (nnjax.train.automap): results do not depend on it; "auto" measures
the candidates once, caches the choice by program shape and reports it."""
import json
import os
import textwrap

import jax
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.train import TrainConfig, automap, fit
from nnjax.train.runs import make_runs

from jax_process import run_json

RNG = np.random.default_rng(0)
X = RNG.normal(size=(192, 6)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)
MLP = L.Sequential(L.Linear(12), L.ReLU(), L.Linear(2))
CFG = TrainConfig(epochs=2, batch_size=32, learning_rate=1e-2, drop_last=True)
RUNS = make_runs([1, 2], learning_rate=[1e-2, 3e-2])          # 4 runs


def leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def fit_with(**kw):
    return fit(MLP, CFG, (X, Y), runs=RUNS, verify=False, progress=False, **kw)


def assert_same_training(a, b):
    for u, v in zip(leaves(a.params) + [a.history["train_loss"]],
                    leaves(b.params) + [b.history["train_loss"]]):
        np.testing.assert_allclose(u, v, rtol=2e-5, atol=1e-6)


def test_results_do_not_depend_on_the_mapping():
    ref = fit_with(map="vmap")
    assert ref.info["map"] == {"choice": "vmap", "chunk_size": None, "how": "explicit"}
    seq = fit_with(map="sequential")
    assert seq.info["map"]["choice"] == "sequential" and seq.info["chunk_size"] == 1
    chunks = fit_with(map="chunks", chunk_size=2)
    assert chunks.info["map"]["choice"] == "chunks of 2"
    apart = fit_with(map="one_by_one")
    assert apart.info["map"]["choice"] == "one by one"
    for other in (seq, chunks, apart):
        assert_same_training(other, ref)
    # the four runs differ from each other, so equal results are not trivially equal
    assert np.ptp(ref.history["train_loss"][:, -1]) > 1e-3


def test_auto_measures_once_then_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNJAX_CACHE_DIR", str(tmp_path))
    small = fit_with()
    assert small.info["map"]["choice"] == "vmap" and "small program" in small.info["map"]["how"]
    assert not (tmp_path / automap.CACHE_FILE).exists()
    monkeypatch.setattr(automap, "MIN_WORK", 0)
    first = fit_with()
    info = first.info["map"]
    assert info["how"] == "measured"
    assert set(info["seconds_per_run_step"]) == {"vmap", "sequential", "chunks of 2",
                                                  "one by one"}
    best = automap.choose(info["seconds_per_run_step"])       # keys as described
    assert info["choice"] == best and first.info["chunk_size"] == info["chunk_size"]
    table = json.loads((tmp_path / automap.CACHE_FILE).read_text())
    assert table[info["key"]]["choice"] == best
    second = fit_with()
    assert second.info["map"]["how"] == "cached" and second.info["map"]["choice"] == best
    assert_same_training(second, fit_with(map="vmap"))
    # another program shape (more runs) is another cache entry
    table[info["key"]]["chunk_size"] = 1          # a cached choice is used as stored
    table[info["key"]]["choice"] = "sequential"
    (tmp_path / automap.CACHE_FILE).write_text(json.dumps(table))
    assert fit_with().info["chunk_size"] == 1


def test_candidates_and_errors():
    one = automap.ONE_BY_ONE
    assert automap.candidates(4) == [None, 1, 2, one]
    assert automap.candidates(27) == [None, 1, 3, 9, one]
    assert automap.candidates(5) == [None, 1, one]
    assert automap.candidates(2) == [None, 1, one]
    assert automap.candidates(4, one_device=False) == [None, 1, 2]       # on each device
    with pytest.raises(ValueError, match=r"map must be one of .*'pmap'"):
        fit_with(map="pmap")
    with pytest.raises(ValueError, match=r"map='chunks' needs chunk_size"):
        fit_with(map="chunks")
    one = fit(MLP, CFG, (X, Y), runs=1, verify=False, progress=False)
    assert one.info["map"]["how"] == "default: one run"


def test_fixed_cost_is_counted_once_per_epoch():
    """A call costs f + k·c. Measured on 3 steps, one by one (f paid per run) looks
    slower than a 4-run map (f paid per 4 runs) with a higher c; over an epoch of 20
    steps, f matters less and one by one is faster."""
    f, c1, c4 = 0.05, 0.054, 0.058
    t1, t2 = f + 3 * c1, f + 6 * c1
    assert automap.fixed_cost(t1, 3, t2, 6) == pytest.approx(f)
    assert automap.fixed_cost(t1, 3, t1, 3) == 0.0
    assert automap.fixed_cost(t1, 3, 3 * t1, 6) == 0.0                 # clipped at 0
    seq = f + 4 * 3 * c4                                                 # 4 runs, 3 steps
    assert t1 / 3 > seq / 12                                             # the naive view
    one = automap.per_run_step(t1, 3, 1, f, 20)
    four = automap.per_run_step(seq, 3, 4, f, 20)
    assert one == pytest.approx((f + 20 * c1) / 20) and four == pytest.approx(
        (f + 80 * c4) / 80)
    assert one < four


def test_choose_keeps_one_by_one_unless_another_clearly_leads():
    one = automap.ONE_BY_ONE
    assert automap.choose({"vmap": 0.50, "1": 0.97, one: 1.0}) == "vmap"
    assert automap.choose({"vmap": 1.2, "1": 0.97, one: 1.0}) == one     # 3%: noise
    assert automap.choose({"vmap": 1.2, "1": 0.94, one: 1.0}) == "1"
    assert automap.choose({"vmap": 1.2, "2": 1.1, one: 1.0}) == one


def test_timed_steps_give_one_run_call_about_call_flops_of_work():
    """A cheap step (the MNIST MLP's forward ≈ 1.1e5 FLOPs per example, batch 128) is timed
    on enough steps for ≈ CALL_FLOPS, a costly one (the conv AE's ≈ 5e5, batch 1000) on the
    fewest, and never on more steps than an epoch has."""
    mlp_forward = 2 * (784 * 64 + 64 * 32 + 32 * 10)
    k = automap.timed_steps(mlp_forward, 128, 60_000)
    assert k == int(np.ceil(automap.CALL_FLOPS / (3 * 128 * mlp_forward))) and k > 10 * automap.STEPS
    assert automap.timed_steps(5e5, 1000, 20_000) == automap.STEPS
    assert automap.timed_steps(mlp_forward, 128, 2_000) == 2_000 // 128       # the whole epoch
    assert automap.timed_steps(float("inf"), 128, 60_000) == automap.STEPS    # no estimate


SHARDED = textwrap.dedent("""
    import json, jax, numpy as np
    from nnjax import layers as L
    from nnjax.train import TrainConfig, automap, fit
    assert jax.device_count() == 2, jax.devices()
    automap.MIN_WORK = 0
    rng = np.random.default_rng(0)
    x = rng.normal(size=(192, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int32)
    model = L.Sequential(L.Linear(12), L.ReLU(), L.Linear(2))
    cfg = TrainConfig(epochs=2, batch_size=32, learning_rate=1e-2, drop_last=True)
    kw = dict(verify=False, progress=False)
    auto = fit(model, cfg, (x, y), runs=8, **kw)
    again = fit(model, cfg, (x, y), runs=8, **kw)
    one_device = fit(model, cfg, (x, y), runs=8, devices=jax.devices()[:1], **kw)
    ref = fit(model, cfg, (x, y), runs=8, map="vmap", devices=jax.devices()[:1], **kw)
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(jax.tree.leaves(auto.params), jax.tree.leaves(ref.params)))
    print("RESULT", json.dumps({"map": auto.info["map"], "devices": auto.info["devices"],
                                "again": again.info["map"], "one": one_device.info["map"],
                                "chunk": auto.info["chunk_size"], "diff": diff}))
""")


def test_auto_measures_the_sharded_program_on_several_devices(tmp_path):
    """With the runs sharded over 2 devices, auto times each mapping of a device's share
    (4 runs: vmap, sequential, chunks of 2; one by one is a one-device mapping), caches
    the choice under its own key (one device is another program) and trains the same runs."""
    out = run_json(SHARDED, devices=2, env=dict(os.environ, NNJAX_CACHE_DIR=str(tmp_path)))
    info = out["map"]
    assert out["devices"] == 2 and info["how"] == "measured"
    assert set(info["seconds_per_run_step"]) == {"vmap", "sequential", "chunks of 2"}
    seconds = info["seconds_per_run_step"]
    assert info["choice"] == min(seconds, key=seconds.get)               # no one-by-one rule
    assert out["chunk"] == info["chunk_size"]
    assert out["again"]["how"] == "cached" and out["again"]["choice"] == info["choice"]
    assert out["one"]["how"] == "measured" and out["one"]["key"] != info["key"]
    assert "one by one" in out["one"]["seconds_per_run_step"]
    assert out["diff"] < 1e-5
