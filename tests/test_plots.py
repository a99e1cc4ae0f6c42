"""nnjax.analysis.plots: every figure writes a readable PNG and draws what it is given
(the plotted numbers are read back from the figure before it is saved); colours are
stable per label."""
import matplotlib.image as mpimg
import numpy as np
import pytest

from nnjax.analysis import plots, stats

RNG = np.random.default_rng(0)


@pytest.fixture
def drawn(monkeypatch):
    """What the last saved figure drew, per axes: lines ``{label: ydata}``, texts, title,
    tick labels, number of images."""
    got = []
    save = plots.save

    def capture(fig, path):
        axes = []
        for ax in fig.axes:
            axes.append({"lines": {ln.get_label(): np.asarray(ln.get_ydata(), float)
                                   for ln in ax.get_lines()},
                         "dashed": [np.asarray(ln.get_ydata(), float) for ln in ax.get_lines()
                                    if ln.get_linestyle() == "--"],
                         "texts": [t.get_text() for t in ax.texts],
                         "title": ax.get_title(),
                         "images": [np.ma.filled(im.get_array().astype(float), np.nan)
                                    for im in ax.images],
                         "xticks": [t.get_text() for t in ax.get_xticklabels()]})
        got.append(axes)
        return save(fig, path)

    monkeypatch.setattr(plots, "save", capture)
    return got


def _check_png(path, min_kb=8):
    assert path.suffix == ".png" and path.stat().st_size > min_kb * 1024
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) > 200   # RGB: opaque
    assert img[..., :3].std() > 0.01                                          # not blank
    return img


def _acc_runs(final, n=15, epochs=20, spread=0.004):
    t = np.arange(1, epochs + 1)
    return final - 0.1 * np.exp(-t / 3) + RNG.normal(0, spread, size=(n, epochs))


def test_curves_with_nan_runs_and_logy(tmp_path, drawn):
    relu, sig = _acc_runs(0.971), _acc_runs(0.960)
    sig[2, 5:] = np.nan                               # diverged
    sig[4, 12:] = np.nan                              # stopped early
    p = plots.curves(tmp_path / "deep" / "curves.png", {"ReLU": relu, "Sigmoid": sig},
                     title="MNIST MLP validation accuracy, 15 seeds",
                     ylabel="accuracy (fraction correct)", show_runs=True)
    _check_png(p)
    (ax,) = drawn[-1]
    # the IQM line of each label over the runs still present; the legend counts them
    np.testing.assert_allclose(ax["lines"]["ReLU (n=15)"], stats.iqm(relu, axis=0))
    np.testing.assert_allclose(ax["lines"]["Sigmoid (n=15, 13 at epoch 20)"],
                               stats.iqm(sig, axis=0, nan_policy="omit"))
    assert np.all(np.isfinite(ax["lines"]["Sigmoid (n=15, 13 at epoch 20)"]))
    loss = np.exp(-np.arange(50) / 10)[None] * RNG.uniform(0.5, 2, size=(25, 1)) + 0.25
    _check_png(plots.curves(tmp_path / "loss.png", {"train MSE": loss}, logy=True,
                            title="linear regression", ylabel="MSE (log scale)"))


def test_boxplot_with_published_and_diverged(tmp_path, drawn):
    groups = {"TanH": RNG.normal(.9711, .001, 15), "Sigmoid": RNG.normal(.9600, .001, 15),
              "ReLU": np.r_[RNG.normal(.9710, .001, 13), np.nan, np.inf]}
    pub = {"TanH": .9711, "Sigmoid": .9600, "ReLU": .9710}
    p = plots.boxplot(tmp_path / "box.png", groups, title="activation sweep (15 seeds)",
                      ylabel="test accuracy", published=pub)
    _check_png(p)
    (ax,) = drawn[-1]
    assert ax["xticks"] == ["TanH\nn=15", "Sigmoid\nn=15", "ReLU\nn=13, 2 diverged"]
    # our IQM (dashed) over the finite runs, the first one labelled
    np.testing.assert_allclose(ax["lines"]["IQM (ours)"], [stats.iqm(groups["TanH"])] * 2)
    iqms = sorted(float(y[0]) for y in ax["dashed"])
    np.testing.assert_allclose(iqms, sorted(stats.iqm(g[np.isfinite(g)]) for g in groups.values()))
    published = sorted(float(y[0]) for y in ax["lines"].values() if len(y) == 1)
    assert published == sorted(pub.values())
    _check_png(plots.boxplot(tmp_path / "box2.png", {"a": [1.0, 2.0, 3.0], "b": [np.nan]},
                             title="no published", ylabel="y"))


def test_image_grid_shapes(tmp_path, drawn):
    x = RNG.uniform(0, 1, size=(8, 28, 28))
    noisy = np.clip(x + RNG.normal(0, 0.2, x.shape), 0, 1)[..., None]    # (n, H, W, 1)
    flat = x.reshape(8, 784)                                             # (n, 784)
    p = plots.image_grid(tmp_path / "grid.png", [x, noisy, flat[:5]],
                         row_titles=["original", "noisy σ=0.2", "reconstruction"],
                         col_titles=[str(i) for i in range(8)], title="denoising AE")
    _check_png(p, min_kb=4)
    (mosaic,) = drawn[-1][0]["images"]                  # one mosaic, 2 px between pictures
    pad = 2                                             # max(1, 28 // 14)
    at = lambda i, j: mosaic[i * 30:i * 30 + 28, j * 30:j * 30 + 28]  # noqa: E731
    assert mosaic.shape == (3 * 28 + 2 * pad, 8 * 28 + 7 * pad)
    np.testing.assert_allclose(at(0, 3), x[3])
    np.testing.assert_allclose(at(1, 7), noisy[7, ..., 0])
    np.testing.assert_allclose(at(2, 4), x[4])                    # flat rows are reshaped
    assert np.all(np.isnan(at(2, 5)))                             # a shorter row: blank
    with pytest.raises(ValueError, match="row_titles"):
        plots.image_grid(tmp_path / "bad.png", [x], row_titles=["a", "b"], title="t")


def test_captioned_images_show_each_image_under_its_caption(tmp_path, drawn):
    x = RNG.uniform(0, 1, size=(11, 784))
    caps = [f"{k % 10} / {(k + 3) % 10}" for k in range(11)]
    _check_png(plots.captioned_images(tmp_path / "cap.png", x, caps, title="t", ncol=4),
               min_kb=4)
    ((ax,),) = drawn[-1:]
    (mosaic,) = ax["images"]                          # one mosaic, not a subplot per image
    side, gx, gy = 28, 4, 14                          # gaps: side // 7 wide, side // 2 tall
    at = lambda k: mosaic[(k // 4) * (side + gy) + gy:(k // 4) * (side + gy) + gy + side,  # noqa: E731
                          (k % 4) * (side + gx):(k % 4) * (side + gx) + side]
    assert mosaic.shape == (3 * (side + gy), 4 * side + 3 * gx)
    for k in range(11):
        np.testing.assert_allclose(at(k), x[k].reshape(28, 28))
    assert np.all(np.isnan(mosaic[:gy])) and np.all(np.isnan(at(11)))   # caption rows; blank
    assert ax["texts"] == caps                        # captions in the images' order
    with pytest.raises(ValueError, match="captions"):
        plots.captioned_images(tmp_path / "bad.png", x, caps[:3], title="t")


def test_heatmap_and_confusion_matrix(tmp_path, drawn):
    m = RNG.uniform(0.004, 0.04, size=(5, 5))
    m[1, 3] = np.nan
    p = plots.heatmap(tmp_path / "heat.png", m, row_labels=[4, 8, 16, 32, 64],
                      col_labels=[1, 2, 3, 4, 5], title="AE test MSE (IQM of 5 seeds)",
                      xlabel="depth (hidden layers per side)", ylabel="latent size L",
                      colorbar_label="MSE")
    _check_png(p)
    texts = drawn[-1][0]["texts"]                       # row by row, NaN as "—"
    assert texts == [format(v, ".4f") if np.isfinite(v) else "—" for v in m.reshape(-1)]
    with pytest.raises(ValueError, match="labels"):
        plots.heatmap(tmp_path / "x.png", m, row_labels=[1], col_labels=[1], title="",
                      xlabel="", ylabel="")
    cm = RNG.integers(0, 30, size=(10, 10)) + np.diag(RNG.integers(800, 1000, size=10))
    names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"]
    _check_png(plots.confusion_matrix(tmp_path / "cm.png", cm, names,
                                      title="Fashion-MNIST FFNN, test set"))
    ax = drawn[-1][0]
    assert [int(t) for t in ax["texts"]] == cm.reshape(-1).tolist()
    assert f"accuracy {np.trace(cm) / cm.sum():.2%} (n={cm.sum()})" in ax["title"]


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


def test_scatter_2d_and_line(tmp_path, drawn):
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
    lines = drawn[-1][0]["lines"]
    ed4 = [y for label, y in lines.items() if label.startswith("ED=4")]
    ed32 = [y for label, y in lines.items() if label.startswith("ED=32")]
    np.testing.assert_allclose(ed4[0], stats.iqm(mse, axis=0))     # IQM over the 5 runs
    np.testing.assert_allclose(ed32[0], mse[0] * 0.8)               # one run: itself
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


def test_log_axis_labels_are_plain_numbers(tmp_path, monkeypatch):
    got = []
    save = plots.save

    def capture(fig, path):
        fig.canvas.draw()                             # drawn: tick labels are set
        got.extend(t.get_text() for t in fig.axes[0].get_yticklabels(minor=False))
        return save(fig, path)

    monkeypatch.setattr(plots, "save", capture)
    y = np.exp(-np.linspace(0, 6, 20))[None] * np.ones((3, 1))
    plots.curves(tmp_path / "log.png", {"a": y}, title="t", ylabel="y", logy=True)
    shown = [t for t in got if t]
    assert {"1", "0.1", "0.01"} <= set(shown) and not any("$" in t for t in shown)


def test_save_writes_the_pixels_savefig_writes(tmp_path):
    """One draw (the layout engine inside it) and an RGB PNG: savefig's image, pixel for
    pixel, without its extra layout draw or alpha channel."""
    def draw():
        fig = plots.figure((5.0, 3.5))
        ax = fig.add_subplot()
        ax.plot([1, 2, 3], [0.95, 0.9625, 0.97], label="a long legend label")
        ax.set(title="two\nlines", xlabel="epoch", ylabel="accuracy")
        ax.legend()
        return fig
    ours = mpimg.imread(plots.save(draw(), tmp_path / "ours.png"))
    draw().savefig(tmp_path / "savefig.png", dpi=plots.DPI)
    theirs = mpimg.imread(tmp_path / "savefig.png")
    assert ours.shape == theirs.shape[:2] + (3,) and np.all(theirs[..., 3] == 1)
    np.testing.assert_array_equal(ours, theirs[..., :3])


def test_save_keeps_the_alpha_of_a_transparent_figure(tmp_path):
    fig = plots.figure((3.0, 2.0))
    fig.patch.set_alpha(0.0)
    fig.add_subplot().plot([0, 1], [0, 1])
    img = mpimg.imread(plots.save(fig, tmp_path / "t.png"))
    assert img.shape[2] == 4 and img[0, 0, 3] == 0
