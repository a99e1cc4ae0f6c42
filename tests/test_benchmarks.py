"""Smoke tests of the speed benchmarks: every contender runs at tiny size and the report
files appear with the expected keys. No timing is asserted."""
import importlib.util
import json
import os

import pytest

from benchmarks import __main__ as cli
from benchmarks import goals, nnjax_mlp, runner
from benchmarks.common import (Case, Settings, Workload, load_data, nnjax_variant,
                               parse_nnjax_variant)

# Benchmarks run library code (Optax, Flax, PyTorch) as a user would: no strict JAX checks.
pytestmark = pytest.mark.lenient

HAS_TORCH = importlib.util.find_spec("torch") is not None
RECORD_KEYS = {"case", "status", "seconds", "median_s", "min_s", "max_s", "gflops",
               "compile_s", "loss", "order", "delta_rss_mib", "memory_method"}


def test_workload_flops():
    w = Workload()
    assert w.n_batches == 468 and w.images_per_epoch == 59_904
    assert w.macs_per_image == 784 * 64 + 64 * 32 + 32 * 10
    assert w.flops_per_seed_epoch == 6 * 59_904 * 52_544


def test_tiny_run_writes_report(tmp_path):
    """The whole code path in --tiny mode, in this process (fast)."""
    paths = cli.main(["--tiny", "--no-isolate", "--out", str(tmp_path)])
    for key in ("json", "md", "png", "latest"):
        assert os.path.getsize(paths[key]) > 0, key
    with open(paths["json"]) as f:
        payload = json.load(f)
    assert {"machine", "settings", "records", "goals", "roofline", "data_source",
            "skipped"} <= set(payload)
    assert payload["machine"]["cores"] >= 1 and payload["machine"]["cpu_model"]
    records = payload["records"]
    errors = [(r["label"], r.get("error")) for r in records if r["status"] != "ok"]
    assert not errors, errors
    contenders = {r["case"]["contender"] for r in records}
    expected = {"nnjax", "jax_plain", "flax_nnx", "numpy", "roofline"}
    expected |= {"conv_nnjax"} | ({"torch_mlp", "torch_func", "conv_torch"} if HAS_TORCH
                                  else set())
    assert expected <= contenders
    if not HAS_TORCH:
        assert "torch_mlp" in payload["skipped"]
    for r in records:
        if r["case"]["contender"] != "roofline":
            assert RECORD_KEYS <= set(r), r["label"]
            assert r["median_s"] > 0 and r["gflops"] > 0
    assert payload["roofline"]["roofline_gflops"] > 0
    nnjax = {r["case"]["variant"]: r for r in records if r["case"]["contender"] == "nnjax"}
    assert {"shared", "per_seed", "shared_autodiff", "per_seed_autodiff", "shared_1dev",
            "shared_2dev", "per_seed_1dev", "per_seed_2dev"} <= set(nnjax)
    for variant in ("shared_1dev", "shared_2dev"):  # own process even with --no-isolate
        assert runner.FORCED_NOTE in nnjax[variant]["notes"]
        assert "VmHWM" in nnjax[variant]["memory_method"]
    assert "shard_map over 2 devices" in nnjax["shared_2dev"]["notes"]
    # same keys, same data: the autodiff and sharded programs train the same runs
    for variant in ("shared_autodiff", "shared_1dev", "shared_2dev"):
        assert nnjax[variant]["loss"] == pytest.approx(nnjax["shared"]["loss"], rel=1e-4)
    names = [g["goal"] for g in payload["goals"]]
    assert len(names) == 12 and names[-3] == "2 devices vs 1 (sharded runs)"
    assert set(names[-5:-3]) == {"grad=manual vs grad=autodiff (shared order)",   # ours first
                                 "grad=manual vs grad=autodiff (per_seed order)"}
    assert names[-2:] == ["conv AE: 2-run sweep (auto) vs best PyTorch",
                          "conv AE: 2-run sweep (auto) vs one run alone"]
    conv = {r["case"]["variant"]: r for r in records if r["case"]["contender"] == "conv_nnjax"}
    assert set(conv) == {"alone", "vmap", "auto"}
    assert "runs mapped by vmap" in conv["auto"]["notes"]       # tiny: too small to time
    # the conv rows count the conv AE's FLOPs (1.56 MFLOP per image), not the MLP's
    flops = conv["alone"]["gflops"] * conv["alone"]["median_s"] * 1e9
    assert flops == pytest.approx(1_561_920 * 512, rel=1e-9)
    unmeasured = {"per-seed-epoch time not rising from S=1 to 64"}  # needs S=1 and 64
    if not HAS_TORCH:
        unmeasured |= {"2-seed vmapped vs best sequential PyTorch",
                       "2-seed vmapped vs torch.func ensemble",
                       "conv AE: 2-run sweep (auto) vs best PyTorch"}
    assert {g["goal"] for g in payload["goals"] if g["measured"] is None} == unmeasured
    assert next(g for g in payload["goals"] if "devices" in g["goal"])["passed"] is True
    text = open(paths["latest"]).read()
    assert "## Goals" in text and "## Every measurement" in text and ".png)" in text
    assert "## What was tried" in text


def test_subprocess_isolation_reports_peak_memory(tmp_path):
    """The default path: each case in its own interpreter, peak RSS from VmHWM."""
    paths = cli.main(["--tiny", "--only", "numpy,roofline", "--out", str(tmp_path)])
    with open(paths["json"]) as f:
        records = json.load(f)["records"]
    assert [r["label"] for r in records] == ["roofline/start", "numpy/seq_float64",
                                             "roofline/end"]
    assert [r["status"] for r in records] == ["ok"] * 3
    assert all(r["peak_rss_mib"] > 10 for r in records)
    assert "VmHWM" in records[1]["memory_method"]


def test_rounds_pool_the_repeats(tmp_path):
    paths = cli.main(["--tiny", "--only", "numpy", "--rounds", "2", "--no-isolate",
                      "--out", str(tmp_path)])
    with open(paths["json"]) as f:
        (record,) = json.load(f)["records"]
    assert record["rounds"] == 2 and len(record["seconds"]) == 2


def test_only_rejects_unknown_names():
    with pytest.raises(SystemExit):
        runner.plan(Settings.for_mode("tiny"), ["nope"])


def _record(contender, variant, seeds, median, order="shared", compile_s=1.0):
    return {"case": Case(contender, variant, seeds).to_dict(), "status": "ok",
            "median_s": median, "min_s": median, "max_s": median, "gflops": 50.0,
            "order": order, "compile_s": compile_s, "first_call_s": None, "notes": ""}


def test_goal_logic_on_synthetic_records():
    records = [_record("nnjax", "shared", 1, 0.30), _record("nnjax", "shared", 15, 0.20),
               _record("nnjax", "shared", 64, 0.21), _record("nnjax", "per_seed", 15, 0.40),
               _record("torch_mlp", "seq_1thread", 1, 1.0, "own"),
               _record("torch_func", "vmap_1thread", 15, 0.30),
               _record("flax_nnx", "vmap", 15, 0.25), _record("numpy", "seq", 1, 20.0, "own")]
    by_goal = {g.goal: g for g in goals.check(records, roofline_gflops=100.0)}
    assert by_goal["15-seed vmapped vs best sequential PyTorch"].measured == pytest.approx(5.0)
    assert by_goal["15-seed vmapped vs best sequential PyTorch"].passed
    assert not by_goal["15-seed vmapped vs Flax NNX"].passed  # 1.25× < 1.5×
    assert by_goal["15-seed vmapped vs NumPy from scratch"].measured == pytest.approx(100)
    assert by_goal["share of the matmul roofline"].measured == pytest.approx(50)
    rise = by_goal["per-seed-epoch time not rising from S=1 to 64"]
    assert rise.measured == pytest.approx(0.7) and rise.passed


def test_ours_is_the_manual_engine_and_matches_its_comparisons():
    """The autodiff and device variants never become "ours"; they are matched on S and
    batch order."""
    records = [_record("nnjax", "shared", 15, 0.20), _record("nnjax", "per_seed", 15, 0.25),
               _record("nnjax", "shared_autodiff", 15, 0.10),   # faster, but not ours
               _record("nnjax", "per_seed_autodiff", 15, 0.50),
               _record("nnjax", "shared_autodiff", 4, 0.01),    # other S: ignored
               _record("nnjax", "shared_1dev", 16, 0.30), _record("nnjax", "shared_2dev", 16, 0.20),
               _record("nnjax", "per_seed_1dev", 16, 0.30),
               _record("nnjax", "per_seed_2dev", 16, 0.40)]
    assert goals.pick_ours(records, 15)["case"]["variant"] == "shared"
    assert goals.goal_seeds(records) == 15  # S=16 device rows do not count
    by_goal = {g.goal: g for g in goals.check(records, roofline_gflops=None)}
    manual = by_goal["grad=manual vs grad=autodiff (shared order)"]
    assert manual.measured == pytest.approx(2.0) and manual.passed is False
    assert "nnjax/shared_autodiff S=15" in manual.detail
    other = by_goal["grad=manual vs grad=autodiff (per_seed order)"]      # both orders
    assert other.measured == pytest.approx(0.5) and other.passed is True
    dev = by_goal["2 devices vs 1 (sharded runs)"]
    assert dev.measured == pytest.approx(1.5) and dev.passed is True
    assert "per_seed S=16" in dev.detail and "(0.75×)" in dev.detail
    # ours per_seed: both goals follow its order
    fast = [dict(r, median_s=0.15) if r["case"]["variant"] == "per_seed" else r
            for r in records]
    by_goal = {g.goal: g for g in goals.check(fast, roofline_gflops=None)}
    assert by_goal["grad=manual vs grad=autodiff (per_seed order)"].measured == pytest.approx(0.3)
    assert by_goal["grad=manual vs grad=autodiff (per_seed order)"].passed
    assert [g.goal for g in goals.check(fast, roofline_gflops=None)
            if g.goal.startswith("grad=")][0].endswith("(per_seed order)")   # ours first
    assert by_goal["2 devices vs 1 (sharded runs)"].measured == pytest.approx(0.75)


def test_comparison_goals_not_measured_without_their_rows():
    records = [_record("nnjax", "shared", 15, 0.20), _record("nnjax", "shared_2dev", 16, 0.2)]
    by_goal = {g.goal: g for g in goals.check(records, roofline_gflops=None)}
    for name in ("grad=manual vs grad=autodiff (shared order)",
                 "grad=manual vs grad=autodiff (per_seed order)", "2 devices vs 1 (sharded runs)"):
        assert by_goal[name].measured is None and by_goal[name].passed is None
    assert [g.passed for g in goals.manual_vs_autodiff(records, None)] == [None]


def test_nnjax_variant_names_and_device_env():
    for args in [("shared",), ("per_seed", "autodiff"), ("shared", "manual", 2)]:
        name = nnjax_variant(*args)
        assert parse_nnjax_variant(name)[:len(args)] == args
    assert nnjax_variant("per_seed", devices=2) == "per_seed_2dev"
    with pytest.raises(ValueError):
        parse_nnjax_variant("shared_fast")
    base = {"XLA_FLAGS": "--xla_foo=1 --xla_force_host_platform_device_count=8", "A": "b"}
    env = runner.case_env(Case("nnjax", "shared_2dev", 16, devices=2), base)
    assert env["XLA_FLAGS"] == "--xla_foo=1 --xla_force_host_platform_device_count=2"
    assert runner.case_env(Case("nnjax", "shared", 15), base) == base
    full = nnjax_mlp.cases(Settings.for_mode("full"))
    assert sum(c.devices == 2 for c in full) == 2 and all(
        c.seeds == 16 for c in full if c.devices)
    assert {c.seeds for c in full if "autodiff" in c.variant} == {15}
    assert sum(c.variant in ("shared", "per_seed") for c in full) == 8  # S sweep: manual only


@pytest.mark.parametrize("family", sorted(runner.FAMILIES))
def test_every_contender_importable(family):
    missing = runner.missing_packages(family)
    if missing:
        pytest.skip(f"not installed: {missing}")
    module = __import__(runner.FAMILIES[family][0], fromlist=["x"])
    if family != "roofline":
        assert module.cases(Settings.for_mode("tiny"))


def test_random_data_fallback_is_flagged():
    data = load_data(256, "random")
    assert data.x.shape == (256, 784) and data.x.dtype.name == "float32"
    assert data.source.startswith("random")


def test_subset_run_leaves_the_full_run_and_latest_alone(tmp_path):
    """An ``--only`` run gets its own file name; LATEST.md and the day's full report stay."""
    (tmp_path / "LATEST.md").write_text("the full run\n")
    paths = cli.main(["--tiny", "--only", "numpy", "--no-isolate", "--out", str(tmp_path)])
    assert "latest" not in paths
    assert paths["md"].endswith("-only-numpy.md")
    assert (tmp_path / "LATEST.md").read_text() == "the full run\n"
