"""``nnjax gradcheck FILE.py[:NAME]``: a user's layers checked from the command line."""
import textwrap

import pytest

from nnjax.cli import main

GOOD = '''
import jax
from nnjax import Layer, layers as L


def Swish() -> Layer:
    def init(key, in_shape):
        return (), (), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        s = jax.nn.sigmoid(x)
        return x * s, state, (x, s)

    def backward(params, res, dy):
        x, s = res
        return (), dy * (s + x * s * (1 - s))

    return Layer(init, forward, backward, name="Swish")


def Scaled(k=3.0) -> Layer:
    lin = L.Linear(4)
    return lin._replace(name="Scaled")


def helper(x):          # needs an argument: not a factory
    return x


NORM = L.BatchNorm()
'''

WRONG = GOOD.replace("dy * (s + x * s * (1 - s))", "dy * (s + x * s)")


def _write(tmp_path, text, name="layers.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_every_layer_of_a_file_passes_and_gets_a_figure(tmp_path, capsys):
    out_png = tmp_path / "g.png"
    assert main(["gradcheck", _write(tmp_path, GOOD), "--in-shape", "3", "--batch", "4",
                 "--plot", str(out_png)]) == 0
    out = capsys.readouterr().out
    for name in ("Swish", "Scaled", "NORM"):
        assert f"layer  {name} " in out
    assert "helper" not in out and "all gradient checks passed" in out
    assert sorted(p.name for p in tmp_path.glob("g-*.png")) == [
        "g-norm.png", "g-scaled.png", "g-swish.png"]


def test_a_wrong_layer_fails_with_its_diagnosis_and_figure(tmp_path, capsys):
    png = tmp_path / "fig.png"
    assert main(["gradcheck", _write(tmp_path, WRONG) + ":Swish", "--plot", str(png)]) == 1
    out = capsys.readouterr().out
    assert "Swish" in out and "FAIL" in out and "Scaled" not in out
    assert "manual − autodiff = x·σ(x)²" in out and "1 failed" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "missing.py: no such file"),
    (["{good}:Nope"], "defines no 'Nope'; it defines: Swish, Scaled, helper"),
    (["{good}:helper"], "helper needs arguments (x)"),
    (["{bad}"], "importing it raised SyntaxError (line 2)"),
    (["{boom}"], "importing it raised ZeroDivisionError (line 1): division by zero"),
    (["{good}:NORM", "--in-shape", "2,3"], "NORM: cannot run on input shape (batch=3, 2, 3)"),
    (["{good}", "--only", "Swish"], "--only filters the built-ins"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    files = {"good": _write(tmp_path, GOOD), "bad": _write(tmp_path, "x = 1\ndef (:\n", "bad.py"),
             "boom": _write(tmp_path, "1 / 0\n", "boom.py")}
    assert main(["gradcheck", *[a.format(**files) for a in args]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_shape_argument_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["gradcheck", "x.py", "--in-shape", "0"])
    assert exit_.value.code == 2 and "is not a shape" in capsys.readouterr().err


KINK = '''
import jax.numpy as jnp
from nnjax import Layer


def MaxReLU() -> Layer:
    def init(key, in_shape):
        return (), (), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        return jnp.maximum(x, 0.0), state, x    # autodiff of max takes 1/2 at 0

    def backward(params, x, dy):
        return (), dy * (x > 0)

    return Layer(init, forward, backward, name="MaxReLU")
'''


def test_a_passing_layer_with_another_convention_at_the_kink_gets_a_note(tmp_path, capsys):
    assert main(["gradcheck", _write(tmp_path, KINK)]) == 0
    out = capsys.readouterr().out
    assert "note: the checks pass at random x" in out
    assert "wrong only where x = 0 (the kink)" in out


def test_builtins_still_checked_with_only(capsys):
    assert main(["gradcheck", "--only", "dropout(0.3)"]) == 0
    out = capsys.readouterr().out
    assert "Dropout(0.3) train" in out and "Dropout(0.3) eval" in out
    assert "all gradient checks passed" in out
    assert "Sigmoid" not in out
