"""Speed benchmarks of nnjax against plain JAX, PyTorch, Flax NNX, NumPy and the machine.

Run ``python -m benchmarks`` (``--quick``, ``--tiny``, ``--only NAME[,NAME]``,
``--out DIR``); results land in ``benchmarks/results/`` (``LATEST.md`` is the newest).
"""
