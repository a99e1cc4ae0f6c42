"""The third source report's studies (ae-projected, ae-regularisation, ae-denoise-gauss) on the 8×8 digits."""
import math

import numpy as np
import pytest

from experiments import _ae003_common as C
from experiments import ae_denoise_gauss, ae_projected, ae_regularisation
from nnjax.study import run_study
from nnjax.study import write_report
from nnjax.results import read_json


def _run(study, tmp_path):
    path = run_study(study, tmp_path, "tiny", tiny=True, progress=False)
    res = read_json(path)
    for fig in res["figures"]:
        assert (path.parent / fig).stat().st_size > 1000
    assert all(g["ok"] for g in res["gradcheck"].values()) and res["gradcheck"]
    text = write_report(tmp_path).read_text()
    assert f"`{study.name}`, Bonachera del Pozo et al., Project 1" in text and "published" in text
    return res


def test_widths_and_models():
    assert C.widths(784, 30, 3) == [784, 128, 30, 128, 784]
    assert C.widths(784, 30, 5, 64) == [784, 64, 64, 30, 64, 64, 784]
    with pytest.raises(ValueError, match="odd"):
        C.widths(784, 30, 4)
    w = C.widths(64, 4, 3, 16)
    enc, dec = C.autoencoder(w, dropout=0.2)
    # the encoder ends at the code's ReLU (its Dropout opens the decoder): codes are (N, 4)
    assert [lay.name for lay in enc.layers][-3:] == ["Dropout(0.2)", "Linear(4)", "ReLU"]
    assert dec.layers[0].name.startswith("Dropout") and dec.layers[-1].name == "Sigmoid"
    import jax
    params, state, shape = enc.init(jax.random.key(0), (64,))
    assert shape == (4,)
    z = np.array([[[0.0, 0.001, 1.0, 0.5]]])
    sp = C.sparsity(z)
    assert sp["zero"][0] == 0.25 and sp["near_zero"][0] == 0.5 and sp["dead_units"][0] == 1


def test_ae_projected_tiny(tmp_path):
    res = _run(ae_projected.STUDY, tmp_path)
    assert set(res["figures"]) == {"grid_mnist.png", "long_mnist.png"}
    cell = res["summary"]["MNIST code 4, 3 hidden"]
    assert cell["train_loss"]["n"] == 2 and cell["test_mse"]["values"] == \
        res["runs"]["MNIST code 4, 3 hidden"]["test_mse"]
    long = res["long"]["mnist"]
    assert long["test_mse"]["iqm"] <= cell["test_mse"]["iqm"] + 0.01   # 3 epochs vs 2
    # the published table is looked up by (dataset, code, hidden layers)
    assert ae_projected._published("fashion-mnist", 50, 5) == 0.0718
    assert ae_projected._published("mnist", 4, 3) is None and res["cells"][0]["published"] is None


def test_ae_regularisation_tiny(tmp_path):
    res = _run(ae_regularisation.STUDY, tmp_path)
    assert set(res["figures"]) == {"val_mse.png", "train_vs_val.png", "test_mse.png",
                                   "sparsity.png"}
    assert res["groups"] == ["none (λ=0)", "L1 λ=0.001", "dropout 0.2"]
    for g in res["groups"]:
        s = res["summary"][g]
        assert s["test_mse"]["n"] == 2
        assert s["test_mse"]["values"] == list(res["runs"][g]["test_mse"])
    none, l1 = res["runs"]["none (λ=0)"], res["runs"]["L1 λ=0.001"]
    assert none["seed"] == l1["seed"] == [0, 1]
    # the penalty is in the training objective only: λ > 0 shrinks the code
    assert np.mean(l1["code_mean_abs"]) < np.mean(none["code_mean_abs"])


def test_ae_denoise_gauss_tiny(tmp_path):
    res = _run(ae_denoise_gauss.STUDY, tmp_path)
    assert set(res["figures"]) == {"examples_mnist.png", "psnr_mnist.png", "curves_mnist.png"}
    noisy = res["noisy"]["MNIST"]
    # unclipped σ = 0.6: MSE ≈ 0.36, PSNR ≈ 10·log10(1/0.36) ≈ 4.4 dB
    assert abs(noisy["noisy_mse"] - 0.36) < 0.02
    assert abs(noisy["psnr_noisy_mean"] - 10 * math.log10(1 / 0.36)) < 0.5
    assert noisy["psnr_noisy_clipped_mean"] > noisy["psnr_noisy_mean"]
    assert res["summary"]["MNIST: psnr_denoised_mean"]["iqm"] > noisy["psnr_noisy_mean"] + 1


def test_ae_projected_deviation_tiny(tmp_path):
    from experiments import ae_projected_deviation as dev
    res = _run(dev.STUDY, tmp_path)
    assert set(res["figures"]) == {"ratio.png", "lr_study.png"}
    rows = res["rows"]["MNIST code 15, 3 hidden"]
    # the learning-rate study's runs, the [−1, 1] hypothesis and SGD, each per learning rate
    assert set(rows) == {"ours (Adam, [0, 1] pixels, Sigmoid), lr 0.001",
                         "ours (Adam, [0, 1] pixels, Sigmoid), lr 0.01",
                         "pixels in [−1, 1], Tanh output (Adam), lr 0.001", "plain SGD, lr 0.01"}
    pm1 = rows["pixels in [−1, 1], Tanh output (Adam), lr 0.001"]
    assert pm1["published"] == 0.0681 and pm1["runs"]["seed"] == [0, 1]
    assert pm1["train_loss"]["values"] == pm1["runs"]["train_loss"]
    text = dev.report(res)
    ratio = pm1["train_loss"]["iqm"] / 0.0681
    assert f"{pm1['train_loss']['iqm']:.4f} ({ratio:.2f}×, n=2)" in text
    # the learning-rate verdict names the learning rate with the lowest training loss
    study = {r["learning_rate"]: r["train_loss"]["iqm"] for r in rows.values() if r["lr_study"]}
    best = min(study, key=study.get)
    assert f"lowest training-loss IQM (the report's quantity) at lr {best:g}" in text
    assert ("read as 10⁻³*: **holds**" in text) == (best == 1e-3)
    # a summed loss is the mean × 784 pixels
    ours = rows["ours (Adam, [0, 1] pixels, Sigmoid), lr 0.001"]
    assert f"{ours['train_loss']['iqm'] * 784:.2f}" in text
    assert dev.STUDY.headline(res)[0][0].startswith("MNIST code 15, 3 hidden, pixels in [−1, 1]")


def test_pm1_model_outputs_in_minus_one_one():
    import jax
    from experiments import ae_projected_deviation as dev
    model = dev._model([64, 16, 4, 16, 64], "pm1")
    assert model.layers[-1].name == "Tanh" and model.layers[-2].name == "Linear(64)"
    params, state, shape = model.init(jax.random.key(0), (64,))
    assert shape == (64,)


def test_l1_penalty_autodiff_takes_the_manual_subgradient_at_zero():
    # ReLU codes sit at exactly 0; jax.grad of jnp.abs takes 1 there, the manual backward 0:
    # the gradient check of a sparse AE with λ > 0 failed on that kink
    import jax
    import jax.numpy as jnp
    from nnjax.losses import l1_penalty, l1_penalty_grad
    z = jnp.array([[0.0, 1.5, -2.0, 0.0], [3.0, 0.0, 0.0, -0.5]])
    auto = jax.grad(lambda v: l1_penalty(v, 0.3))(z)
    np.testing.assert_allclose(auto, l1_penalty_grad(z, 0.3), rtol=0, atol=0)
    assert float(l1_penalty(z, 0.3)) == pytest.approx(0.3 * 7.0 / 2)
