"""The first source report's toy studies (linear regression, linear classification, XOR): the tiny
presets run end to end, write their results and figures, and render a report section."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import _toy_common as toy
from experiments import linear_classification, linear_regression, xor
from nnjax.study import run_study
from nnjax.study import write_report
from nnjax import losses

STUDIES = {m.STUDY.name: m.STUDY for m in (linear_regression, linear_classification, xor)}
FIGURES = {
    "linear-regression": {"loss.png", "fits.png"},
    "linear-classification": {"loss.png", "accuracy.png", "boundary_median.png",
                              "boundary_worst.png"},
    "xor": {"loss.png", "accuracy.png"} | {f"boundary_{w}_{c}.png" for w in ("median", "worst")
                                           for c in ("stated", "source_gradient")},
}


def test_binary_logit_with_softmax_cross_entropy_is_bce_on_the_logit():
    layer = toy.BinaryLogit()
    z = jnp.array([[-3.0], [0.5], [2.0], [40.0]])
    y = jnp.array([0, 1, 1, 0], jnp.int32)
    _, _, shape = layer.init(jax.random.key(0), (1,))
    out, _, res = layer.forward((), (), z)
    assert shape == (2,) and out.shape == (4, 2)
    bce = losses.binary_cross_entropy
    t = y.astype(jnp.float32)[:, None]
    np.testing.assert_allclose(losses.softmax_cross_entropy.value(out, y), bce.value(z, t),
                               rtol=1e-6)
    _, dz = layer.backward((), res, losses.softmax_cross_entropy.grad(out, y))
    np.testing.assert_allclose(dz, bce.grad(z, t), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(jnp.argmax(out, axis=1), (z[:, 0] > 0).astype(jnp.int32))
    with pytest.raises(ValueError, match="one logit"):
        layer.init(jax.random.key(0), (2,))


def test_median_and_worst():
    assert toy.median_and_worst(np.array([3.0, 1.0, 2.0, np.nan, 0.5])) == (2, 3)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_tiny_preset_runs_and_reports(name, tmp_path):
    path = run_study(STUDIES[name], tmp_path, "tiny", tiny=True)
    results = json.loads(path.read_text())
    out = path.parent
    assert FIGURES[name] <= {p.name for p in out.glob("*.png")}
    assert set(results["figures"]) == FIGURES[name]
    assert results["gradcheck"]["ok"]
    for key in ("config", "runs", "summary", "published"):
        assert key in results
    assert len(results["runs"]) == results["settings"]["seeds"] * (2 if name == "xor" else 1)
    if name == "linear-regression":
        mse = results["summary"]["train_mse"]
        assert mse["n"] == 2 and np.isfinite(mse["iqm"]) and mse["iqm"] > 0
    else:
        for summ in results["summary"].values():
            assert 0.0 <= summ["train_accuracy"]["iqm"] <= 1.0
            assert summ["held_out_loss"]["iqm"] > 0
    report = write_report(tmp_path).read_text()
    assert f"(`{name}`, “Neural Networks” report)" in report and "| published |" in report


def test_resume_store_is_keyed_by_the_settings(tmp_path):
    """An edited preset or other --seeds never reuses results stored for other settings."""
    from nnjax.study import Context
    ctx = Context("xor", "quick", {"seeds": 3, "epochs": 10}, tmp_path / "xor")
    ctx.store.save("cell", {"acc": 0.5})
    same = Context("xor", "quick", {"epochs": 10, "seeds": 3}, tmp_path / "xor")
    assert same.store.load("cell") == {"acc": 0.5}            # key order does not matter
    other = Context("xor", "quick", {"seeds": 5, "epochs": 10}, tmp_path / "xor")
    assert not other.store.has("cell") and other.store.root != ctx.store.root
    tiny = Context("xor", "quick", {"seeds": 3, "epochs": 10}, tmp_path / "xor", tiny=True)
    assert not tiny.store.has("cell")
    assert ctx.store.load("cell") == {"acc": 0.5}             # the old results stay
