"""One sweep across processes and machines: JAX's multi-controller runtime (``jax.distributed``).

Every process runs the same program (``fit``, a study, a sweep file). After
:func:`initialize`, ``jax.devices()`` lists the devices of *every* process, so ``fit``'s
mesh (:func:`nnjax.train.parallel.make_mesh`) puts the runs of one sweep on all of them;
each process computes the runs of its own devices. What the host loop decides (which runs
are still training, when to compact, the epoch count) is made from state gathered from
every process (:func:`to_host`) or, for decisions taken from wall-clock times, from process
0's value (:func:`agree`), so the processes always call the same programs and never wait on
each other forever. Only process 0 writes (:func:`is_writer`): results, figures, logs and
checkpoints; every process reads the checkpoint when it starts, so killing all processes
and starting them again resumes.

Command line (``nnjax run`` and ``nnjax sweep``; :func:`add_arguments`,
:func:`from_args`)::

    nnjax sweep grid.toml --coordinator host0:8476 --num-processes 2 --process-id 0
    nnjax sweep grid.toml --coordinator host0:8476 --num-processes 2 --process-id 1
    srun nnjax sweep grid.toml --distributed      # SLURM / Open MPI: detected by JAX

From Python, call :func:`initialize` before anything touches a device (loading data with
``nnjax.data.load`` is fine; creating a ``jax.numpy`` array is not)::

    >>> import nnjax.distributed as dist
    >>> dist.initialize("host0:8476", num_processes=2, process_id=0)  # doctest: +SKIP
    >>> res = fit(model, config, train, val, runs=16)                 # doctest: +SKIP

On CPU the processes exchange data through gloo (JAX's default CPU collectives).
"""
from __future__ import annotations

import re
from typing import Optional

import numpy as np


class DistributedError(ValueError):
    """Bad distributed settings (a missing coordinator, a process id out of range, ...)."""


_HOSTPORT = re.compile(r"^\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$")


def check(coordinator: Optional[str], num_processes: Optional[int],
          process_id: Optional[int]) -> None:
    """Raise :class:`DistributedError` (one line) unless the three settings are all given
    and consistent: ``coordinator`` ``HOST:PORT``, ``num_processes`` ≥ 1 and
    0 ≤ ``process_id`` < ``num_processes``."""
    missing = [flag for flag, v in (("--coordinator HOST:PORT", coordinator),
                                    ("--num-processes N", num_processes),
                                    ("--process-id I", process_id)) if v is None]
    if missing:
        raise DistributedError(
            f"a multi-process run needs {', '.join(missing)} as well (or --distributed"
            " alone, to let JAX read them from SLURM or Open MPI).")
    if not _HOSTPORT.match(str(coordinator)) or not 0 < int(str(coordinator)
                                                              .rsplit(":", 1)[1]) < 65536:
        raise DistributedError(f"--coordinator must be HOST:PORT (e.g. node01:8476), got"
                               f" {coordinator!r}.")
    if not isinstance(num_processes, int) or num_processes < 1:
        raise DistributedError(f"--num-processes must be an integer ≥ 1, got {num_processes!r}.")
    if not isinstance(process_id, int) or not 0 <= process_id < num_processes:
        raise DistributedError(f"--process-id must be in 0..{num_processes - 1} for"
                               f" --num-processes {num_processes}, got {process_id!r}.")


def initialize(coordinator: Optional[str] = None, num_processes: Optional[int] = None,
               process_id: Optional[int] = None, *, auto: bool = False,
               timeout: int = 300) -> None:
    """Start JAX's distributed runtime (``jax.distributed.initialize``), once per process.

    ``auto=True`` (``--distributed``): JAX reads the settings from the cluster (SLURM, Open
    MPI); otherwise all three settings are required (see :func:`check`). ``timeout``:
    seconds to wait for every process to connect. Must run before any JAX computation.
    A process count of 1 starts nothing (a single process needs no runtime).
    """
    import jax
    if jax.distributed.is_initialized():
        return
    if auto:
        if any(v is not None for v in (coordinator, num_processes, process_id)):
            raise DistributedError("--distributed reads the settings from the cluster; give"
                                   " it alone or give --coordinator, --num-processes and"
                                   " --process-id instead.")
        try:
            jax.distributed.initialize(initialization_timeout=timeout)
        except ValueError as e:               # no cluster detected
            raise DistributedError(
                f"--distributed found no SLURM or Open MPI environment ({e}); give"
                " --coordinator HOST:PORT --num-processes N --process-id I instead.") from None
        return
    check(coordinator, num_processes, process_id)
    if num_processes == 1:
        return
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id,
                                   initialization_timeout=timeout)
    except RuntimeError as e:
        if "backend" in str(e).lower() and "initialized" in str(e).lower():
            raise DistributedError("jax.distributed must start before any JAX computation:"
                                   " call nnjax.distributed.initialize first.") from None
        raise


def add_arguments(parser) -> None:
    """Add ``--coordinator``, ``--num-processes``, ``--process-id`` and ``--distributed``."""
    g = parser.add_argument_group(
        "one sweep across processes (jax.distributed; every process runs the same command)")
    g.add_argument("--coordinator", metavar="HOST:PORT",
                   help="address of process 0, where the coordinator listens")
    g.add_argument("--num-processes", type=int, metavar="N", help="number of processes")
    g.add_argument("--process-id", type=int, metavar="I", help="this process: 0..N-1")
    g.add_argument("--distributed", action="store_true",
                   help="read the three settings above from SLURM or Open MPI")


def from_args(args) -> bool:
    """Initialise from parsed CLI flags; True when the process is part of a distributed run.

    Raises :class:`DistributedError` (one line) on bad flags."""
    given = [getattr(args, k, None) for k in ("coordinator", "num_processes", "process_id")]
    if not getattr(args, "distributed", False) and all(v is None for v in given):
        return False
    initialize(*given, auto=getattr(args, "distributed", False))
    return True


def process_count() -> int:
    """The number of processes (1 unless :func:`initialize` started the runtime)."""
    import jax
    return jax.process_count() if jax.distributed.is_initialized() else 1


def process_index() -> int:
    """This process's index (0 unless :func:`initialize` started the runtime)."""
    import jax
    return jax.process_index() if jax.distributed.is_initialized() else 0


def is_writer() -> bool:
    """True in the one process that writes files (process 0; always, with one process)."""
    return process_index() == 0


def _is_key(a) -> bool:
    import jax
    return hasattr(a, "dtype") and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)


def _gather(a):
    """One leaf as a host value (a NumPy array; a typed key array stays a key array)."""
    import jax
    if _is_key(a):
        return jax.random.wrap_key_data(_gather(jax.random.key_data(a)),
                                        impl=jax.random.key_impl(a))
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        from jax.experimental import multihost_utils
        return multihost_utils.process_allgather(a, tiled=True)
    return np.asarray(a) if a is not None else None


def to_host(tree):
    """Every leaf as a full host (NumPy) array, gathered from every process when it is
    spread over several (``jax.device_get`` cannot read those). Collective: with several
    processes, every process must call it, in the same order."""
    import jax
    return jax.tree.map(_gather, tree)


def put(tree, sharding):
    """Place arrays whose full value every process holds (the same on each) on a global
    ``sharding``: each process builds only its own devices' pieces
    (``jax.make_array_from_callback``). Arrays already spread over processes are
    resharded; with one process this is ``jax.device_put``."""
    import jax
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)

    def one(a):
        if a is None:
            return None
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            return _reshard(a, sharding)           # spread already: move, collectively
        if _is_key(a):
            return jax.random.wrap_key_data(one(jax.random.key_data(a)),
                                            impl=jax.random.key_impl(a))
        host = np.asarray(a)
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])
    return jax.tree.map(one, tree)


def _reshard(a, sharding):
    import jax
    return jax.jit(lambda v: v, out_shardings=sharding)(a)


def agree(value):
    """Process 0's ``value`` (a bool or number) on every process: for host decisions taken
    from measurements that differ between processes (wall-clock times). Collective."""
    if process_count() == 1:
        return value
    from jax.experimental import multihost_utils
    got = multihost_utils.broadcast_one_to_all(np.asarray(value))
    return type(value)(got.item()) if isinstance(value, (bool, int, float)) else got


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name`` (no-op with one process)."""
    if process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)


def local(tree):
    """``tree`` as it is with one process; gathered to the host (:func:`to_host`) with
    several, so every process holds every run. Collective with several processes."""
    return tree if process_count() == 1 else to_host(tree)
