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


def test_tiny_presets_run_and_report(tmp_path):
    grid = _run(ae_grid.STUDY, tmp_path)
    assert set(grid["figures"]) >= {"heatmap_mse.png", "heatmap_bce.png"}
    assert grid["gradcheck"]["all_ok"] and grid["gradcheck"]["models_checked"] == 2
    for loss in ("mse", "bce"):
        s = grid["summary"][f"L4-d1-{loss}"]
        assert s["n"] == 2 and 0.0 < s["iqm"] < 0.3              # pixel-space MSE, both losses
    assert len(grid["runs"]) == 4

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
                                   "denoise_sigma0.2.png", "denoise_sigma0.6.png"}
    sw = den["sweep"]
    assert np.isnan(sw["input_psnr"][0]) and sw["input_mse"][0] == 0.0   # σ = 0: clean input
    assert np.all(np.diff(sw["input_mse"]) > 0)                          # noisier with σ
    assert np.asarray(sw["psnr"]).shape == (2, len(sw["sigma"]))

    text = write_report(tmp_path).read_text()
    for study in (ae_grid.STUDY, ae_latent.STUDY, denoising.STUDY):
        assert f"`{study.name}`, “Neural Networks” report" in text
    assert "0.8 + 0.2·accuracy" in text and "0.9619" in text and "0.037" in text
