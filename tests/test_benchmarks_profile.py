"""Smoke test of ``python -m benchmarks.profile`` at toy size (S=2, 4 steps): the HLO dot
summary and the trace parse work. No timing is asserted."""
import json
import os

import pytest

from benchmarks import profile

pytestmark = pytest.mark.lenient  # runs Optax internals, as the benchmarks do


def test_profile_tiny(tmp_path):
    path = profile.main(["--seeds", "2", "--variants", "shared", "--n-images", "512",
                         "--data", "random", "--repeats", "1", "--epochs", "1",
                         "--out", str(tmp_path)])
    text = open(path).read()
    assert "## shared, S=2" in text and "| op | calls |" in text
    with open(os.path.join(tmp_path, "profile.json")) as f:
        (res,) = json.load(f)
    step_dots = [d for d in res["dots"] if d["per_call"] == 4]  # 512 // 128 steps
    # shared order: the first layer is one wide (128×784)·(784×2·64) product
    assert any(d["out"] == "f32[128,128]" and d["flops"] == 2 * 128 * 128 * 784
               for d in step_dots)
    assert res["ops"] and abs(sum(o["share"] for o in res["ops"]) - 1) < 1e-6


def test_profile_conv_tiny(tmp_path):
    """--conv: the conv AE's epoch as fit compiles it; its step runs the conv layers as
    matmuls (the CPU default lowering) and the dots are counted per step."""
    path = profile.main(["--conv", "--seeds", "2", "--variants", "alone,sequential",
                         "--trace", "alone", "--n-images", "512", "--data", "random",
                         "--repeats", "1", "--epochs", "1", "--out", str(tmp_path)])
    text = open(path).read()
    assert "conv AE" in text and "## alone, S=1" in text and "## sequential, S=2" in text
    with open(os.path.join(tmp_path, "profile.json")) as f:
        alone, seq = json.load(f)
    assert alone["ops"] and "ops" not in seq
    assert any(d["per_call"] == 4 for d in alone["dots"])       # 512 // 128 steps
    with pytest.raises(SystemExit):
        profile.main(["--conv", "--variants", "shared", "--out", str(tmp_path)])
