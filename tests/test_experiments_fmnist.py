"""The second source report's studies (fmnist-ae, fmnist-ffnn) run end to end on the 8×8 digits stand-in."""
import numpy as np
import pytest

from experiments import fmnist_ae, fmnist_ffnn
from experiments._common import median_run
from nnjax.study import run_study
from nnjax.study import write_report
from nnjax.results import read_json


def test_median_run_ignores_diverged():
    assert median_run([0.3, 0.1, 0.2]) == 2
    assert median_run([0.3, np.nan, 0.1, 0.2]) == 3
    assert median_run([0.4, 0.1, 0.3, 0.2]) == 3          # lower middle of four


def test_decoder_half_is_the_tail_of_the_autoencoder():
    import jax
    from nnjax.models import join, split
    enc, dec = fmnist_ae.halves(16, 8, 3)
    model = join(enc, dec)
    params, state, out = model.init(jax.random.key(0), (16,))
    assert out == (16,)
    x = np.random.default_rng(0).random((5, 16)).astype(np.float32)
    (pe, pd), (se, sd) = split(enc, params), split(enc, state)
    z, _, _ = enc.forward(pe, se, x)
    assert z.shape == (5, 3) and np.any(np.asarray(z) < 0)   # linear code: no ReLU on it
    y, _, _ = dec.forward(pd, sd, z)
    full, _, _ = model.forward(params, state, x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(full), rtol=1e-6)
    mu, cov = fmnist_ae.fitted_gaussian(np.asarray(z))
    a, b = fmnist_ae.sample_codes(mu, cov, 4, seed=0)
    assert a.shape == b.shape == (4, 3) and a.dtype == np.float32


@pytest.mark.lenient
def test_tiny_presets_write_results_figures_and_report(tmp_path):
    for study, figures in ((fmnist_ae.STUDY, ["ae_loss_curves.png", "reconstructions.png",
                                              "latent_samples.png"]),
                           (fmnist_ffnn.STUDY, ["ffnn_accuracy.png", "ffnn_loss.png",
                                                "confusion_matrix.png", "misclassified.png"])):
        path = run_study(study, tmp_path, "tiny", tiny=True, progress=False)
        r = read_json(path)
        assert r["tiny"] and sorted(r["figures"]) == sorted(figures)
        for f in figures:
            assert (tmp_path / study.name / f).stat().st_size > 1000
        assert len(r["runs"]) == 2 and r["gradcheck"]["ok"]
        assert r["config"]["validation"] is None and r["config"]["n_train"] == 1497
    ae = read_json(tmp_path / "fmnist-ae" / "results.json")
    mse = ae["summary"]["test_mse"]
    assert 0.0 < mse["iqm"] < 0.2 and mse["n"] == 2
    assert ae["latent"]["identity_trace"] == 8
    ff = read_json(tmp_path / "fmnist-ffnn" / "results.json")
    acc = ff["summary"]["test_accuracy"]
    assert 0.3 < acc["iqm"] <= 1.0
    cm = np.asarray(ff["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 2 * 300
    np.testing.assert_allclose(np.trace(cm) / cm.sum(), np.mean(acc["values"]), atol=1e-6)
    text = write_report(tmp_path).read_text()
    assert "fmnist-ae" in text and "fmnist-ffnn" in text
    assert "test reconstruction MSE" in text and "0.9010" in text and "0.0066" in text
