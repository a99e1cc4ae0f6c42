"""nnjax.analysis.plots: every figure writes a readable PNG; colours are stable per label."""
import matplotlib.image as mpimg
import numpy as np
import pytest

from nnjax.analysis import plots

RNG = np.random.default_rng(0)


def _check_png(path, min_kb=8):
    assert path.suffix == ".png" and path.stat().st_size > min_kb * 1024
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] == 4 and min(img.shape[:2]) > 200   # RGBA
    assert img[..., :3].std() > 0.01                                          # not blank
    return img


def _acc_runs(final, n=15, epochs=20, spread=0.004):
    t = np.arange(1, epochs + 1)
    return final - 0.1 * np.exp(-t / 3) + RNG.normal(0, spread, size=(n, epochs))


def test_curves_with_nan_runs_and_logy(tmp_path):
    relu, sig = _acc_runs(0.971), _acc_runs(0.960)
    sig[2, 5:] = np.nan                               # diverged
    sig[4, 12:] = np.nan                              # stopped early
    p = plots.curves(tmp_path / "deep" / "curves.png", {"ReLU": relu, "Sigmoid": sig},
                     title="MNIST MLP validation accuracy, 15 seeds",
                     ylabel="accuracy (fraction correct)", show_runs=True)
    _check_png(p)
    loss = np.exp(-np.arange(50) / 10)[None] * RNG.uniform(0.5, 2, size=(25, 1)) + 0.25
    _check_png(plots.curves(tmp_path / "loss.png", {"train MSE": loss}, logy=True,
                            title="linear regression", ylabel="MSE (log scale)"))


def test_boxplot_with_published_and_diverged(tmp_path):
    groups = {"TanH": RNG.normal(.9711, .001, 15), "Sigmoid": RNG.normal(.9600, .001, 15),
              "ReLU": np.r_[RNG.normal(.9710, .001, 13), np.nan, np.inf]}
    pub = {"TanH": .9711, "Sigmoid": .9600, "ReLU": .9710}
    p = plots.boxplot(tmp_path / "box.png", groups, title="activation sweep (15 seeds)",
                      ylabel="test accuracy", published=pub)
    _check_png(p)
    _check_png(plots.boxplot(tmp_path / "box2.png", {"a": [1.0, 2.0, 3.0], "b": [np.nan]},
                             title="no published", ylabel="y"))


def test_image_grid_shapes(tmp_path):
    x = RNG.uniform(0, 1, size=(8, 28, 28))
    noisy = np.clip(x + RNG.normal(0, 0.2, x.shape), 0, 1)[..., None]    # (n, H, W, 1)
    flat = x.reshape(8, 784)                                             # (n, 784)
    p = plots.image_grid(tmp_path / "grid.png", [x, noisy, flat[:5]],
                         row_titles=["original", "noisy σ=0.2", "reconstruction"],
                         col_titles=[str(i) for i in range(8)], title="denoising AE")
    _check_png(p, min_kb=4)
    with pytest.raises(ValueError, match="row_titles"):
        plots.image_grid(tmp_path / "bad.png", [x], row_titles=["a", "b"], title="t")


def test_heatmap_and_confusion_matrix(tmp_path):
    m = RNG.uniform(0.004, 0.04, size=(5, 5))
    m[1, 3] = np.nan
    p = plots.heatmap(tmp_path / "heat.png", m, row_labels=[4, 8, 16, 32, 64],
                      col_labels=[1, 2, 3, 4, 5], title="AE test MSE (IQM of 5 seeds)",
                      xlabel="depth (hidden layers per side)", ylabel="latent size L",
                      colorbar_label="MSE")
    _check_png(p)
    with pytest.raises(ValueError, match="labels"):
        plots.heatmap(tmp_path / "x.png", m, row_labels=[1], col_labels=[1], title="",
                      xlabel="", ylabel="")
    cm = RNG.integers(0, 30, size=(10, 10)) + np.diag(RNG.integers(800, 1000, size=10))
    names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"]
    _check_png(plots.confusion_matrix(tmp_path / "cm.png", cm, names,
                                      title="Fashion-MNIST FFNN, test set"))


def test_decision_boundary_probabilities_and_multiclass(tmp_path):
    x = np.concatenate([RNG.normal(c, 0.8, size=(50, 2)) for c in
                        ([3, 3], [-3, -3], [3, -3], [-3, 3])])
    y = np.repeat([0, 0, 1, 1], 50)

    def xor_prob(p):
        return 1 / (1 + np.exp(-p[:, 0] * p[:, 1]))
    p = plots.decision_boundary(tmp_path / "xor.png", lambda q: 1 - xor_prob(q), x, y,
                                title="XOR, median run", x_test=x[::5] + 0.3, y_test=y[::5])
    _check_png(p)
    y3 = np.repeat([0, 1, 2, 2], 50)

    def scores(q):
        return np.stack([q[:, 0] + q[:, 1], -q[:, 0] - q[:, 1], q[:, 0] - q[:, 1]], 1)
    _check_png(plots.decision_boundary(tmp_path / "multi.png", scores, x, y3, title="3 classes"))


def test_scatter_2d_and_line(tmp_path):
    labels = RNG.integers(0, 10, 2000)
    xy = RNG.normal(size=(2000, 2)) + 4 * np.stack([np.cos(labels), np.sin(labels)], 1)
    p = plots.scatter_2d(tmp_path / "tsne.png", xy, labels, title="t-SNE of L=4 codes",
                         class_names=[str(i) for i in range(10)])
    _check_png(p)
    sigma = np.array([0.0, 0.1, 0.2, 0.4, 0.6, 1.0])
    mse = 0.01 + 0.05 * sigma[None] ** 2 * RNG.uniform(0.8, 1.2, size=(5, 1))
    p = plots.line(tmp_path / "sigma.png", sigma, {"ED=4": mse, "ED=32": mse[0] * 0.8},
                   title="robustness to Gaussian noise", xlabel="noise σ",
                   ylabel="test MSE")
    _check_png(p)
    with pytest.raises(ValueError, match="points"):
        plots.line(tmp_path / "x.png", sigma, {"a": np.ones(3)}, title="", xlabel="",
                   ylabel="")


def test_colours_are_stable_and_distinct():
    a = plots.colors_for(["ReLU", "TanH", "Sigmoid"])
    b = plots.colors_for(["Sigmoid", "ReLU"])
    assert a["ReLU"] == b["ReLU"]                        # same label, same colour
    many = plots.colors_for([f"cfg{i}" for i in range(len(plots.PALETTE))])
    assert len(set(many.values())) == len(plots.PALETTE)  # no clash within a figure
    assert plots.colors_for(["x"], {"x": "red"}) == {"x": "red"}
