"""Bad input is refused, clearly and before anything compiles (property-based, Hypothesis).

Each property throws random bad inputs of one kind at a public function (fit, evaluate,
predict, TrainConfig, make_runs, kfold, sweep, Dropout) and checks that it raises a
ValueError/TypeError (not one of JAX's tracer errors) whose message names the argument
and what was found; that no XLA program was compiled meanwhile (JAX's monitoring events)
and that the engine was never entered (its program builders are patched to fail). The
valid neighbours of each bad input pass the same checks, so the rules are not simply
refusing everything. Tiny arrays, no training: the module runs in seconds.
"""
import contextlib
import math
import sys
from unittest import mock

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nnjax import layers as L
from nnjax.sweep.core import Grid, sweep
from nnjax.train import (EarlyStopping, TrainConfig, evaluate, fit, kfold, make_runs,
                         predict, program, validate)
from nnjax.train import runs as runs_mod
from nnjax.train.validate import HyperparameterWarning

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
evaluate_mod = sys.modules["nnjax.train.evaluate"]          # the name is shadowed by the function
BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"
COMPILES = []
F = 3                                                    # input features
MODELS = {k: L.Sequential(L.Linear(k)) for k in range(1, 6)}
CFG = TrainConfig(epochs=1, batch_size=2)
STACKED = {k: jax.eval_shape(lambda k=k: MODELS[k].init(jax.random.key(0), (F,))[:2])
           for k in MODELS}


def _listener(name, secs, **kwargs):
    if name == BACKEND_COMPILE:
        COMPILES.append(name)


@pytest.fixture(scope="module", autouse=True)
def count_compilations():
    jax.monitoring.register_event_duration_secs_listener(_listener)
    yield
    jax.monitoring.unregister_event_duration_listener(_listener)


def _entered(*_, **__):
    raise AssertionError("the engine was entered: validation came too late")


@contextlib.contextmanager
def engine_untouched():
    """Fail if anything compiles or the engine builds a program inside the block."""
    before = len(COMPILES)
    with mock.patch.object(program, "build", _entered), \
            mock.patch.object(evaluate_mod, "_metrics_program", _entered), \
            mock.patch.object(evaluate_mod, "_predict_program", _entered), \
            mock.patch.object(runs_mod, "_keys", _entered):
        yield
    assert len(COMPILES) == before, "an XLA program was compiled before the refusal"


def refused(call, *words, exc=(ValueError, TypeError)):
    """``call()`` raises ``exc`` naming every one of ``words``, before compiling."""
    with engine_untouched(), pytest.raises(exc) as info:
        call()
    err = info.value
    assert not type(err).__module__.startswith("jax"), f"a JAX error leaked: {err!r}"
    assert not isinstance(err, AssertionError)
    msg = str(err)
    for w in words:
        assert w in msg, f"{w!r} not in the message: {msg}"
    return msg


def xs(n, rng):
    return rng.normal(size=(n, F)).astype(np.float32)


def stacked(k, r=2):
    """Zero params/state of ``MODELS[k]`` stacked over ``r`` runs."""
    return jax.tree.map(lambda s: np.zeros((r,) + s.shape, s.dtype), STACKED[k])


# --- data -------------------------------------------------------------------------------
@SETTINGS
@given(k=st.integers(2, 5), n=st.integers(4, 12), split=st.sampled_from(["train", "val", "test"]),
       bad=st.lists(st.one_of(st.integers(-50, -1), st.integers(5, 60)), min_size=1, max_size=3),
       seed=st.integers(0, 2 ** 16))
def test_labels_outside_the_classes_are_refused(k, n, split, bad, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n).astype(np.int32)
    where = rng.choice(n, size=min(len(bad), n), replace=False)
    y[where] = [b if b < 0 else b + k - 5 for b in bad[:len(where)]]
    good = (xs(n, rng), rng.integers(0, k, n).astype(np.int32))
    splits = {"train": good, "val": good, "test": good, split: (xs(n, rng), y)}
    msg = refused(lambda: fit(MODELS[k], CFG, splits["train"], splits["val"], splits["test"],
                              verify=False),
                  f"fit: {split} labels (y)", f"outside [0, {k})",
                  f"first at index {int(np.flatnonzero((y < 0) | (y >= k))[0])}")
    assert f"{int((y < 0).sum() + (y >= k).sum())} labels" in msg
    y[where] = 0                                               # the valid neighbour passes
    validate.fit_args(MODELS[k], CFG, make_runs(1), (xs(n, rng), y))


@SETTINGS
@given(n=st.integers(2, 10), frac=st.floats(0.01, 0.99), seed=st.integers(0, 2 ** 16),
       whole=st.booleans())
def test_float_labels_for_cross_entropy_are_refused_with_the_fix(n, frac, seed, whole):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.float64) + (0.0 if whole else frac)
    fix = "y.astype(np.int32)" if whole else "probabilities"
    refused(lambda: fit(MODELS[3], CFG, (xs(n, rng), y), verify=False),
            "fit: train labels (y)", "integer class indices", "float64", fix)


@SETTINGS
@given(n=st.integers(2, 10), count=st.integers(1, 4), seed=st.integers(0, 2 ** 16),
       value=st.sampled_from([np.nan, np.inf, -np.inf]),
       target=st.sampled_from(["fit", "evaluate", "predict"]))
def test_non_finite_inputs_are_refused_naming_count_and_first_example(n, count, seed, value,
                                                                       target):
    rng = np.random.default_rng(seed)
    x = xs(n, rng)
    flat = rng.choice(x.size, size=min(count, x.size), replace=False)
    x.reshape(-1)[flat] = value
    y = rng.integers(0, 3, n).astype(np.int32)
    p, s = stacked(3)
    calls = {"fit": lambda: fit(MODELS[3], CFG, (x, y), verify=False),
             "evaluate": lambda: evaluate(MODELS[3], CFG, p, s, x, y),
             "predict": lambda: predict(MODELS[3], p, s, x)}
    refused(calls[target], f"{target}:", f"{len(flat)} non-finite value",
            f"first in example {int(flat.min() // F)}")


@SETTINGS
@given(loss=st.sampled_from(["mse", "binary_cross_entropy"]), k=st.integers(1, 4),
       extra=st.lists(st.integers(1, 3), max_size=2), seed=st.integers(0, 2 ** 16))
def test_regression_targets_must_have_the_outputs_shape(loss, k, extra, seed):
    rng = np.random.default_rng(seed)
    shape = (k + 1,) + tuple(extra)                       # never the model's (k,)
    y = rng.uniform(size=(6,) + shape).astype(np.float32)
    refused(lambda: fit(MODELS[k], CFG.replace(loss=loss), (xs(6, rng), y), verify=False),
            "fit: train labels (y)", f"model outputs ({k},)", loss)


@SETTINGS
@given(k=st.integers(1, 4), lo=st.floats(-5, -1e-3), hi=st.floats(1.001, 5),
       which=st.sampled_from(["lo", "hi"]), seed=st.integers(0, 2 ** 16))
def test_bce_targets_must_be_probabilities(k, lo, hi, which, seed):
    rng = np.random.default_rng(seed)
    y = rng.uniform(size=(6, k)).astype(np.float32)
    y[rng.integers(6), rng.integers(k)] = lo if which == "lo" else hi
    cfg = CFG.replace(loss="binary_cross_entropy")
    refused(lambda: fit(MODELS[k], cfg, (xs(6, rng), y), verify=False),
            "fit: train labels (y)", "outside [0, 1]")
    validate.fit_args(MODELS[k], cfg, make_runs(1), (xs(6, rng), np.clip(y, 0, 1)))


@SETTINGS
@given(kind=st.sampled_from(["str", "complex", "object"]), what=st.sampled_from(["x", "y"]))
def test_non_numeric_dtypes_are_refused(kind, what):
    x, y = np.zeros((4, F), np.float32), np.zeros(4, np.int32)
    bad = {"str": lambda a: a.astype(str), "complex": lambda a: a.astype(np.complex64),
           "object": lambda a: a.astype(object)}[kind]
    x, y = (bad(x), y) if what == "x" else (x, bad(y))
    refused(lambda: fit(MODELS[2], CFG, (x, y), verify=False),
            "inputs (x)" if what == "x" else "labels (y)", "not a real number type", exc=TypeError)


def test_the_existing_clear_refusals_stay():
    x, y = np.zeros((4, 8, 8, 1), np.float32), np.zeros(4, np.int32)
    refused(lambda: fit(L.Sequential(L.Linear(2)), CFG, (x, y)), "Flatten()")
    refused(lambda: fit(L.Sequential(L.Conv2D(2, 3)), CFG, (x.reshape(4, 64), y)), "(H, W, C)")
    refused(lambda: fit(MODELS[2], CFG.replace(batch_size=5), (np.zeros((4, F)), y)),
            "batch_size=5 exceeds")
    refused(lambda: TrainConfig(loss="hinge"), "unknown loss 'hinge'")


@SETTINGS
@given(target=st.sampled_from(["evaluate", "predict"]), mistake=st.sampled_from(
    ["unstacked", "in_shape", "structure"]), seed=st.integers(0, 2 ** 16))
def test_evaluate_and_predict_refuse_params_that_do_not_fit(target, mistake, seed):
    rng = np.random.default_rng(seed)
    p, s = stacked(3)
    x, y = xs(5, rng), rng.integers(0, 3, 5).astype(np.int32)
    if mistake == "unstacked":
        p, word = jax.tree.map(lambda a: a[0], p), "stacked over runs"
    elif mistake == "in_shape":
        x, word = np.zeros((5, F + 2), np.float32), f"needs (R, {F + 2}, 3)"
    else:
        p, word = {"w": p[0].w}, "structure"
    call = (lambda: evaluate(MODELS[3], CFG, p, s, x, y)) if target == "evaluate" else \
        (lambda: predict(MODELS[3], p, s, x))
    refused(call, f"{target}: params", word)


# --- hyperparameters ----------------------------------------------------------------------
BAD = {
    "learning_rate": st.one_of(st.floats(max_value=0.0), st.floats(min_value=3.5e38),
                               st.sampled_from([math.nan, math.inf])),
    "weight_decay": st.one_of(st.floats(max_value=-1e-12), st.sampled_from([math.nan, math.inf])),
    "momentum": st.one_of(st.floats(max_value=-1.0), st.floats(min_value=1.0),
                          st.just(math.nan)),
    "noise_std": st.one_of(st.floats(max_value=-1e-12), st.just(math.nan)),
}
ALLOWED = {"learning_rate": "(0, ∞)", "weight_decay": "[0, ∞)", "momentum": "(−1, 1)",
           "noise_std": "[0, ∞)"}


@SETTINGS
@given(data=st.data(), name=st.sampled_from(sorted(BAD)),
       where=st.sampled_from(["TrainConfig", "make_runs", "sweep"]))
def test_out_of_range_hyperparameters_are_refused_where_they_enter(data, name, where, tmp_path):
    value = data.draw(BAD[name])
    built = []
    calls = {"TrainConfig": lambda: TrainConfig(**{name: value}),
             "make_runs": lambda: make_runs(2, **{name: [0.5 if name != "momentum" else 0.9,
                                                         value]}),
             "sweep": lambda: sweep(lambda p: built.append(p), Grid(vmapped={name: [value]}),
                                    tmp_path / "store")}
    msg = refused(calls[where], f"{name}=", "make_runs" if where == "sweep" else where)
    assert ALLOWED[name] in msg or "overflows float32" in msg
    assert not built and not (tmp_path / "store").exists()


@SETTINGS
@given(m=st.floats(-0.999, -1e-6))
def test_negative_momentum_is_the_one_opt_out_a_warning(m):
    with pytest.warns(HyperparameterWarning, match="momentum"):
        cfg = TrainConfig(optimizer="momentum", momentum=m)
    assert cfg.momentum == m
    with pytest.warns(HyperparameterWarning, match="momentum"):
        assert make_runs(1, momentum=[m]).hyper["momentum"][0] == m


@SETTINGS
@given(rate=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0), st.just(math.nan)))
def test_dropout_rates_outside_0_1_are_refused(rate):
    refused(lambda: L.Dropout(rate), "rate", "[0, 1)")


@SETTINGS
@given(folds=st.integers(-3, 1), where=st.sampled_from(["make_runs", "kfold", "sweep"]))
def test_fewer_than_two_folds_are_refused(folds, where, tmp_path):
    calls = {"make_runs": lambda: make_runs(1, folds=folds),
             "kfold": lambda: kfold(10, folds),
             "sweep": lambda: sweep(_never, Grid(folds=folds), tmp_path / "s")}
    refused(calls[where], "≥ 2" if where != "kfold" else "2 ≤ k", str(folds))


def _never(point):
    raise AssertionError("build was called")


@SETTINGS
@given(seeds=st.lists(st.integers(0, 5), min_size=2, max_size=6).filter(
    lambda s: len(set(s)) < len(s)), where=st.sampled_from(["make_runs", "fit", "sweep"]))
def test_repeated_seeds_are_refused(seeds, where, tmp_path):
    x = np.zeros((4, F), np.float32), np.zeros(4, np.int32)
    calls = {"make_runs": lambda: make_runs(seeds),
             "fit": lambda: fit(MODELS[2], CFG, x, runs=seeds),
             "sweep": lambda: sweep(_never, Grid(seeds=seeds), tmp_path / "s")}
    rep = sorted({s for s in seeds if seeds.count(s) > 1})
    refused(calls[where], "seeds repeat", str(rep))


@SETTINGS
@given(seed=st.one_of(st.integers(max_value=-1), st.integers(min_value=2 ** 32), st.floats()))
def test_seeds_must_be_uint32_integers(seed):
    refused(lambda: make_runs([0, seed]), "make_runs: seed")


def test_other_config_and_grid_mistakes_are_refused(tmp_path):
    refused(lambda: TrainConfig(epochs=True), "TrainConfig.epochs")
    for lr in (None, "1e-3", [1e-3], True):
        refused(lambda: TrainConfig(learning_rate=lr), "learning_rate", "must be a",
                exc=TypeError)
    refused(lambda: TrainConfig(b2=1.0), "b2=1.0", "[0, 1)")
    refused(lambda: TrainConfig(eps=0.0), "eps=0.0", "(0, ∞)")
    refused(lambda: EarlyStopping(min_delta=math.inf), "min_delta")
    refused(lambda: make_runs(2, learning_rate=[]), "learning_rate=[]")
    refused(lambda: make_runs(2, l1=[-1e-4]), "l1=", "[0, ∞)")
    refused(lambda: sweep(_never, Grid(static={"width": []}), tmp_path / "s"), "is empty")
    refused(lambda: sweep(_never, Grid(static={"act": "relu"}), tmp_path / "s"), "['relu']")
    refused(lambda: fit(MODELS[2], CFG, (np.zeros((4, F)), np.zeros(4, int)), chunk_size=0),
            "chunk_size")
    assert not (tmp_path / "s").exists()


def test_the_compile_counter_sees_compilations_and_valid_edges_pass():
    before = len(COMPILES)
    jax.jit(lambda a: a * 3 + 7)(np.arange(3.0))          # a new program: one compilation
    assert len(COMPILES) > before
    huge = np.full((4, F), 3e38, np.float32)                # finite, but its sum overflows
    y = np.array([0, 1, 2, 2], np.int32)                    # labels 0 and K−1 are legal
    validate.fit_args(MODELS[3], CFG, make_runs(1), (huge, y))
    soft = np.full((4, 3), 1 / 3, np.float32)               # probability rows sum to 1
    validate.fit_args(MODELS[3], CFG, make_runs(1), (huge, soft))
    ae = CFG.replace(target="input", loss="binary_cross_entropy")
    validate.fit_args(MODELS[F], ae, make_runs(1), np.linspace(0, 1, 4 * F).reshape(4, F))
    refused(lambda: validate.fit_args(MODELS[2], ae, make_runs(1), np.zeros((4, F))),
            "target='input'", "model outputs (2,)")


def test_the_issues_table_on_the_8x8_digits():
    """The inputs a new user tried (issue 18): each now stops before training, saying why."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x, y = (d.data / 16).astype(np.float32), d.target.astype(np.int32)
    model = L.Sequential(L.Linear(32), L.ReLU(), L.Linear(10))
    cfg = TrainConfig(epochs=1)
    refused(lambda: fit(model, cfg, (x, y + 5)), "[5, 14]", "outside [0, 10)")
    nan = x.copy()
    nan[7, 3] = np.nan
    refused(lambda: fit(model, cfg, (nan, y)), "train inputs", "1 non-finite", "example 7")
    refused(lambda: fit(model, cfg, (x, y + 0.5)), "integer class indices", "0.5")
    refused(lambda: fit(model, cfg, (x, y[:, None])), "y.reshape(-1)")
    refused(lambda: make_runs(2, learning_rate=[-1.0]), "learning_rate=-1.0", "(0, ∞)")


def test_fit_refuses_in_validate_what_prepare_used_to_check():
    """Every input check of fit is in nnjax.train.validate (prepare only sets up)."""
    from nnjax import layers as L
    from nnjax.train import EarlyStopping, TrainConfig
    from nnjax.train.runs import as_runs, make_runs
    from nnjax.train.validate import fit_args
    x = np.zeros((12, 3), np.float32)
    y = np.arange(12) % 2
    model = L.Sequential(L.Linear(2))
    cfg = TrainConfig(batch_size=4)
    with pytest.raises(ValueError, match="held-out fold; pass val=None"):
        fit_args(model, cfg, make_runs(1, folds=3), (x, y), (x, y))
    with pytest.raises(ValueError, match="monitor='val_loss' is not recorded"):
        fit_args(model, cfg.replace(early_stopping=EarlyStopping("val_loss")), as_runs(1), (x, y))
    fit_args(model, cfg.replace(early_stopping=EarlyStopping("val_loss")), as_runs(1), (x, y),
             (x, y))
    with pytest.raises(ValueError, match="12 inputs but 5 targets"):
        fit_args(model, cfg.replace(target="input", loss="mse"), as_runs(1), (x, y[:5]))
