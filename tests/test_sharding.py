"""The run axis sharded over 4 virtual CPU devices gives the single-device results.

Runs in a subprocess: the device count is fixed when JAX starts
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``).
"""
import textwrap

from jax_process import run_json

SCRIPT = textwrap.dedent("""
    import json, jax, numpy as np
    from nnjax import layers as L
    from nnjax.train import EarlyStopping, TrainConfig, fit, predict
    assert jax.device_count() == 4, jax.devices()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    model = L.Sequential(L.Linear(16), L.ReLU(), L.Dropout(0.1), L.Linear(2))
    cfg = TrainConfig(epochs=4, batch_size=32, learning_rate=1e-2, drop_last=True,
                      early_stopping=EarlyStopping("val_loss", patience=1))
    one = [jax.devices()[0]]
    out = {}
    shared = cfg.replace(shuffle="shared")
    for name, runs, c, kw in [("8 runs", 8, cfg, {}), ("6 runs", 6, cfg, {}),
                              ("6 runs, chunks of 1", 6, cfg, {"chunk_size": 1}),
                              ("6 runs, shared order", 6, shared, {})]:
        sharded = fit(model, c, (x, y), (x[:64], y[:64]), (x[:64], y[:64]), runs=runs,
                      verify=False, test_outputs=True, **kw)
        single = fit(model, c, (x, y), (x[:64], y[:64]), (x[:64], y[:64]), runs=runs,
                     verify=False, devices=one)
        diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                   for a, b in zip(jax.tree.leaves(sharded.params), jax.tree.leaves(single.params)))
        hist = max(float(np.nanmax(np.abs(sharded.history[k] - single.history[k])))
                   for k in single.history)
        out[name] = {"devices": [sharded.info["devices"], single.info["devices"]],
                     "params": diff, "history": hist,
                     "epochs": [sharded.epochs_run.tolist(), single.epochs_run.tolist()],
                     "test": float(np.max(np.abs(sharded.test["accuracy"]
                                                 - single.test["accuracy"]))),
                     "shape": list(jax.tree.leaves(sharded.params)[0].shape),
                     # the test outputs kept from the sharded (padded) test pass: predict's
                     # on one device, run by run (a padded run or a wrong order shows)
                     "outputs_shape": list(sharded.test_outputs.shape),
                     "outputs": float(np.max(np.abs(sharded.test_outputs - np.asarray(
                         predict(model, sharded.params, sharded.model_state, x[:64],
                                 devices=one)))))}
    # fewer runs than devices: one device per run, none padded
    out["devices of 3 runs, 1 run"] = [
        fit(model, cfg, (x, y), (x[:64], y[:64]), runs=n, verify=False).info["devices"]
        for n in (3, 1)]
    print("RESULT", json.dumps(out))
""")


def test_sharded_runs_equal_single_device_runs():
    out = run_json(SCRIPT, devices=4)
    assert out.pop("devices of 3 runs, 1 run") == [3, 1]
    for name, r in out.items():
        n = int(name.split()[0])
        assert r["devices"] == [4, 1], (name, r)
        assert r["shape"][0] == n, (name, r)                     # padding removed
        assert r["epochs"][0] == r["epochs"][1], (name, r)
        assert r["params"] < 1e-6 and r["history"] < 1e-5 and r["test"] == 0, (name, r)
        assert r["outputs_shape"] == [n, 64, 2] and r["outputs"] < 1e-5, (name, r)


def test_one_run_at_a_time_is_not_batched():
    """chunk_size=1 (and a single run) map f without vmap: f sees unbatched arrays, so a
    per-run kernel stays a plain dot/conv (XLA:CPU runs batched convs several times slower)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from nnjax.train.parallel import RunMapper

    def f(run, shared):
        w, x = run
        return jnp.dot(x, w) * shared  # (B, I) @ (I, O), both per run
    runs, shared = (jnp.ones((3, 4, 2)), jnp.ones((3, 5, 4))), jnp.float32(2.0)
    batched = str(jax.make_jaxpr(RunMapper()(f))(runs, shared))
    assert "([0], [0])" in batched, batched                            # a batched dot
    first = jax.tree.map(lambda a: a[:1], runs)
    for mapper, r in ((RunMapper(chunk_size=1), runs), (RunMapper(), first)):
        text = str(jax.make_jaxpr(mapper(f))(r, shared))
        assert "([], [])" in text and "([0], [0])" not in text, text     # plain dots only
        np.testing.assert_allclose(mapper(f)(r, shared), RunMapper()(f)(r, shared))


def test_pad_and_unpad_move_data_only():
    """pad_runs repeats the last run (one program for the whole tree) and unpad drops the
    padding; a tree without padding comes back as it is."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from nnjax.train.parallel import pad_runs, unpad
    tree = {"w": jnp.arange(3 * 4 * 2, dtype=jnp.float32).reshape(3, 4, 2),
            "n": jnp.asarray([1, 2, 3], jnp.int32),
            "k": jax.random.split(jax.random.key(0), 3)}
    padded, r = pad_runs(tree, 5)
    assert r == 3 and padded["w"].shape == (5, 4, 2)
    np.testing.assert_array_equal(padded["w"], np.concatenate([tree["w"], tree["w"][2:], tree["w"][2:]]))
    np.testing.assert_array_equal(padded["n"], [1, 2, 3, 3, 3])
    np.testing.assert_array_equal(jax.random.key_data(padded["k"])[3],
                                  jax.random.key_data(tree["k"])[2])
    back = unpad(padded, 3)
    for name in tree:
        data = jax.random.key_data if name == "k" else (lambda a: a)
        np.testing.assert_array_equal(data(back[name]), data(tree[name]))
    assert unpad(tree, 3) is tree and pad_runs(tree, 3)[0] is tree
