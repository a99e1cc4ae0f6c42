"""Every number a sweep axis: any Optax optimizer and schedule, layer hyperparameters.

Each per-run number traced in one program gives, run by run, what the same run built with
that number as a constant gives (within float32 round-off)."""
import jax
import numpy as np
import optax
import pytest

from nnjax import layers as L
from nnjax.train import TrainConfig, fit
from nnjax.train.hyperparams import steps_per_epoch, sweepable
from nnjax.train.optim import Optimizer, Schedule
from nnjax.train.runs import make_runs

RNG = np.random.default_rng(1)
X = RNG.normal(size=(96, 6)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)
XV = RNG.normal(size=(32, 6)).astype(np.float32)
YV = (XV[:, 0] - XV[:, 2] > 0).astype(np.int32)
MLP = L.Sequential(L.Linear(8), L.ReLU(), L.Linear(2))
CFG = TrainConfig(epochs=2, batch_size=32, learning_rate=1e-2)


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def run(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def train(model, config, runs, **kw):
    return fit(model, config, (X, Y), (XV, YV), runs=runs, verify=False, **kw)


def test_optimizer_of_optax_equals_the_named_one():
    named = train(MLP, CFG.replace(optimizer="adamw", weight_decay=1e-2), [4])
    ours = train(MLP, CFG.replace(optimizer=Optimizer(optax.adamw, weight_decay=1e-2)), [4])
    assert max_diff(named.params, ours.params) < 2e-6    # float32 round-off (op order)
    assert max_diff(named.params, train(MLP, CFG, [4]).params) > 1e-5   # wd matters


def test_optax_arguments_are_per_run_axes_in_one_program():
    cfg = CFG.replace(optimizer=Optimizer(optax.lion, b1=0.9, b2=0.99, weight_decay=0.0),
                      learning_rate=3e-3)
    runs = make_runs([2], b1=[0.5, 0.95], learning_rate=[1e-3, 3e-3])
    res = train(MLP, cfg, runs)
    for i, lab in enumerate(runs.labels()):
        solo_cfg = cfg.replace(optimizer=Optimizer(optax.lion, b1=lab["b1"], b2=0.99,
                                                   weight_decay=0.0),
                               learning_rate=lab["learning_rate"])
        solo = train(MLP, solo_cfg, [2])
        assert max_diff(run(res.params, i), run(solo.params, 0)) < 1e-6
    assert max_diff(run(res.params, 0), run(res.params, 1)) > 1e-5


def test_a_chain_builder_is_an_optimizer():
    def clipped_sgd(learning_rate, max_norm):
        return optax.chain(optax.clip_by_global_norm(max_norm), optax.sgd(learning_rate))

    cfg = CFG.replace(optimizer=Optimizer(clipped_sgd, max_norm=1.0))
    res = train(MLP, cfg, make_runs([0], max_norm=[1e-3, 1e6]))
    plain = train(MLP, CFG.replace(optimizer="sgd"), [0])
    assert max_diff(run(res.params, 1), run(plain.params, 0)) < 1e-6   # clip never bites
    assert max_diff(run(res.params, 0), run(plain.params, 0)) > 1e-4   # clip bites


def test_schedule_is_read_at_the_step_count():
    """The rate falls to 0 after epoch 1's last step: 2 epochs == 1 epoch at a constant rate."""
    s = steps_per_epoch(X.shape[0], CFG)
    sched = Schedule(optax.piecewise_constant_schedule, init_value=5e-2,
                     boundaries_and_scales={s: 0.0})
    two = train(MLP, CFG.replace(optimizer="sgd", learning_rate=sched), [3])
    one = train(MLP, CFG.replace(optimizer="sgd", learning_rate=5e-2, epochs=1), [3])
    assert max_diff(two.params, one.params) < 1e-7
    const = Schedule(optax.constant_schedule, value=5e-2)
    assert max_diff(train(MLP, CFG.replace(optimizer="sgd", learning_rate=const), [3]).params,
                    train(MLP, CFG.replace(optimizer="sgd", learning_rate=5e-2), [3]).params) < 1e-7


def test_schedule_arguments_are_per_run_axes():
    sched = Schedule(optax.warmup_cosine_decay_schedule, init_value=0.0, peak_value=1e-2,
                     warmup_steps=2, decay_steps=6)
    cfg = CFG.replace(optimizer=Optimizer(optax.adam), learning_rate=sched)
    runs = make_runs([1], peak_value=[1e-2, 3e-2], warmup_steps=[1, 3])
    res = train(MLP, cfg, runs)
    for i, lab in enumerate(runs.labels()):
        solo_sched = Schedule(optax.warmup_cosine_decay_schedule, init_value=0.0,
                              peak_value=lab["peak_value"], warmup_steps=int(lab["warmup_steps"]),
                              decay_steps=6)
        solo = train(MLP, cfg.replace(learning_rate=solo_sched), [1])
        assert max_diff(run(res.params, i), run(solo.params, 0)) < 1e-6


def hyper_model(make):
    return L.Sequential(L.Linear(8), make(), L.Linear(2))


@pytest.mark.parametrize("name, traced, const, values", [
    ("dropout", lambda v: L.Dropout(L.hyper("dropout", v)), L.Dropout, [0.1, 0.4]),
    ("slope", lambda v: L.LeakyReLU(L.hyper("slope", v)), L.LeakyReLU, [0.01, 0.3]),
    ("sigma", lambda v: L.GaussianNoise(L.hyper("sigma", v)), L.GaussianNoise, [0.1, 0.5]),
    ("lam", lambda v: L.ActivityL1(L.hyper("lam", v)), L.ActivityL1, [1e-3, 1e-1]),
])
def test_layer_hyperparameter_run_equals_the_constant_run(name, traced, const, values):
    model = hyper_model(lambda: traced(0.2))
    assert sweepable(model, CFG)[name] == pytest.approx(0.2)
    runs = make_runs([0], **{name: values})
    res = fit(model, CFG, (X, Y), (XV, YV), runs=runs)        # gradient check included
    assert res.info["gradcheck"]["ok"]
    for i, lab in enumerate(runs.labels()):
        solo = train(hyper_model(lambda: const(lab[name])), CFG, [lab["seed"]])
        assert max_diff(run(res.params, i), run(solo.params, 0)) < 1e-5
        np.testing.assert_allclose(res.history["val_loss"][i], solo.history["val_loss"][0],
                                   rtol=1e-5)
    assert max_diff(run(res.params, 0), run(res.params, 1)) > 1e-5   # the value matters


def test_unswept_layer_hyperparameter_keeps_its_default():
    model = hyper_model(lambda: L.Dropout(L.hyper("dropout", 0.3)))
    a = train(model, CFG, [5])
    b = train(hyper_model(lambda: L.Dropout(0.3)), CFG, [5])
    assert max_diff(a.params, b.params) < 1e-6


def test_sweepable_names_and_clear_errors():
    model = hyper_model(lambda: L.Dropout(L.hyper("dropout", 0.1)))
    cfg = CFG.replace(optimizer=Optimizer(optax.adamw, b1=0.9, weight_decay=1e-4))
    assert set(sweepable(model, cfg)) == {"learning_rate", "b1", "weight_decay", "noise_std",
                                          "l1", "dropout"}
    assert set(sweepable(MLP, CFG)) == {"learning_rate", "momentum", "weight_decay",
                                        "noise_std", "l1"}
    with pytest.raises(ValueError, match=r"sweep \['dropout'\], which this model and config cannot vary"):
        train(MLP, CFG, make_runs([0], dropout=[0.1]))
    clash = hyper_model(lambda: L.Dropout(L.hyper("learning_rate", 0.1)))
    with pytest.raises(ValueError, match="both an optimizer argument"):
        sweepable(clash, CFG)
    with pytest.raises(ValueError, match="seeds=.*folds="):
        make_runs([0], seed=[1])
    with pytest.raises(ValueError, match="Python identifier"):
        L.hyper("drop out", 0.1)
    with pytest.raises(TypeError, match="Optax"):
        Optimizer("adam")


def test_l1_axis_sets_every_constant_activity_l1_and_unswept_each_keeps_its_own():
    from nnjax.layers.hyperparam import HyperValue, set_values
    from nnjax.train.hyperparams import run_hyper
    model = L.Sequential(L.Linear(4), L.ActivityL1(1e-4), L.Linear(4), L.ActivityL1(2e-4),
                         L.ActivityL1(L.hyper("lam", 0.3)), L.Linear(2))
    assert model.hypers == (("lam", 0.3),) and sweepable(model, CFG)["l1"] is None
    _, state, _ = model.init(jax.random.key(0), (6,))
    lams = [s for s in jax.tree.leaves(state, is_leaf=lambda s: isinstance(s, HyperValue))]
    assert [(s.name, float(s.value)) for s in lams] == [
        ("l1", pytest.approx(1e-4)), ("l1", pytest.approx(2e-4)), ("lam", pytest.approx(0.3))]
    unswept = run_hyper(make_runs([0]), model, CFG)
    assert "l1" not in unswept and "lam" not in unswept
    swept = run_hyper(make_runs([0], l1=[0.5, 0.0]), model, CFG)
    np.testing.assert_array_equal(swept["l1"], np.float32([0.5, 0.0]))
    new = set_values(state, {"l1": np.float32(0.5)})
    got = [float(s.value) for s in jax.tree.leaves(new, is_leaf=lambda s: isinstance(s, HyperValue))]
    assert got == [0.5, 0.5, pytest.approx(0.3)]
