"""The first source report's MNIST classifier studies (mnist-mlp, mnist-sweeps) on the 8×8 digits."""
import pytest

from experiments import mnist_mlp, mnist_sweeps
from nnjax.study import run_study
from nnjax.study import write_report
from nnjax.results import read_json

pytestmark = pytest.mark.lenient          # Optax's Adam under strict rank promotion


def _check_outputs(path):
    res = read_json(path)
    assert res["tiny"] and res["figures"]
    for fig in res["figures"]:
        assert (path.parent / fig).stat().st_size > 1000
    assert res["gradcheck"]
    return res


def test_mnist_mlp_tiny(tmp_path):
    res = _check_outputs(run_study(mnist_mlp.STUDY, tmp_path, "tiny", tiny=True))
    assert {"loss_curves.png", "accuracy_curves.png", "test_accuracy_per_seed.png",
            "misclassified.png", "misclassified_best_model.png"} <= set(res["figures"])
    acc = res["summary"]["test_accuracy"]
    assert acc["n"] == 2 and 0.5 < acc["iqm"] <= 1.0          # 10 epochs on the 8×8 digits
    assert res["gradcheck"]["ok"]
    assert res["config"]["run_mapping"] == "vmap"     # one program, whatever "auto" measured
    best = res["best_by_val"]
    assert best["test_accuracy"] == res["runs"][best["index"]]["test_accuracy"]
    # the best run is chosen by validation accuracy, not by the test set
    runs = res["runs"]
    assert best["index"] == max(range(len(runs)), key=lambda i: runs[i]["val_accuracy"])
    text = write_report(tmp_path).read_text()
    assert "MNIST MLP 784-64-32-10" in text and "best of 2 by validation" in text


def test_mnist_sweeps_tiny_and_resume(tmp_path):
    res = _check_outputs(run_study(mnist_sweeps.STUDY, tmp_path, "tiny", tiny=True))
    assert {f"boxplot_{s}.png" for s in ("activation", "batch", "hidden", "optimizer")} \
        <= set(res["figures"])
    assert len(res["runs"]) == 4              # base (ReLU), TanH, [16,16], SGD ± momentum
    opt = {row["label"]: row for row in res["sweeps"]["optimizer"]}
    assert set(opt) == {"SGD lr .01", "SGD momentum .9 lr .01", "Adam 1e-3"}
    assert all(row["summary"]["n"] == 2 for row in opt.values())
    for rows in res["sweeps"].values():
        for row in rows:      # the verdict compares our quartiles with the published range
            pub = row["published"]
            lo, hi = (pub[1], pub[2]) if isinstance(pub, list) else (pub, pub)
            q1, q3 = row["summary"]["q1"], row["summary"]["q3"]
            assert row["verdict"] == ("above" if q1 > hi else "below" if q3 < lo else "within")
    # SGD's two boxes come from one program, split by momentum: different runs, same seeds
    assert opt["SGD lr .01"]["config"] == opt["SGD momentum .9 lr .01"]["config"]
    assert opt["SGD lr .01"]["seeds"] == opt["SGD momentum .9 lr .01"]["seeds"] == [0, 1]
    assert res["summary"]["activation/ReLU"]["iqm"] > 0.3
    # why SGD and SGD+momentum can share a program: traced momentum 0 is plain SGD, bitwise
    assert res["sgd_equals_momentum0_max_abs_diff"] == 0.0
    # one record per configuration (+ the SGD check); a second run resumes them all
    store = tmp_path / "mnist-sweeps" / "store" / "configs-tiny"   # keyed by the configuration
    assert len(list(store.glob("*.json"))) == 4
    again = read_json(run_study(mnist_sweeps.STUDY, tmp_path, "tiny", tiny=True))
    assert again["summary"] == res["summary"]
    text = write_report(tmp_path).read_text()
    assert "MNIST MLP sweeps" in text and "vs published" in text
