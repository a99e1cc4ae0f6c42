"""``nnjax list | run | report`` find studies by path: a study file, a user's folder
(``--studies``, ``$NNJAX_STUDIES``), the built-in ones; a user's mistake is one line and
exit code 2 (``--debug``: the traceback)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nnjax.cli import main
from nnjax.results import read_json
from nnjax.study import StudyError

ROOT = Path(__file__).resolve().parent.parent

HELPER = '''
import numpy as np

def data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) > 0).astype(np.int32)
    return (x[:64], y[:64]), (x[64:], y[64:])
'''

STUDY = r'''
from nnjax import layers as L
from nnjax.study import Study
from nnjax.sweep import Grid, Problem
from nnjax.train import TrainConfig

from . import _helper


def run(ctx):
    train, test = _helper.data()
    cfg = TrainConfig(epochs=ctx["epochs"], batch_size=16, learning_rate=0.5, optimizer="sgd")
    grid = Grid(static={"width": [4]}, seeds=ctx["seeds"])
    (rec,) = ctx.sweep(lambda p: Problem(L.Sequential(L.Linear(p["width"]), L.Tanh(),
                                                      L.Linear(2)), cfg, train, test, test,
                                         fit_kwargs={"verify": False}), grid)
    from nnjax.analysis import stats
    return {"summary": {"test accuracy": stats.summary(rec["test"]["accuracy"])},
            "published": {"test accuracy": 0.9}, "seeds_run": len(rec["runs"])}


def report(r):
    from nnjax.study import SUMMARY_HEADER, summary_row
    return "my section\n" + SUMMARY_HEADER + "\n" + summary_row(
        "test accuracy", r["summary"]["test accuracy"], r["published"]["test accuracy"])


STUDY = Study("my-study", "mine", "A user's study", {"quick": {"seeds": 2, "epochs": 2}},
              run, report)
'''


@pytest.fixture
def user_dir(tmp_path):
    folder = tmp_path / "mystudies"
    folder.mkdir()
    (folder / "_helper.py").write_text(textwrap.dedent(HELPER))
    (folder / "my_study.py").write_text(textwrap.dedent(STUDY))
    (folder / "notes.py").write_text("X = 1\n")            # not a study: ignored
    return folder


def test_run_by_path_prints_headline_and_writes_results(user_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(user_dir / "my_study.py"), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    res = read_json(out / "my-study" / "results.json")
    assert res["seeds_run"] == 2 and res["settings"] == {"seeds": 2, "epochs": 2}
    iqm = res["summary"]["test accuracy"]["iqm"]
    # the headline: ours (IQM with its CI) beside the published number
    assert f"test accuracy: {iqm:.4f} [" in text and "; CI " in text
    assert "published 0.9000" in text
    # run again with --seeds: a new store (the settings digest changes), 3 runs
    assert main(["run", str(user_dir / "my_study.py"), "--out", str(out), "--seeds", "3",
                 "--no-progress", "--log", "csv"]) == 0
    assert read_json(out / "my-study" / "results.json")["seeds_run"] == 3
    # --log csv: the sweep point's per-epoch log, one row per run and epoch (3 × 2)
    (log,) = (out / "my-study" / "store").rglob("log.csv")
    assert len(log.read_text().splitlines()) == 1 + 3 * 2


def test_user_folder_by_option_and_environment(user_dir, tmp_path, capsys, monkeypatch):
    assert main(["list", "--studies", str(user_dir)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("my-study") and any(l.startswith("mnist-mlp") for l in listed)
    monkeypatch.setenv("NNJAX_STUDIES", str(user_dir))
    out = tmp_path / "out"
    assert main(["run", "my-study", "--out", str(out), "--epochs", "1", "--no-progress"]) == 0
    assert read_json(out / "my-study" / "results.json")["settings"]["epochs"] == 1
    assert main(["report", "--out", str(out)]) == 0
    report = (out / "REPORT.md").read_text()
    assert "my section" in report and "`mnist-mlp`" in report      # built-in: not yet run


@pytest.mark.parametrize("argv, says", [
    (["run", "mnist-mlp", "--seeds", "0"], "--seeds must be a whole number ≥ 1, got 0"),
    (["run", "mnist-mlp", "--epochs", "-3"], "--epochs must be a whole number ≥ 1, got -3"),
    (["run", "mnist-mlp", "--preset", "nope"], "unknown preset 'nope'; choose one of paper, quick"),
    (["run", "no-such-study"], "unknown study 'no-such-study'"),
    (["run", "missing_file.py"], "no study file"),
])
def test_mistakes_exit_2_with_one_line(argv, says, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with pytest.raises(StudyError):
        main(argv + ["--out", str(tmp_path), "--debug"])


@pytest.mark.skipif(Path("/usr/share/datasets/mnist").is_dir(), reason="a system MNIST copy")
def test_missing_data_without_fetch_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNJAX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NNJAX_DATA_DIR", str(tmp_path / "data"))
    assert main(["run", "mnist-mlp", "--no-fetch", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "nnjax data fetch mnist" in err and len(err.strip().splitlines()) == 1


def test_an_experiments_package_on_the_path_does_not_shadow_ours(tmp_path):
    shadow = tmp_path / "shadow" / "experiments"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('a user package')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), str(ROOT)])}
    got = subprocess.run([sys.executable, "-c", "import nnjax.cli; nnjax.cli.main(['list'])"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    assert "mnist-mlp" in got.stdout and "conv-ae" in got.stdout


def test_the_command_exits_with_mains_code(tmp_path):
    """``python -m nnjax.cli`` (:func:`nnjax.cli.entry`, the console script) passes main's
    exit code on and writes its output before the collector is frozen."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "nnjax.cli", "list"], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "mnist-mlp" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "nnjax.cli", "run", "no-such-study",
                          "--out", str(tmp_path / "o")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown study 'no-such-study'" in bad.stderr


def test_find_by_name_imports_only_the_file_named_after_it(user_dir):
    """``find`` takes the file named after the study (my-study → my_study.py) without
    importing the folder's other files, and gives what discovering all of them gives;
    a name defined in a file named otherwise is still found."""
    from nnjax import studies
    (user_dir / "broken.py").write_text("raise RuntimeError('imported')\n")
    quick = studies.find("my-study", [user_dir])
    assert quick.name == "my-study" and quick.title == "A user's study"
    (user_dir / "other_name.py").write_text(textwrap.dedent(STUDY).replace(
        'Study("my-study"', 'Study("renamed"'))
    (user_dir / "broken.py").unlink()
    assert studies.find("renamed", [user_dir]).name == "renamed"        # full discovery
    assert studies.discover([user_dir])["my-study"] is quick


def test_run_asks_for_one_device_per_core_only_for_a_study_that_wants_it(user_dir, tmp_path,
                                                                       monkeypatch):
    from nnjax.train import cpu_devices
    calls = []
    monkeypatch.setattr(cpu_devices, "use_cpu_cores", lambda: calls.append(1))
    argv = ["run", "--out", str(tmp_path / "out"), "--epochs", "1", "--no-progress"]
    assert main([argv[0], str(user_dir / "my_study.py"), *argv[1:]]) == 0
    assert calls == []
    wants = user_dir / "wants_cores.py"
    wants.write_text(textwrap.dedent(STUDY).replace('run, report)', 'run, report,'
                                                    ' cpu_devices=True)'))
    assert main([argv[0], str(wants), *argv[1:]]) == 0        # backend started: a no-op
    assert calls == [1]
    from experiments import mnist_mlp
    assert mnist_mlp.STUDY.cpu_devices
