"""The error guard of the ``nnjax`` commands: a user's mistake ends with one line on
stderr and exit code 2, ``--debug`` shows the traceback instead.

Example::

    >>> def _run(args): ...
    >>> run = guarded(_run, lambda: (ValueError,))     # p.set_defaults(func=run)
"""
from __future__ import annotations

import sys
from typing import Callable


def one_line(err) -> str:
    """The error's message and its advice (its first two lines) as one line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return " ".join(lines[:2]) or type(err).__name__


def with_hint(err, args) -> str:
    """The default message: :func:`one_line` and where the traceback is."""
    return f"{one_line(err)}  (--debug shows the traceback)"


def guarded(func: Callable, errors: Callable[[], tuple],
            message: Callable = with_hint) -> Callable:
    """``func(args)`` whose errors of the types ``errors()`` (a function, so the command's
    imports stay lazy) print ``nnjax COMMAND: message(err, args)`` to stderr and return 2,
    or re-raise under ``args.debug``."""
    def run(args) -> int:
        try:
            return func(args)
        except errors() as err:
            if getattr(args, "debug", False):
                raise
            print(f"nnjax {args.command}: {message(err, args)}", file=sys.stderr)
            return 2
    return run
