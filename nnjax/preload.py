"""Import modules in a background thread while the main thread works.

``nnjax run`` imports matplotlib this way while the study reads its data and
JAX sets up and compiles: the main thread spends much of that time outside Python
(hashing and scaling the data, XLA), so the import costs little wall time. A module the
main thread imports while the background import is running waits for it (Python's
per-module import locks); a failed background import is ignored, and the main
thread's own import raises the error where the module is used.
"""
from __future__ import annotations

import importlib
import threading


def in_background(*names: str) -> threading.Thread:
    """Start importing ``names`` (in order) in a daemon thread; returns the thread."""
    def work():
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:          # noqa: BLE001 - raised again by the main thread's import
                return
    thread = threading.Thread(target=work, name="nnjax-preload", daemon=True)
    thread.start()
    return thread
