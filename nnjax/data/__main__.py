"""``python -m nnjax.data fetch [NAMES...]`` / ``python -m nnjax.data info``."""
import sys

from .cli import main

sys.exit(main())
