"""`nnjax sweep FILE.toml` on the bundled digits: the files it writes, what they hold,
resume, and a changed setting training again instead of reusing a stale record."""
import csv
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from nnjax.analysis import stats
from nnjax.cli import main
from nnjax.data import digits
from nnjax.models import mlp
from nnjax.sweep.file import load
from nnjax.sweep.run import run_file
from nnjax.train import TrainConfig, fit, make_runs

FILE = """\
name = "tiny"
data = "digits"
model = "mlp"
[model_args]
activation = "tanh"
[static]
hidden = [[8], [16]]
[train]
epochs = {epochs}
batch_size = 128
optimizer = "adam"
[vmapped]
learning_rate = [1e-2, 3e-2]
[runs]
seeds = 2
"""
COLUMNS = ["hidden", "learning_rate", "seed", "fold", "test_accuracy", "test_loss",
           "epochs_run", "diverged"]


def _rows(folder: Path) -> list:
    with open(folder / "runs.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_sweep_file_writes_resumes_and_retrains_on_change(tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text(FILE.format(epochs=2))
    out = tmp_path / "runs"
    lines = []
    folder = run_file(load(path), out, progress=False, verify=False, log=lines.append)
    assert folder == out / "tiny"
    captured = capsys.readouterr()
    assert lines[1:] == ["point 1/2, 0 resumed: hidden=[8]", "point 2/2, 0 resumed: hidden=[16]"]
    assert {p.name for p in folder.iterdir()} == {"points", "results.json", "runs.csv",
                                                 "summary.md", "curves-1.png", "curves-2.png"}

    # runs.csv: one row per run (2 points × 2 learning rates × 2 seeds), the columns
    with open(folder / "runs.csv", newline="") as fh:
        assert next(csv.reader(fh)) == COLUMNS
    rows = _rows(folder)
    assert [(r["hidden"], float(r["learning_rate"]), int(r["seed"])) for r in rows] == [
        (h, lr, s) for h in ("[8]", "[16]") for lr in (1e-2, 3e-2) for s in (0, 1)]
    assert all(r["fold"] == "" and r["epochs_run"] == "2" and r["diverged"] == "False"
               for r in rows)

    # the numbers are those of fit on the same model, config and data
    ds = digits()
    direct = fit(mlp([8], 10, "tanh"), TrainConfig(epochs=2, batch_size=128, optimizer="adam"),
                 ds.train, ds.val, ds.test, runs=make_runs(2, learning_rate=[1e-2, 3e-2]),
                 progress=False, verify=False)
    np.testing.assert_allclose([float(r["test_accuracy"]) for r in rows[:4]],
                               direct.test["accuracy"], rtol=0, atol=1e-6)
    np.testing.assert_allclose([float(r["test_loss"]) for r in rows[:4]],
                               direct.test["loss"], rtol=1e-5)

    # results.json: the same runs, provenance of the sweep and of each point
    doc = json.loads((folder / "results.json").read_text())
    assert doc["format"] == "nnjax.sweep/1" and len(doc["runs"]) == 8
    assert doc["runs"][5] == {"hidden": [16], "learning_rate": 1e-2, "seed": 1, "fold": None,
                              "test_accuracy": float(rows[5]["test_accuracy"]),
                              "test_loss": float(rows[5]["test_loss"]), "epochs_run": 2,
                              "diverged": False}
    assert doc["provenance"]["versions"]["jax"] == jax.__version__
    assert doc["provenance"]["argv"] and doc["provenance"]["wall_seconds"] > 0
    assert all(p["provenance"]["cpu_seconds"] > 0 for p in doc["points"])

    # summary.md: IQM (of 2 runs: their mean) and, with fewer than 5 runs, both values
    summary = (folder / "summary.md").read_text()
    acc = [float(r["test_accuracy"]) for r in rows[4:6]]          # hidden [16], lr 1e-2
    assert f"| [16] | 0.01 | 2 | 0 | {stats.iqm(acc):.4f} | n=2: {acc[0]:.4f}, {acc[1]:.4f} |" in summary
    assert stats.iqm(acc) == pytest.approx(np.mean(acc))
    assert captured.out.startswith(summary)

    # resume: nothing trains again, the point files are untouched
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "points").iterdir()}
    lines = []
    run_file(load(path), out, progress=False, verify=False, log=lines.append)
    assert lines[1:] == ["point 1/2, 1 resumed: hidden=[8] (resumed)",
                         "point 2/2, 2 resumed: hidden=[16] (resumed)"]
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "points").iterdir()} == before
    assert _rows(folder) == rows

    # a changed setting (epochs 2 -> 3) trains again; a stale record is never reused
    path.write_text(FILE.format(epochs=3).replace("[[8], [16]]", "[[8]]"))
    lines = []
    run_file(load(path), out, progress=False, verify=False, log=lines.append)
    assert lines[1:] == ["point 1/1, 0 resumed: hidden=[8]"]
    again = _rows(folder)
    assert len(again) == 4 and all(r["epochs_run"] == "3" for r in again)
    assert [r["test_loss"] for r in again] != [r["test_loss"] for r in rows[:4]]


def test_no_fetch_refuses_missing_data(tmp_path, monkeypatch, capsys):
    from nnjax.data.registry import get_spec
    if any(Path(d).is_dir() for d in get_spec("mnist").system_dirs):
        pytest.skip("a system copy of MNIST exists here")
    monkeypatch.setenv("NNJAX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NNJAX_DATA_DIR", raising=False)
    path = tmp_path / "m.toml"
    path.write_text('data = "mnist"\nmodel = "mlp"\n[static]\nhidden = [[8]]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--no-fetch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--no-fetch" in err and "nnjax data fetch mnist" in err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_readme_sweep_example_runs_as_written(tmp_path, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Your own sweep"):]
    text = section[section.index("```toml\n") + 8:section.index("```", section.index("```toml\n") + 8)]
    (tmp_path / "widths-lr.toml").write_text(text)
    assert main(["sweep", str(tmp_path / "widths-lr.toml"), "--out", str(tmp_path),
                 "--no-progress"]) == 0
    rows = _rows(tmp_path / "widths-lr")
    assert len(rows) == 2 * 2 * 3 and {r["hidden"] for r in rows} == {"[64,32]", "[128]"}
    assert all(r["epochs_run"] == "5" for r in rows)
    assert capsys.readouterr().err.count(" resumed: ") == 2


def test_autoencoder_builder_reconstructs_flattened_input(tmp_path):
    path = tmp_path / "ae.toml"
    path.write_text('data = "digits"\nmodel = "dense_autoencoder"\n[model_args]\n'
                    'widths = [64, 16, 64]\n[train]\nepochs = 2\nbatch_size = 64\n')
    spec = load(path)
    assert spec.task() == "reconstruct" and spec.config({}).loss.name == "mse"
    folder = run_file(spec, tmp_path / "out", progress=False, verify=False, log=lambda m: None)
    with open(folder / "runs.csv", newline="") as fh:
        assert next(csv.reader(fh)) == ["seed", "fold", "test_mse", "test_loss", "epochs_run",
                                        "diverged"]
    (row,) = _rows(folder)
    from nnjax.models import dense_autoencoder
    ds = digits(flatten=True)
    direct = fit(dense_autoencoder([64, 16, 64]),
                 TrainConfig(epochs=2, batch_size=64, loss="mse", target="input"),
                 ds.train, ds.val, ds.test, runs=1, progress=False, verify=False)
    assert float(row["test_mse"]) == pytest.approx(float(direct.test["mse"][0]), rel=1e-6)
    assert "test_mse IQM" in (folder / "summary.md").read_text()


def test_a_layer_hyperparameter_is_a_vmapped_axis_of_the_file(tmp_path, monkeypatch, capsys):
    """A user's builder with ``L.hyper("dropout", ...)``: the file sweeps it under
    [vmapped] (one program), each run equals the run built with that constant rate, and
    a name the model does not declare is a one-line error listing the ones it does."""
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    (tmp_path / "drop_nets.py").write_text(
        "from nnjax import layers as L\n"
        "def net(width, rate=None):\n"
        "    r = L.hyper('dropout', 0.1) if rate is None else rate\n"
        "    return L.Sequential(L.Flatten(), L.Linear(width), L.ReLU(), L.Dropout(r),"
        " L.Linear(10))\n")
    path = tmp_path / "drop.toml"
    text = ('name = "drop"\ndata = "digits"\nmodel = "drop_nets:net"\n[model_args]\nwidth = 16\n'
            '[train]\ntarget = "labels"\nepochs = 2\nbatch_size = 64\noptimizer = "adam"\n'
            '[vmapped]\ndropout = [0.0, 0.5]\n[runs]\nseeds = [3]\n')
    path.write_text(text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    rows = _rows(tmp_path / "out" / "drop")
    assert [float(r["dropout"]) for r in rows] == [0.0, 0.5]
    ds = digits()
    __import__("sys").path.insert(0, str(tmp_path))
    drop_nets = __import__("importlib").import_module("drop_nets")   # the user's file above
    for row in rows:
        direct = fit(drop_nets.net(16, rate=float(row["dropout"])),
                     TrainConfig(epochs=2, batch_size=64, optimizer="adam"), ds.train, ds.val,
                     ds.test, runs=make_runs([3]), progress=False)
        np.testing.assert_allclose(float(row["test_loss"]), direct.test["loss"][0], rtol=1e-4)
    path.write_text(text.replace("dropout = ", "slope = "))
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert "[vmapped] 'slope' cannot be vmapped" in err and "dropout" in err
    assert not (tmp_path / "out2").exists()


def test_log_csv_writes_every_run_and_epoch_beside_each_point(tmp_path):
    """``nnjax sweep FILE --log csv``: a log.csv per point, one row per run and epoch, whose
    last validation loss is the one the record holds."""
    path = tmp_path / "tiny.toml"
    path.write_text(FILE.format(epochs=2).replace("hidden = [[8], [16]]", "hidden = [[8]]"))
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--no-progress",
                 "--log", "csv"]) == 0
    logs = sorted((tmp_path / "o" / "tiny" / "points").rglob("log.csv"))
    assert len(logs) == 1 and logs[0].parent.name.endswith(".log")
    with open(logs[0], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 4                      # 2 epochs × (2 learning rates × 2 seeds)
    stored = json.loads(next((tmp_path / "o" / "tiny" / "points").glob("*.json")).read_text())
    record = stored["record"]
    last = [float(r["val_loss"]) for r in rows if int(r["epoch"]) == 2]   # epochs count from 1
    np.testing.assert_allclose(last, np.asarray(record["history"]["val_loss"])[:, -1],
                               rtol=1e-6)
