"""The one error guard of the ``nnjax`` commands (nnjax.cli_guard)."""
import argparse

import pytest

from nnjax.cli_guard import guarded


def _fail(args):
    raise ValueError("the width must be positive\nGive width = 8.\nmore detail")


def test_a_listed_error_is_one_line_exit_2_and_debug_shows_it(capsys):
    run = guarded(_fail, lambda: (ValueError,))
    assert run(argparse.Namespace(command="run", debug=False)) == 2
    assert capsys.readouterr().err == ("nnjax run: the width must be positive Give width = 8."
                                       "  (--debug shows the traceback)\n")
    with pytest.raises(ValueError, match="positive"):
        run(argparse.Namespace(command="run", debug=True))
    own = guarded(_fail, lambda: (ValueError,), lambda err, args: f"{args.file}: bad")
    assert own(argparse.Namespace(command="sweep", file="s.toml")) == 2
    assert capsys.readouterr().err == "nnjax sweep: s.toml: bad\n"
    with pytest.raises(ValueError):                    # not listed: not a user's mistake
        guarded(_fail, lambda: (KeyError,))(argparse.Namespace(command="run"))
