"""What a cross-check result records about how it was made (no machine paths)."""
from __future__ import annotations

import platform
import sys
import time


def provenance(script: str, argv, seconds: float) -> dict:
    """Script (repository-relative module), its arguments, library versions, wall time."""
    import numpy
    import torch
    return {"script": script, "command": "python -m " + script + " " + " ".join(argv),
            "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "threads": torch.get_num_threads(),
            "seconds": round(seconds, 1),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": list(argv),
            "executable": sys.implementation.name}
