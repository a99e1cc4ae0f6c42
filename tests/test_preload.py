"""nnjax.preload: a background import finishes, and a failing one is left to the main
thread's own import (no exception from the thread)."""
import sys
import threading

from nnjax import preload


def test_background_import_loads_the_module_and_ignores_a_failure(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args))
    preload.in_background("nnjax_no_such_module", "colorsys").join(timeout=30)
    assert "colorsys" not in sys.modules and not errors       # stopped at the failure
    preload.in_background("colorsys").join(timeout=30)
    assert "colorsys" in sys.modules and not errors
