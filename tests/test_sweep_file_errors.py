"""`nnjax sweep FILE.toml` refuses a malformed file with one line naming the key and what
is allowed, exit code 2, no traceback, and nothing written."""
import subprocess
import sys
from pathlib import Path

import pytest

from nnjax.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOOD = """\
name = "ok"
data = "digits"
model = "mlp"
[model_args]
activation = "relu"
[static]
hidden = [[8]]
[train]
epochs = 1
[vmapped]
learning_rate = [1e-3]
[runs]
seeds = 1
"""

# (what is changed, the file text, words the one line must hold)
CASES = [
    ("unknown top-level key", "colour = 1\n" + GOOD, ["unknown key 'colour'", "allowed: name, data, model", "vmapped"]),
    ("unknown [runs] key", GOOD + "colour = 1\n", ["unknown key [runs] 'colour'", "allowed: seeds, folds, fold_seed"]),
    ("unknown builder", GOOD.replace('"mlp"', '"resnet"'),
     ["model", "unknown builder 'resnet'", "mlp, dense_autoencoder, conv_autoencoder"]),
    ("builder not importable", GOOD.replace('"mlp"', '"no_such_pkg.models:net"'),
     ["model", "cannot import 'no_such_pkg.models'"]),
    ("a shape under [vmapped]", GOOD.replace("learning_rate = [1e-3]", "batch_size = [32, 64]"),
     ["[vmapped] 'batch_size' cannot be vmapped", "allowed: learning_rate, momentum", "[static]"]),
    ("wrong type in [train]", GOOD.replace("epochs = 1", 'epochs = "five"'),
     ["[train] epochs must be an integer", "'five'"]),
    ("unknown [train] key", GOOD.replace("epochs = 1", "epoch = 1"),
     ["unknown key [train] 'epoch'", "allowed: epochs, batch_size"]),
    ("unknown builder argument", GOOD.replace('activation = "relu"', "width = 3"),
     ["[model_args] 'width'", "not an argument of mlp", "allowed: hidden, activation"]),
    ("unknown data", GOOD.replace('"digits"', '"cifar"'),
     ["data = 'cifar'", "allowed: mnist, fashion-mnist, digits"]),
    ("vmapped value not a number", GOOD.replace("[1e-3]", '["fast"]'),
     ["[vmapped] learning_rate must be a number or a non-empty list"]),
    ("seeds of the wrong type", GOOD.replace("seeds = 1", "seeds = 0"),
     ["[runs] seeds must be a count ≥ 1"]),
    ("bad TrainConfig value", GOOD.replace("epochs = 1", 'epochs = 1\noptimizer = "lbfgs"'),
     ["[train]", "optimizer must be one of", "lbfgs"]),
    ("model that does not fit the data", GOOD.replace('"mlp"', '"conv_autoencoder"')
     .replace('activation = "relu"', "").replace("hidden = [[8]]", "code = [4]"),
     ["conv_autoencoder", "cannot be built for code=4 on digits (8, 8, 1)"]),
    ("a static value twice", GOOD.replace("[[8]]", "[[8], [4], [8]]"),
     ["[static] hidden lists [8] twice"]),
    ("unknown loss", GOOD.replace("epochs = 1", 'epochs = 1\nloss = "hinge"'),
     ["[train] for hidden=[8]", "unknown loss 'hinge'", "mse"]),
    ("not TOML", "name = \n", ["not valid TOML"]),
    ("a negative learning rate", GOOD.replace("[1e-3]", "[-1.0]"),
     ["[vmapped]", "learning_rate=-1.0 is outside the allowed range (0, ∞)"]),
]


@pytest.mark.parametrize("what,text,words", CASES, ids=[c[0] for c in CASES])
def test_malformed_file_one_line_exit_2_nothing_written(tmp_path, capsys, what, text, words):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err.rstrip("\n")
    assert "\n" not in line and line.startswith(f"nnjax sweep: {path}: ")
    for word in words:
        assert word in line, (word, line)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.toml"]


def test_missing_file_through_the_command(tmp_path):
    """The installed entry point: exit code 2, one line, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "nnjax.cli", "sweep", str(tmp_path / "nope.toml"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"nnjax sweep: {tmp_path / 'nope.toml'}: no such file; give the path of a sweep file (.toml)\n"
    assert not (tmp_path / "out").exists()


def test_good_file_is_accepted_and_describes_its_settings(tmp_path):
    from nnjax.sweep.file import load
    path = tmp_path / "sweep.toml"
    path.write_text(GOOD)
    spec = load(path)
    assert spec.grid().points() == [{"hidden": [8]}]
    assert spec.config({}).loss.name == "softmax_cross_entropy" and spec.config({}).epochs == 1
    assert spec.settings()["vmapped"] == {"learning_rate": [1e-3]}
    import jax
    _, _, out_shape = spec.model({"hidden": [8]}).init(jax.random.key(0), (8, 8, 1))
    assert tuple(out_shape) == (10,)                   # n_out filled from the data's classes


def test_users_builder_beside_the_file_is_found(tmp_path, monkeypatch):
    from nnjax.sweep.file import load
    monkeypatch.chdir("/")
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    (tmp_path / "my_nets.py").write_text(
        "from nnjax import layers as L\n"
        "def wide(width, depth=1):\n"
        "    return L.Sequential(L.Flatten(), *[L.Linear(width) for _ in range(depth)],"
        " L.Linear(10))\n")
    path = tmp_path / "sweep.toml"
    path.write_text('data = "digits"\nmodel = "my_nets:wide"\n[static]\nwidth = [4, 6]\n'
                    'batch_size = [32, 64]\n[train]\ntarget = "labels"\n')
    spec = load(path)
    assert spec.builder.name == "my_nets:wide" and len(spec.grid().points()) == 4
    assert spec.config({"width": 4, "batch_size": 32}).batch_size == 32   # a [train] field
    path.write_text(path.read_text().replace('[train]\ntarget = "labels"\n', ""))
    with pytest.raises(ValueError, match=r"\[train\] target is needed for builder 'my_nets:wide'"):
        load(path)


def test_a_wrong_backward_in_a_users_model_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    (tmp_path / "broken_nets.py").write_text(
        "from nnjax import layers as L\n"
        "from nnjax.layer import Layer\n"
        "def BrokenTanh():\n"
        "    t = L.Tanh()\n"
        "    return Layer(t.init, t.forward, lambda p, r, dy: ((), dy), name='BrokenTanh')\n"
        "def net(width):\n"
        "    return L.Sequential(L.Flatten(), L.Linear(width), BrokenTanh(), L.Linear(10))\n")
    path = tmp_path / "sweep.toml"
    path.write_text('data = "digits"\nmodel = "broken_nets:net"\n[model_args]\nwidth = 4\n'
                    '[train]\ntarget = "labels"\nepochs = 1\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"nnjax sweep: {path}: ") and "BrokenTanh" in err[-1]


def test_a_file_sets_microbatch(tmp_path):
    from nnjax.sweep.file import load
    path = tmp_path / "sweep.toml"
    path.write_text(GOOD.replace("[train]", "[train]\nmicrobatch = 4"))
    assert load(path).config({}).microbatch == 4
