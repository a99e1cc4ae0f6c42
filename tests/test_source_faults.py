"""The "Neural Networks" report's faults rebuilt for deviation tests (experiments/_source_faults.py),
the verdicts on its sweep conclusions (experiments/_sweeps_verdicts.py) and the sweep plan of
the `cpu` preset: no training, float64 where gradients are compared."""
import jax
import jax.numpy as jnp
import numpy as np

from experiments import _source_faults as faults
from experiments import _sweeps_verdicts as V
from experiments import mnist_sweeps, xor
from nnjax import losses


def _logits_labels():
    z = jax.random.normal(jax.random.key(0), (6, 5), jnp.float64) * 3.0
    return z, jnp.array([0, 1, 2, 3, 4, 0])


def test_damped_gradient_is_the_exact_one_through_the_softmax_jacobians_diagonal():
    with jax.enable_x64(True):
        z, y = _logits_labels()
        n = z.shape[0]
        p = jax.nn.softmax(z, axis=-1)
        # the source: dL/dp taken as (p − onehot) and pushed through diag(∂p_i/∂z_i) / N
        diag = jnp.diagonal(jax.vmap(jax.jacobian(jax.nn.softmax))(z), axis1=1, axis2=2)
        want = (p - jax.nn.one_hot(y, 5, dtype=z.dtype)) * diag / n
        got = faults.damped_softmax_cross_entropy.grad(z, y)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        exact = jax.grad(losses.softmax_cross_entropy.value)(z, y)
        assert np.all(np.abs(got) <= np.abs(exact) / 4 + 1e-15)     # p(1 − p) ≤ 1/4
        assert not np.allclose(got, exact)
        assert faults.damped_softmax_cross_entropy.value(z, y) == \
            losses.softmax_cross_entropy.value(z, y)


def test_batch_sum_gradient_is_the_gradient_of_the_summed_loss():
    with jax.enable_x64(True):
        z, y = _logits_labels()
        summed = faults.batch_sum(losses.softmax_cross_entropy)
        want = jax.grad(lambda q: q.shape[0] * losses.softmax_cross_entropy.value(q, y))(z)
        np.testing.assert_allclose(summed.grad(z, y), want, rtol=1e-12)
        pred = jax.random.normal(jax.random.key(1), (8, 1), jnp.float64)
        t = jnp.zeros((8, 1), jnp.float64)
        want = jax.grad(lambda q: jnp.sum((q - t) ** 2))(pred)     # the source's MSE, unnormalised
        np.testing.assert_allclose(faults.batch_sum(losses.mse).grad(pred, t), want, rtol=1e-12)


def _summary(values):
    from nnjax.analysis import stats
    return stats.summary(np.asarray(values, np.float64), n_boot=300)


def _results(boxes):
    """A minimal mnist-sweeps results dict: {sweep: {label: values}}."""
    pubs = mnist_sweeps.PUBLISHED
    return {"sweeps": {sw: [{"label": lab, "summary": _summary(v), "published": pubs[sw][lab]}
                            for lab, v in rows.items()] for sw, rows in boxes.items()}}


def _line(lines, claim):
    (line,) = [x for x in lines if claim in x]
    return line


def test_sweep_verdicts_follow_the_numbers():
    rng = np.random.default_rng(0)
    good = 0.972 + 0.0005 * rng.standard_normal(15)
    worse = good - 0.01
    r = _results({"activation": {"TanH": good, "Sigmoid": worse, "ReLU": good + 1e-4}})
    lines = V.conclusions(r)
    assert "**holds**" in _line(lines, "significantly outperform Sigmoid")
    assert "**holds**" in _line(lines, "similar performance")
    # Sigmoid as good as the others: the claim fails
    r = _results({"activation": {"TanH": good, "Sigmoid": good - 1e-4, "ReLU": good}})
    assert "**does not hold**" in _line(V.conclusions(r), "significantly outperform Sigmoid")

    spread = {"8": 0.01, "16": 0.01, "32": 0.001, "64": 0.001, "128": 0.001, "256": 0.001}
    batch = {b: 0.97 + w * rng.standard_normal(15) for b, w in spread.items()}
    lines = V.conclusions(_results({"batch size": batch}))
    assert "**holds**" in _line(lines, "less stable")
    batch["8"] = 0.97 + 0.0001 * rng.standard_normal(15)                # now the calmest
    assert "**does not hold**" in _line(V.conclusions(_results({"batch size": batch})),
                                        "less stable")
    opt = {"SGD lr .01": good - 0.02, "SGD momentum .9 lr .01": good - 0.01, "Adam 1e-3": good}
    lines = V.conclusions(_results({"optimizer": opt}))
    assert "**holds**" in _line(lines, "Adam consistently outperforms")
    opt["SGD momentum .9 lr .01"] = good + 0.002
    assert "**does not hold**" in _line(V.conclusions(_results({"optimizer": opt})),
                                        "Adam consistently outperforms")


def test_fewer_than_five_runs_compare_ranges_not_cis():
    s = _summary([0.9, 0.91, 0.92])
    assert V.interval(s) == (s["min"], s["max"], "range")
    assert "range 0.9000–0.9200, n=3" in V.show("x", s)


def test_cpu_plan_runs_the_batch_sweep_per_run_and_the_deviation_test_first():
    boxes, points = mnist_sweeps.plan(mnist_sweeps.PRESETS["cpu"])
    keys = list(points)
    assert points[keys[0]]["loss"] == "source_damped"                # the deviation test first
    batch = [points[k] for _, k, _ in boxes["batch size"]]
    assert [p["batch_size"] for p in batch] == [8, 16, 32, 64, 128, 256]
    assert all(p["shuffle"] == "per_run" and p["seeds"] == 15 for p in batch)
    # trained in the order the source's claims need them, the costly batch 8 late
    order = [points[k]["batch_size"] for k in keys if points[k]["shuffle"] == "per_run"]
    assert order == [128, 16, 64, 8, 256, 32]
    assert points[keys[0]]["seeds"] == 5
    # the other sweeps keep one shared order, under the keys of the earlier `cpu` store
    (_, base, _) = boxes["activation"][2]
    assert base == ("act=relu,hidden=64x32,batch=128,opt=adam,seeds=15,epochs=50,patience=5,"
                    "shuffle=shared")
    sgd = {lab: (k, m) for lab, k, m in boxes[mnist_sweeps.SOURCE_SWEEP]}
    assert {m for _, m in sgd.values()} == {0.0, 0.9} and len({k for k, _ in sgd.values()}) == 1


def test_xor_headline_is_the_stated_configuration():
    s = _summary([0.9, 0.95, 0.99, 1.0, 0.97])
    res = {"published": xor.PUBLISHED,
           "summary": {lab: {"train_accuracy": s, "train_loss": s} for lab in (xor.SOURCE, xor.STATED)}}
    rows = xor.headline(res)
    assert rows[0][0] == f"{xor.STATED}: train accuracy" and "deviation test" in rows[2][0]
    assert rows[0][1].startswith(f"{s['iqm']:.4f} [")


def test_remaining_cost_is_the_shared_cost_times_the_measured_per_run_ratio():
    boxes, points = mnist_sweeps.plan(mnist_sweeps.PRESETS["cpu"])
    base = {"activation": "relu", "hidden": [64, 32], "batch_size": 128, "optimizer": "adam",
            "seeds": 15, "loss": "exact"}
    tanh = {**base, "activation": "tanh"}
    runs, timing = {}, {}
    for name, p, cpu, ep in (("per", {**base, "shuffle": "per_run"}, 300.0, 10),
                             ("shared", {**base, "shuffle": "shared"}, 150.0, 10),
                             ("tanh", {**tanh, "shuffle": "shared"}, 150.0, 20)):
        runs[name] = {"point": p, "epochs_run": [ep] * 15}
        timing[name] = {"cpu_seconds": cpu, "wall_seconds": 2 * cpu}
    rest = mnist_sweeps.remaining({"runs": runs, "timing": timing})
    assert rest["ratio"] == {"cpu_seconds": 2.0, "wall_seconds": 2.0}
    tanh_key = next(k for k in rest["configs"] if k.startswith("act=tanh"))
    assert tanh_key not in rest["missing_basis"]
    # tanh per run: 150 s / 300 run-epochs × 2 × 15 runs × 20 epochs = 300 CPU s
    assert len(rest["configs"]) == 13 and len(rest["missing_basis"]) == 11
    assert abs(rest["cpu_hours"] - (300 + 300) / 3600) < 1e-12   # base per run + tanh
    assert abs(rest["wall_hours"] - 2 * rest["cpu_hours"]) < 1e-12
