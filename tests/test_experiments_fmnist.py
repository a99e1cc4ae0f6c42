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
    assert len(ae["runs"][0]) == 4 and ae["summary"]["train_mse_eval"]["n"] == 2
    assert ae["torch_check"] is None and "Conclusions of the source" in text


def _fake_check(test_mse, n=3):
    """A PyTorch cross-check file as experiments.crosscheck.fmnist_ae_torch writes it."""
    from nnjax.analysis import stats
    runs = [{"seed": i, "test_mse": test_mse + 1e-5 * i, "test_mse_batch_mean": 0.0067,
             "train_mse_eval": 0.0066 + 1e-6 * i, "train_loss_last_epoch": 0.0068,
             "train_loss_curve": [0.03, 0.0068]} for i in range(n)]
    keys = ("test_mse", "test_mse_batch_mean", "train_mse_eval", "train_loss_last_epoch")
    return {"config": {"lr": 1e-3, "batch_size": 128, "epochs": 20, "seeds_done": n},
            "runs": runs, "summary": {k: stats.summary([r[k] for r in runs]) for k in keys},
            "provenance": {"torch": "x", "script": "experiments.crosscheck.fmnist_ae_torch"}}


def test_fmnist_ae_report_reads_the_torch_check_and_states_its_verdicts(tmp_path):
    from experiments.crosscheck.fmnist_ae_torch import attach
    base = {"summary": {"test_mse": {"n": 5, "iqm": 0.0069, "ci_low": 0.00688, "ci_high": 0.00696,
                                     "values": [0.0068, 0.0069, 0.0069, 0.0070, 0.0070],
                                     "q1": 0.0069, "q3": 0.0070}},
            "history": {"train_loss": [[0.03, 0.02, 0.01], [0.03, 0.02, 0.011]]}}
    text = "\n".join(fmnist_ae.verdicts(base))
    assert "*test reconstruction loss 0.0066*: **does not hold**" in text   # outside the CI
    assert "*the training loss decreased steadily over the 20 epochs*: **holds**" in text
    rising = {**base, "history": {"train_loss": [[0.03, 0.02, 0.025]]}}
    assert "steadily over the 20 epochs*: **does not hold**" in "\n".join(fmnist_ae.verdicts(rising))
    inside = {**base, "summary": {"test_mse": {**base["summary"]["test_mse"], "ci_low": 0.0065}}}
    assert "0.0066*: **holds**" in "\n".join(fmnist_ae.verdicts(inside))
    # the cross-check reaches the report only through the results file
    assert "No PyTorch cross-check" in fmnist_ae._torch_text(base)
    (tmp_path / "results.json").write_text('{"summary": {}}')
    attach(_fake_check(0.00690), tmp_path / "results.json")
    got = read_json(tmp_path / "results.json")["torch_check"]
    assert "train_loss_curve" not in got["runs"][0]                 # kept brief
    text = fmnist_ae._torch_text({**base, "torch_check": got})
    assert "PyTorch twin" in text and "0.00691" in text             # IQM of the fake values
    assert "(a) is ruled out" in text                              # inside our seeds' range
    far = fmnist_ae._torch_text({**base, "torch_check": _fake_check(0.0080)})
    assert "(a) is not ruled out" in far and "train mse eval (0.00660)" in far


def test_fmnist_ffnn_confusion_verdict_ranks_pairs_both_ways():
    from nnjax.data.registry import FASHION_MNIST
    names = FASHION_MNIST.class_names
    cm = np.zeros((10, 10), int)
    shirt, tee, coat, pull, bag = (names.index(n) for n in
                                   ("Shirt", "T-shirt/top", "Coat", "Pullover", "Bag"))
    cm[shirt, tee], cm[tee, shirt], cm[coat, pull], cm[pull, coat] = 50, 40, 30, 25
    rank = fmnist_ffnn.pair_ranking(cm, names)
    assert rank[0] == (("T-shirt/top", "Shirt"), 90) and rank[1] == (("Pullover", "Coat"), 55)
    acc = {"n": 5, "iqm": 0.9, "ci_low": 0.89, "ci_high": 0.905, "values": [0.9] * 5}
    r = {"summary": {"test_accuracy": acc, "train_accuracy_last_epoch": {**acc, "iqm": 0.971}},
         "confusion_matrix": cm.tolist()}
    assert all("**holds**" in v for v in fmnist_ffnn.verdicts(r))
    cm[bag, coat] = 100                                   # a third pair now outranks one named
    r["confusion_matrix"] = cm.tolist()
    assert "Coat vs Pullover*: **does not hold**" in fmnist_ffnn.verdicts(r)[2]
