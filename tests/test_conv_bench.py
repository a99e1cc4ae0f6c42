"""The conv-AE benchmark's executed-FLOP count (benchmarks.conv_ae) against the matmuls
XLA really runs: the dots of the compiled training step's optimized HLO."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import conv_ae
from benchmarks.profile import Hlo
from nnjax.backprop import value_and_grad
from nnjax.layers import conv_ops
from nnjax.losses import mse
from nnjax.models import conv_autoencoder


@pytest.mark.parametrize("lowering", ["im2col", "phase", "phasesum"])
def test_executed_flops_match_the_compiled_dots(lowering):
    batch = 2
    with conv_ops.lowering(lowering):
        model = conv_autoencoder(conv_ae.CODE, channels=conv_ae.CHANNELS, hidden=conv_ae.HIDDEN)
    params, state, _ = model.init(jax.random.key(0), (28, 28, 1))
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(batch, 28, 28, 1)), jnp.float32)
    step = jax.jit(value_and_grad(model, mse, "manual"))
    text = step.lower(params, state, x, x, jax.random.key(1)).compile().as_text()
    dots = Hlo(text).dots()
    assert all(d["per_call"] == 1 for d in dots)
    assert sum(d["flops"] for d in dots) == batch * conv_ae.executed_flops_per_image(lowering)


def test_useful_and_executed_counts():
    """phase multiplies the zero taps of its sub-pixel kernels; phase and phasesum the
    7 zero taps (16 columns for 9) of the space-to-depth patches of the one-channel
    conv (the first layer's conv and kernel gradient, the last transposed conv's dx and
    kernel gradient: 14·14 outputs × 8 channels each); im2col only the useful products
    (6·ΣMAC − 2·MAC of the first layer)."""
    useful = conv_ae.flops_per_image()
    assert useful == 6 * sum(conv_ae.layer_macs()) - 2 * conv_ae.layer_macs()[0]
    assert conv_ae.executed_flops_per_image("im2col") == useful
    s2d_extra = 2 * 2 * (2 * 14 * 14 * (16 - 9) * 8)
    assert conv_ae.executed_flops_per_image("phasesum") == useful + s2d_extra
    assert conv_ae.executed_flops_per_image("phase") > 1.4 * useful


def test_plan_has_the_27_run_rows():
    from benchmarks import nnjax_conv
    from benchmarks.common import Settings
    plan = lambda mode: {(c.variant, c.seeds) for c in nnjax_conv.cases(Settings.for_mode(mode))}
    quick, full = plan("quick"), plan("full")
    assert {("auto", 27), ("auto", 4), ("alone", 1), ("lowering_phase", 1)} <= quick
    assert ("sequential", 27) not in quick and ("lowering_xla", 1) not in quick
    assert ("whole_batch", 1) in quick and ("whole_batch", 1) not in plan("tiny")
    assert {("lowering_xla", 1), ("lowering_phasesum", 1)} <= full
    assert {(v, 27) for v in ("vmap", "sequential", "chunks9", "one_by_one", "auto")} <= full
    assert all(seeds <= 2 for _, seeds in plan("tiny"))


def test_goal_detail_uses_the_executed_count():
    from benchmarks import conv_goals
    record = {"gflops": 30.0, "notes": "fit, lowering phase, runs mapped by vmap (explicit)"}
    ratio = conv_ae.executed_flops_per_image("phase") / conv_ae.flops_per_image()
    assert conv_goals.executed_gflops(record) == pytest.approx(30.0 * ratio)
    record["notes"] = "fit, lowering im2col, runs mapped by sequential (measured)"
    assert conv_goals.executed_gflops(record) == pytest.approx(30.0)


def test_one_device_per_core_rows_and_the_goal_takes_them(monkeypatch):
    """With several cores the plan also sweeps on one device per core (each case in its own
    process with that many devices), and the goal rows judge that sweep, as `nnjax run
    conv-ae` trains it; on one core there are no such rows."""
    from benchmarks import conv_goals, nnjax_conv
    from benchmarks.common import Settings, split_devices
    monkeypatch.setattr(nnjax_conv, "CORES", 2)
    cases = nnjax_conv.cases(Settings.for_mode("quick"))
    dev = {(c.variant, c.seeds): c.devices for c in cases if c.devices}
    assert dev == {("vmap_2dev", 4): 2, ("sequential_2dev", 4): 2, ("auto_2dev", 4): 2,
                   ("auto_2dev", 27): 2}
    assert split_devices("auto_2dev") == ("auto", 2)
    assert split_devices("chunks2") == ("chunks2", 0)
    monkeypatch.setattr(nnjax_conv, "CORES", 1)
    assert not any(c.devices for c in nnjax_conv.cases(Settings.for_mode("quick")))

    def rec(contender, variant, seeds, median, devices=0):
        return {"case": {"contender": contender, "variant": variant, "seeds": seeds,
                         "devices": devices}, "median_s": median, "gflops": 10.0,
                "notes": "fit, lowering phasesum, runs mapped by sequential (measured)",
                "status": "ok"}
    records = [rec("conv_torch", "threads2", 1, 0.9), rec("conv_nnjax", "alone", 1, 0.8),
               rec("conv_nnjax", "auto", 4, 0.78), rec("conv_nnjax", "auto_2dev", 4, 0.5, 2),
               rec("conv_nnjax", "auto_2dev", 27, 0.4, 2)]
    speed, alone = conv_goals.check(records)
    assert speed.goal == "conv AE: 4-run sweep (auto, 2 devices) vs best PyTorch"
    assert speed.measured == pytest.approx(0.9 / 0.5) and alone.measured == pytest.approx(0.5 / 0.8)
