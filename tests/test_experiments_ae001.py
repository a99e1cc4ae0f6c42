"""The first source report's autoencoder studies (ae-grid, ae-latent, denoising): tiny presets end to
end on the 8×8 digits, and its one-vs-rest KNN figure."""
import numpy as np
import pytest

from experiments import ae_grid, ae_latent, denoising
from nnjax.study import run_study
from nnjax.study import write_report
from nnjax.results import read_json


def test_legacy_ovr_accuracy_is_seed_001s_figure():
    # 8097 correct of 10 000 (the report's totals): Σ(TP+TN)/(10·N) = 0.8 + 0.2·0.8097
    cm = np.zeros((10, 10), np.int64)
    per_class = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    correct = [914, 1113, 889, 762, 790, 534, 869, 853, 681, 692]          # the report's TP
    for c, (n, tp) in enumerate(zip(per_class, correct)):
        cm[c, c] = tp
        cm[c, (c + 1) % 10] = n - tp
    assert cm.sum() == 10_000 and np.trace(cm) == 8097
    assert round(ae_latent.legacy_ovr_accuracy(cm), 4) == 0.9619
    assert ae_latent.legacy_ovr_accuracy(cm) == pytest.approx(0.8 + 0.2 * 0.8097)
    t = ae_latent.ovr_table(cm)
    assert t[:, 0].sum() == 8097 and t[:, 1].sum() == 1903 and t[:, 2].sum() == 1903
    assert t[:, 3].sum() == 88097                                         # the report's total row
    assert ae_latent.legacy_ovr_accuracy(np.eye(3) * 5) == 1.0


def _run(study, out):
    path = run_study(study, out, "tiny", tiny=True, progress=False)
    res = read_json(path)
    for fig in res["figures"]:
        assert (path.parent / fig).stat().st_size > 0
    for key in ("config", "runs", "summary", "published", "gradcheck"):
        assert key in res
    return res


def test_grid_order_puts_the_published_cells_first_and_covers_the_grid():
    pts = ae_grid.points_in_order(ae_grid.PRESETS["paper"])
    names = [ae_grid.cell_name(*p["cell"], p["loss"]) for p in pts]
    assert names[:4] == ["L4-d1-mse", "L4-d1-bce", "L64-d1-mse", "L64-d1-bce"]
    assert names[4:8] == ["L64-d2-mse", "L64-d3-mse", "L64-d4-mse", "L64-d5-mse"]
    assert len(set(names)) == len(names) == 50


def test_remaining_cost_is_the_linear_fit_times_epochs():
    # measured: 1 s/epoch at 1000 parameters, 2 s/epoch at 2000, both ran 10 epochs
    per_cell = {"a": {"params": 1000, "seconds_per_epoch": 1.0, "epochs_run": [10, 10]},
                "b": {"params": 2000, "seconds_per_epoch": 2.0, "epochs_run": [10, 10]}}
    widths = ae_grid.C.widths_for
    ds = type("D", (), {"train": type("S", (), {"x": np.zeros((1, 784))})})
    lat_d = (64, 5)
    p = ae_grid.n_params(widths(ds, *lat_d))
    got = ae_grid.remaining_cost(per_cell, ["L64-d5-mse"], ds, 200)
    assert got["cells"] == 1 and got["median_epochs_measured"] == 10
    assert got["hours_typical"] == pytest.approx(p / 1000 * 10 / 3600, rel=1e-6)
    assert got["hours_bound"] == pytest.approx(p / 1000 * 200 / 3600, rel=1e-6)
    assert ae_grid.n_params([784, 4, 784]) == 784 * 4 + 4 + 4 * 784 + 784


def test_denoising_first_epoch_below_the_noisy_input():
    h = [[0.03, 0.025, 0.02, 0.019], [0.03, 0.03, 0.03, float("nan")]]
    assert denoising.first_epoch_below(h, 0.021) == [3, None]


def test_grid_verdicts_follow_the_numbers():
    def summ(v):
        return {"iqm": v, "n": 3, "values": [v] * 3, "q1": v, "q3": v}
    cfg = {"latents": [4, 64], "depths": [1, 3], "losses": ["mse", "bce"],
           "cells": [[4, 1], [4, 3], [64, 1], [64, 3]]}
    s = {ae_grid.cell_name(lat, d, loss): summ(v) for (lat, d, loss), v in {
        (4, 1, "mse"): .04, (64, 1, "mse"): .005, (4, 3, "mse"): .03, (64, 3, "mse"): .004,
        (4, 1, "bce"): .04, (64, 1, "bce"): .004, (4, 3, "bce"): .03, (64, 3, "bce"): .003}.items()}
    text = "\n".join(ae_grid.verdicts({"summary": s, "config": cfg, "complete": True}))
    assert text.count("**holds**") == 4    # L helps, d=3 best, BCE more L-sensitive, L=4 ≤ .037
    assert "**does not hold**" in text             # 0.005 > the published 0.0045 at L=64, d=1
    s["L64-d3-mse"] = summ(.006)                    # now d=1 wins at L=64 with MSE
    text = "\n".join(ae_grid.verdicts({"summary": s, "config": cfg, "complete": True}))
    assert "depth 3–5 showing the best results*: **does not hold**" in text


def test_tiny_presets_run_and_report(tmp_path, monkeypatch):
    grid = _run(ae_grid.STUDY, tmp_path)
    assert set(grid["figures"]) >= {"heatmap_mse.png", "heatmap_bce.png"}
    assert grid["gradcheck"]["all_ok"] and grid["gradcheck"]["models_checked"] == 2
    for loss in ("mse", "bce"):
        s = grid["summary"][f"L4-d1-{loss}"]
        assert s["n"] == 2 and 0.0 < s["iqm"] < 0.3              # pixel-space MSE, both losses
    assert len(grid["runs"]) == 4 and grid["complete"] and not grid["missing"]
    assert all(0.0 <= r["knn_top1"] <= 1.0 for r in grid["runs"])   # the L=4 cells' 5-NN

    # an interrupt (timeout -s INT) keeps the finished cells: the first resumes, the second stops
    from nnjax.study import Context
    calls = {"n": 0}
    real = Context.sweep

    def interrupted(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, *a, **k)
    monkeypatch.setattr(Context, "sweep", interrupted)
    part = _run(ae_grid.STUDY, tmp_path)
    monkeypatch.undo()
    assert not part["complete"] and part["missing"] == ["L4-d1-bce"]
    assert part["interrupted_at"] == "L4-d1-bce" and list(part["summary"]) == ["L4-d1-mse"]
    assert part["summary"]["L4-d1-mse"] == grid["summary"]["L4-d1-mse"]

    latent = _run(ae_latent.STUDY, tmp_path)
    assert set(latent["figures"]) >= {"reconstructions.png", "tsne_codes.png",
                                      "knn_confusion.png", "interpolation.png",
                                      "centroid_grid.png"}
    for run in latent["knn"]["runs"]:
        acc = run["top1"]
        assert 0.0 <= acc <= 1.0
        assert run["legacy_ovr"] == pytest.approx(0.8 + 0.2 * acc)
    table = np.asarray(latent["knn"]["table_best_run"])
    assert table.shape == (10, 4) and table.sum() == 10 * 300    # 300 test digits, K=10

    den = _run(denoising.STUDY, tmp_path)
    assert set(den["figures"]) >= {"psnr_vs_sigma.png", "mse_vs_sigma.png",
                                   "denoise_sigma0.2.png", "denoise_sigma0.6.png",
                                   "denoise_sigma0.6_L8-d1.png", "val_loss_curves.png"}
    sw = den["sweep"]
    assert np.isnan(sw["input_psnr"][0]) and sw["input_mse"][0] == 0.0   # σ = 0: clean input
    assert np.all(np.diff(sw["input_mse"]) > 0)                          # noisier with σ
    assert np.asarray(sw["psnr"]).shape == (2, len(sw["sigma"]))
    assert np.asarray(sw["accuracy"]).shape == (2, len(sw["sigma"]))     # MLP on denoised
    assert sw["input_accuracy"][0] > sw["input_accuracy"][-1]           # noise hurts the MLP
    assert set(den["denoisers"]) == {"L8-d1-e2", "L4-d1-e2"} and den["main"] == "L4-d1-e2"

    text = write_report(tmp_path).read_text()
    for study in (ae_grid.STUDY, ae_latent.STUDY, denoising.STUDY):
        assert f"`{study.name}`, “Neural Networks” report" in text
    assert "0.8 + 0.2·accuracy" in text and "0.9619" in text and "0.037" in text
    assert "target" not in text.lower() and "0.0066" not in text          # no invented targets
    for study in (ae_grid, ae_latent, denoising):                       # one line per claim
        assert "The source's conclusions, in our data" in study.report(read_json(
            tmp_path / study.STUDY.name / "results.json"))
    assert latent["tsne"]["points"] == 200 and latent["short_codes"]["max_epochs"] == 1
