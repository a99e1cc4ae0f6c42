"""Figures shared by the experiments: NumPy arrays in, a PNG file out.

Every function takes the output ``path`` first, saves a PNG (dpi 120, parent folders
created) and returns the path as a :class:`pathlib.Path`. Figures are built with
``matplotlib.figure.Figure`` on the Agg canvas, never through ``pyplot``: no global
backend switch, no open-figure registry to leak, safe in scripts and notebooks alike.

Colours: a configuration label keeps its colour in every figure (a fixed colour-blind
friendly palette indexed by a stable hash of the label; a clash inside one figure moves
to the next free colour). Pass ``colors={label: colour}`` to override.

Multi-seed data is ``(runs, epochs)`` and may hold NaN (a diverged run, or a run that
stopped early); curves show the IQM over the runs present with their interquartile band.

Example::

    >>> from nnjax import plots
    >>> plots.curves("runs/acc.png", {"ReLU": acc_relu, "TanH": acc_tanh},  # doctest: +SKIP
    ...              title="MNIST MLP, 15 seeds", ylabel="validation accuracy")
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import matplotlib
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nnjax import distributed
from nnjax.analysis import stats

DPI = 120
# Okabe–Ito (colour-blind safe) followed by distinct tab10 colours.
# tab10 minus grey (reads as "disabled") and olive; then extras for crowded figures.
# Black is kept out: it marks published values and our IQMs.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896")
_HASHED = 8                                       # labels hash into the first eight
PUBLISHED = dict(marker="*", color="black", markersize=13, markeredgecolor="white",
                 markeredgewidth=0.6, linestyle="none", label="published")


def colors_for(labels: Sequence[str], colors: Optional[Mapping] = None) -> dict:
    """``{label: colour}``: a label keeps its colour across figures; distinct within one.

    A label's colour is ``PALETTE[crc32(label) % 8]``; if another label of the same
    figure already has it, the next free colour is used. ``colors`` overrides.
    """
    out, used = {}, {c for c in (colors or {}).values()}
    for label in labels:
        if colors and label in colors:
            out[label] = colors[label]
            continue
        start = zlib.crc32(str(label).encode()) % _HASHED
        order = [(start + k) % _HASHED for k in range(_HASHED)] + list(range(_HASHED, len(PALETTE)))
        free = [PALETTE[i] for i in order if PALETTE[i] not in used]
        out[label] = free[0] if free else PALETTE[start]
        used.add(out[label])
    return out


def figure(figsize=(7.0, 4.5)) -> Figure:
    """A blank figure (constrained layout, Agg canvas, no pyplot state) for a custom plot;
    write it with :func:`save`."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders made) and free it; returns the path.

    One draw at :data:`DPI` (its layout engine runs inside it), written as an RGB PNG when
    the figure is opaque (RGBA otherwise): ``Figure.savefig`` draws twice with a layout
    engine (a draw without output to lay out, then the draw) and encodes an alpha channel
    of an opaque figure too: the same pixels, in less time."""
    path = Path(path)
    if not distributed.is_writer():          # one sweep over several processes: process 0
        fig.clear()
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.set_dpi(DPI)
    fig.canvas.draw()
    image = PIL.Image.frombuffer("RGBA", fig.canvas.get_width_height(physical=True),
                                 fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    if image.getextrema()[3][0] == 255:                  # opaque: no alpha channel
        image = image.convert("RGB")
    image.save(path, format="png", dpi=(DPI, DPI))
    fig.clear()
    return path


def _iqm_band(a: np.ndarray):
    """IQM and (q1, q3) over axis 0, NaN-aware; ``(k,)`` input counts as one run."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    q1, _, q3 = stats.quartiles(a, axis=0, nan_policy="omit")
    return stats.iqm(a, axis=0, nan_policy="omit"), q1, q3, a


def curves(path, series: Mapping[str, np.ndarray], *, title: str, ylabel: str,
           xlabel: str = "epoch", logy: bool = False, colors: Optional[Mapping] = None,
           show_runs: bool = False) -> Path:
    """IQM line and interquartile band over runs per label; ``series[label]`` is ``(runs, epochs)``.

    Epochs are numbered from 1. The legend gives each label's number of runs; where
    runs stopped early (NaN) the statistics use the runs still present.
    """
    fig = figure()
    ax = fig.add_subplot()
    cmap = colors_for(list(series), colors)
    for label, a in series.items():
        mid, q1, q3, a = _iqm_band(a)
        x = np.arange(1, a.shape[1] + 1)
        c = cmap[label]
        if show_runs:
            ax.plot(x, a.T, color=c, alpha=0.15, linewidth=0.7)
        ax.fill_between(x, q1, q3, color=c, alpha=0.25, linewidth=0)
        last = int(np.isfinite(a[:, -1]).sum())
        note = f", {last} at epoch {a.shape[1]}" if last < a.shape[0] else ""
        ax.plot(x, mid, color=c, linewidth=1.8, label=f"{label} (n={a.shape[0]}{note})")
    if logy:
        _plain_log_y(ax)
    ax.set(title=f"{title}\nIQM over runs, band = interquartile range",
           xlabel=xlabel, ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return save(fig, path)


def _plain_log_y(ax) -> None:
    """Log y axis labelled in plain numbers (0.1, 0.2, 1e-05): matplotlib's default
    labels are mathtext (10⁻¹), whose parser costs ~0.3 s to build in every process."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):               # the default's choice of ticks, plain text
        def _num_to_string(self, x, vmin, vmax):
            return f"{x:.3g}"

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(Plain())
    ax.yaxis.set_minor_formatter(Plain(labelOnlyBase=False))


def boxplot(path, groups: Mapping[str, np.ndarray], *, title: str, ylabel: str,
            published: Optional[Mapping[str, float]] = None,
            colors: Optional[Mapping] = None) -> Path:
    """One box per group (whiskers 1.5 IQR), every run as a dot, our IQM and the published value.

    Non-finite values are left out and counted under the group's name ("2 diverged").
    """
    labels = list(groups)
    cmap = colors_for(labels, colors)
    fig = figure((max(4.5, 1.3 * len(labels) + 2), 4.5))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)                # jitter of the dots only
    ticks, iqm_shown = [], False
    for i, label in enumerate(labels):
        v = np.asarray(groups[label], dtype=np.float64).reshape(-1)
        ok = v[np.isfinite(v)]
        bad = v.size - ok.size
        ticks.append(f"{label}\nn={ok.size}" + (f", {bad} diverged" if bad else ""))
        if ok.size == 0:
            continue
        box = ax.boxplot([ok], positions=[i], widths=0.5, patch_artist=True,
                         showfliers=False, medianprops=dict(color="black"))
        box["boxes"][0].set(facecolor=cmap[label], alpha=0.45)
        ax.scatter(i + rng.uniform(-0.12, 0.12, ok.size), ok, s=12, color=cmap[label],
                   edgecolor="black", linewidth=0.4, zorder=3)
        ax.plot([i - 0.25, i + 0.25], [stats.iqm(ok)] * 2, color="black", linestyle="--",
                linewidth=1.2, label=None if iqm_shown else "IQM (ours)", zorder=4)
        iqm_shown = True
    marked = [i for i, label in enumerate(labels) if (published or {}).get(label) is not None]
    for n, i in enumerate(marked):
        ax.plot([i + 0.38], [published[labels[i]]], zorder=5,
                **{**PUBLISHED, "label": PUBLISHED["label"] if n == 0 else None})
    ax.set_xticks(range(len(labels)), ticks)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set(title=title, ylabel=ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    return save(fig, path)


def image_grid(path, rows: Sequence[np.ndarray], *, row_titles: Sequence[str], title: str,
               col_titles: Optional[Sequence[str]] = None) -> Path:
    """Rows of grey images in [0, 1]; a row is ``(n, H, W)``, ``(n, H, W, 1)`` or ``(n, H·W)``
    (square images). Shorter rows leave blank cells; no ticks."""
    imgs = []
    for r in rows:
        r = np.asarray(r, dtype=np.float64)
        if r.ndim == 4 and r.shape[-1] == 1:
            r = r[..., 0]
        elif r.ndim == 2:
            side = int(round(np.sqrt(r.shape[1])))
            if side * side != r.shape[1]:
                raise ValueError(f"image_grid: rows of flat images need H·W square, got {r.shape}")
            r = r.reshape(-1, side, side)
        if r.ndim != 3:
            raise ValueError(f"image_grid: each row must be (n, H, W) images, got {r.shape}")
        imgs.append(r)
    if len(row_titles) != len(imgs):
        raise ValueError(f"image_grid: {len(imgs)} rows but {len(row_titles)} row_titles")
    ncol = max(len(r) for r in imgs)
    h, w = max(r.shape[1] for r in imgs), max(r.shape[2] for r in imgs)
    pad = max(1, h // 14)
    # one mosaic, one imshow: a subplot per cell costs seconds for a 10×10 grid
    mosaic = np.full((len(imgs) * (h + pad) - pad, ncol * (w + pad) - pad), np.nan)
    for i, r in enumerate(imgs):
        for j, im in enumerate(r):
            y, x = i * (h + pad), j * (w + pad)
            mosaic[y:y + im.shape[0], x:x + im.shape[1]] = im
    fig = figure((1.1 * ncol + 1.2, 1.15 * len(imgs) + 0.6))
    ax = fig.subplots()
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_frame_on(False)
    titles = [] if col_titles is None else [str(t) for t in col_titles][:ncol]
    ax.set_xticks([(w + pad) * j + (w - 1) / 2 for j in range(len(titles))], titles,
                  fontsize="small")
    ax.xaxis.set_ticks_position("top")
    ax.set_yticks([(h + pad) * i + (h - 1) / 2 for i in range(len(imgs))],
                  [str(t) for t in row_titles], fontsize="small")
    ax.tick_params(length=0)
    fig.suptitle(title)
    return save(fig, path)


def captioned_images(path, images, captions: Sequence[str], *, title: str,
                     ncol: int = 8) -> Path:
    """Grey images in [0, 1], (n, H·W) square or (n, H, W[, 1]), each with its own caption
    (e.g. "predicted / true") above it, ``ncol`` per row.

    Drawn as one mosaic (one ``imshow``, white between pictures, captions as text in the
    gaps): a subplot per picture cost ~0.9 s of axes set-up and layout for 24 digits."""
    images = np.asarray(images, np.float64)
    n = len(images)
    if n == 0:
        raise ValueError("captioned_images: no images given.")
    if len(captions) != n:
        raise ValueError(f"captioned_images: {n} images but {len(captions)} captions.")
    side = int(round(np.sqrt(images[0].size)))
    images = images.reshape(n, side, side)
    ncol = min(ncol, n)
    nrow = -(-n // ncol)
    gap_x, gap_y = max(1, side // 7), side // 2           # room for a caption above each
    step_x, step_y = side + gap_x, side + gap_y
    mosaic = np.full((nrow * step_y, ncol * step_x - gap_x), np.nan)
    for k, im in enumerate(images):
        y, x = (k // ncol) * step_y + gap_y, (k % ncol) * step_x
        mosaic[y:y + side, x:x + side] = im
    width = 1.15 * ncol + 0.4                              # inches; the title takes 0.45
    height = (width - 0.2) * mosaic.shape[0] / mosaic.shape[1] + 0.55
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1 / width, 0.1 / height, 1 - 0.2 / width, 1 - 0.55 / height))
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_axis_off()
    for k, cap in enumerate(captions):
        ax.text((k % ncol) * step_x + (side - 1) / 2, (k // ncol) * step_y + gap_y - 1.5,
                str(cap), ha="center", va="bottom", fontsize="small")
    fig.suptitle(title)
    return save(fig, path)


def _annotated(ax, m: np.ndarray, fmt: str, cmap: str):
    shown = np.ma.masked_invalid(m)
    im = ax.imshow(shown, cmap=cmap, aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        r, g, b, _ = im.cmap(im.norm(v)) if np.isfinite(v) else (1, 1, 1, 1)
        dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5           # perceived luminance
        ax.text(j, i, format(v, fmt) if np.isfinite(v) else "—", ha="center", va="center",
                fontsize="small", color="white" if dark else "black")
    return im


def heatmap(path, matrix, *, row_labels: Sequence, col_labels: Sequence, title: str,
            xlabel: str, ylabel: str, fmt: str = ".4f", cmap: str = "viridis_r",
            colorbar_label: str = "") -> Path:
    """Annotated ``(rows, cols)`` matrix (e.g. test MSE per latent size × depth); NaN shows "—"."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"heatmap: matrix {m.shape} vs {len(row_labels)} row and "
                         f"{len(col_labels)} column labels")
    fig = figure((1.1 * len(col_labels) + 2.5, 0.6 * len(row_labels) + 1.8))
    ax = fig.add_subplot()
    im = _annotated(ax, m, fmt, cmap)
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(im, ax=ax, label=colorbar_label)
    return save(fig, path)


def confusion_matrix(path, cm, class_names: Sequence[str], *, title: str) -> Path:
    """Counts ``cm[true, predicted]``, annotated; the title adds accuracy and n."""
    cm = np.asarray(cm)
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(f"confusion_matrix: cm is {cm.shape}, expected ({k}, {k})")
    n = int(cm.sum())
    acc = np.trace(cm) / n if n else float("nan")
    fig = figure((0.65 * k + 3.0, 0.6 * k + 2.2))
    ax = fig.add_subplot()
    im = _annotated(ax, cm.astype(np.float64), "g", "Blues")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set(title=f"{title}\naccuracy {acc:.2%} (n={n})", xlabel="predicted class",
           ylabel="true class")
    fig.colorbar(im, ax=ax, label="count")
    return save(fig, path)


def decision_boundary(path, predict_fn: Callable, x, y, *, title: str, x_test=None,
                      y_test=None, resolution: int = 200) -> Path:
    """Regions of a 2-D classifier with the training points (o) and held-out points (x).

    ``predict_fn(points (m, 2)) -> (m,)`` probabilities of class 1, or ``(m, k)`` scores
    (argmax), or ``(m,)`` integer labels.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y).reshape(-1).astype(int)
    pts = x if x_test is None else np.concatenate([x, np.asarray(x_test, np.float64)])
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.1 * (hi - lo) + 1e-9
    g0, g1 = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    out = np.asarray(predict_fn(np.stack([g0.ravel(), g1.ravel()], 1)), dtype=np.float64)
    fig = figure((6.0, 5.0))
    ax = fig.add_subplot()
    ncls = int(max(y.max(), 0 if y_test is None else np.max(y_test))) + 1
    if out.ndim == 2 and out.shape[1] > 1:
        ncls = max(ncls, out.shape[1])
        z = out.argmax(1).reshape(g0.shape)
    else:
        z = out.reshape(g0.shape)
    cols = [PALETTE[i % len(PALETTE)] for i in range(ncls)]
    if ncls == 2 and not (out.ndim == 2 and out.shape[1] > 1) and np.any(z % 1 != 0):
        from matplotlib.colors import LinearSegmentedColormap
        cm = LinearSegmentedColormap.from_list("pair", cols)
        cs = ax.contourf(g0, g1, z, levels=np.linspace(0, 1, 11), cmap=cm, alpha=0.35)
        ax.contour(g0, g1, z, levels=[0.5], colors="black", linewidths=1.2)
        fig.colorbar(cs, ax=ax, label="P(class 1)")
    else:
        from matplotlib.colors import ListedColormap
        ax.contourf(g0, g1, z, levels=np.arange(ncls + 1) - 0.5, cmap=ListedColormap(cols),
                    alpha=0.3)
    for c in range(ncls):
        ax.scatter(*x[y == c].T, s=14, color=cols[c], edgecolor="black", linewidth=0.4,
                   label=f"class {c} (train)")
        if x_test is not None:
            yt = np.asarray(y_test).reshape(-1).astype(int)
            ax.scatter(*np.asarray(x_test)[yt == c].T, s=22, marker="x", color=cols[c],
                       linewidth=1.2, label=f"class {c} (held out)")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.legend(fontsize="x-small", loc="best")
    return save(fig, path)


def scatter_2d(path, xy, labels, *, title: str, class_names: Sequence[str],
               xlabel: str = "component 1", ylabel: str = "component 2") -> Path:
    """2-D embedding (t-SNE, PCA) coloured by class, with a legend of class names."""
    xy, labels = np.asarray(xy, dtype=np.float64), np.asarray(labels).reshape(-1)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(labels):
        raise ValueError(f"scatter_2d: xy must be (n, 2) with n labels, got {xy.shape} "
                         f"and {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"scatter_2d: labels span {labels.min()}..{labels.max()} but there "
                         f"are {len(class_names)} class_names")
    fig = figure((6.5, 5.5))
    ax = fig.add_subplot()
    tab = PALETTE                                 # class c keeps colour c in every scatter
    s = max(2.0, min(14.0, 4000.0 / max(len(xy), 1)))
    for c, name in enumerate(class_names):
        m = labels == c
        ax.scatter(*xy[m].T, s=s, color=tab[c % len(tab)], alpha=0.7, linewidths=0,
                   label=f"{name} ({int(m.sum())})")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize="small", markerscale=max(1.0, 6.0 / s), loc="center left",
              bbox_to_anchor=(1.0, 0.5))
    return save(fig, path)


def line(path, x, ys: Mapping[str, np.ndarray], *, title: str, xlabel: str, ylabel: str,
         logy: bool = False, colors: Optional[Mapping] = None) -> Path:
    """Lines over ``x`` (e.g. MSE vs noise σ); a ``(runs, len(x))`` value gets IQM + IQR band."""
    x = np.asarray(x)
    fig = figure()
    ax = fig.add_subplot()
    cmap = colors_for(list(ys), colors)
    for label, a in ys.items():
        mid, q1, q3, a = _iqm_band(a)
        if a.shape[1] != len(x):
            raise ValueError(f"line: {label!r} has {a.shape[1]} points, x has {len(x)}")
        c, shown = cmap[label], label
        if a.shape[0] > 1:
            ax.fill_between(x, q1, q3, color=c, alpha=0.25, linewidth=0)
            shown = f"{label} (IQM, n={a.shape[0]})"
        ax.plot(x, mid, marker="o", markersize=4, color=c, label=shown)
    if logy:
        _plain_log_y(ax)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return save(fig, path)
