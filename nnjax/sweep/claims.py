"""Independent workers on one result folder: static shards and an exclusive claim per point.

``nnjax sweep FILE --shard I/N`` (and ``nnjax run NAME --shard I/N``) is for queues with
no coordinator (SLURM arrays, submitit): N identical workers share one result folder.
Worker I trains the static points I, I+N, I+2N, … of the grid first; then, unless
``steal=False``, it takes the points of the other shards that nobody has claimed or
finished, from the end of the grid backwards (their owners start at the front). Nothing
is trained twice because every point is trained under an **exclusive claim**:

* the claim of a point is the file ``<record>.claim`` beside the point's record in the
  resume store. It is created atomically (written to a temporary file, then
  ``os.link``-ed to its name, which fails when the name exists: the classic lock that
  also holds on NFS), so exactly one worker gets it, and never half-written. It holds
  the worker's host, pid, pid namespace, shard, start time and a random token;
* while the point trains, a daemon thread touches the claim every ``heartbeat`` seconds
  (its mtime is the heartbeat); the record is saved atomically, then the claim removed;
* a worker that finds a point finished moves on; one that finds it claimed moves on too,
  unless the claim is **stale**: its heartbeat is older than ``timeout`` (default 10
  minutes, enough for clock skew and NFS attribute caching), or its holder is a process
  of this host (same pid namespace) that no longer exists. With ``reclaim``
  (``--reclaim``) a claim is stale once its heartbeat is older than two heartbeats, and
  the worker waits that long for the claims it met before giving up on them, so workers
  resubmitted right after a cancelled array retake the dead workers' points. A claim
  whose heartbeat moves is never retaken. A stale claim is replaced under a short-lived
  ``<record>.claim.lock`` (again by ``os.link``), re-checked under that lock, so two
  workers retaking the same dead claim cannot both win.

When a worker runs out of points it can take and some are still held by others,
:func:`run_points` raises :class:`Pending`: that worker is done, and the one that saves
the last record sees every record and writes the merged outputs (any later run without
``--shard`` does too: it finds every point finished).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from nnjax.results import write_bytes_atomic

HEARTBEAT = 30.0     # seconds between touches of a held claim
TIMEOUT = 600.0      # a claim whose heartbeat is older than this is retaken
SHARD_FORM = ("--shard must be I/N with 0 ≤ I < N, e.g. --shard 0/4 or --shard"
              " $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT")


class ShardError(ValueError):
    """A ``--shard``/``--claim-timeout`` value that cannot be used; the message is one line."""


class Pending(RuntimeError):
    """This worker can do no more, but some points are held by other live workers.

    ``done``/``total``: points with a record; ``holders``: ``"host:pid"`` of the claims met."""

    def __init__(self, done: int, total: int, holders: Sequence[str], message: str = ""):
        self.done, self.total, self.holders = done, total, sorted(set(holders))
        who = ", ".join(self.holders) or "other workers"
        super().__init__(message or
            f"{done}/{total} point(s) finished; the other {total - done} are being trained by"
            f" {who}. This worker is done: the one that finishes the last point writes the"
            f" merged outputs (or run again without --shard once they are finished).")


@dataclass(frozen=True)
class Workers:
    """How this worker shares a result folder: shard ``index`` of ``count``.

    ``steal``: after its own points, take others' unclaimed points. ``reclaim``: retake
    claims whose heartbeat stopped two heartbeats ago (see the module docstring)."""

    index: int = 0
    count: int = 1
    reclaim: bool = False
    timeout: float = TIMEOUT
    heartbeat: float = HEARTBEAT
    steal: bool = True

    def __post_init__(self):
        if not (isinstance(self.count, int) and isinstance(self.index, int)
                and self.count >= 1 and 0 <= self.index < self.count):
            raise ShardError(f"{SHARD_FORM}; got {self.index}/{self.count}")
        if not (self.timeout > 0 and self.heartbeat > 0):
            raise ShardError(f"timeout and heartbeat must be > 0 seconds, got"
                             f" {self.timeout} and {self.heartbeat}")

    @property
    def shard(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def stale_after(self) -> float:
        """Heartbeat age (s) after which another worker's claim is retaken."""
        return min(self.timeout, 2 * self.heartbeat) if self.reclaim else self.timeout

    def order(self, n: int) -> list:
        """Indices of ``n`` points in the order this worker visits them: its own
        (I, I+N, …), then, when stealing, the others' from the last backwards."""
        own = list(range(self.index, n, self.count))
        others = [i for i in range(n - 1, -1, -1) if i % self.count != self.index]
        return own + (others if self.steal else [])

    def owns(self, i: int) -> bool:
        return i % self.count == self.index


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple:
    """``"I/N"`` → ``(I, N)`` with ``0 ≤ I < N``; :class:`ShardError` (one line) otherwise."""
    m = _SHARD.match(str(text))
    if not m or not int(m[1]) < int(m[2]):
        raise ShardError(f"{SHARD_FORM}; got {text!r}")
    return int(m[1]), int(m[2])


def add_worker_flags(parser) -> None:
    """``--shard I/N``, ``--reclaim`` and ``--claim-timeout S`` (``nnjax sweep`` and ``run``)."""
    parser.add_argument("--shard", metavar="I/N",
                        help="be worker I of N sharing --out: train the static points I, I+N,"
                             " … then others' unclaimed ones (see docs/workers.md)")
    parser.add_argument("--reclaim", action="store_true",
                        help="retake claims whose heartbeat stopped a minute ago (dead workers"
                             " of a cancelled job) instead of after --claim-timeout")
    parser.add_argument("--claim-timeout", type=str, default=None, metavar="SECONDS",
                        help=f"retake a claim whose heartbeat is older than this"
                             f" (default {TIMEOUT:g})")


def workers_from_args(args) -> Workers:
    """The :class:`Workers` of the parsed flags of :func:`add_worker_flags` (a plain run
    is worker 0/1); :class:`ShardError` names a bad flag and the form to use."""
    index, count = parse_shard(args.shard) if args.shard is not None else (0, 1)
    timeout = TIMEOUT
    if args.claim_timeout is not None:
        try:
            timeout = float(args.claim_timeout)
        except ValueError:
            timeout = -1.0
        if not timeout > 0 or timeout != timeout or timeout == float("inf"):
            raise ShardError(f"--claim-timeout must be a number of seconds > 0, e.g."
                             f" --claim-timeout 600; got {args.claim_timeout!r}")
    return Workers(index, count, reclaim=bool(args.reclaim), timeout=timeout,
                   heartbeat=min(HEARTBEAT, timeout / 4))


# --------------------------------------------------------------------------- claim files

def _pidns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def me(workers: Optional[Workers] = None) -> dict:
    """Who claims: host, pid, pid namespace, shard, start time (ISO, UTC)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "pidns": _pidns(),
            "shard": workers.shard if workers else None,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def claim_path(store, key: str) -> Path:
    """The claim file of ``key`` in ``store``: its record's name with ``.claim``."""
    path = store.path(key)
    return path.with_name(path.name[: -len(".json")] + ".claim")


def _link_new(path: Path, doc: dict) -> bool:
    """Create ``path`` holding ``doc`` atomically; False if it exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    with open(tmp, "x") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:           # no hard links here (some FUSE mounts): exclusive create
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def read_claim(path: Path):
    """``(doc, heartbeat age in s)`` of a claim file, or None if it is gone; an unreadable
    one reads as ``{}``."""
    try:
        age = time.time() - path.stat().st_mtime
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        doc = {}
    return (doc if isinstance(doc, dict) else {}), age


def _dead_here(doc: dict) -> bool:
    """Whether the holder is a process of this host and pid namespace that is gone."""
    if not doc.get("pidns") or doc.get("host") != socket.gethostname() \
            or doc.get("pidns") != _pidns() or not isinstance(doc.get("pid"), int):
        return False
    try:
        os.kill(doc["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:        # exists but not ours
        return False
    return False


def is_stale(doc: dict, age: float, workers: Workers) -> bool:
    """A claim that may be retaken: holder gone from this host, or heartbeat too old."""
    return _dead_here(doc) or age > workers.stale_after


class Held:
    """A claim of someone else that is live: ``doc`` (host, pid, …) and heartbeat ``age``."""

    def __init__(self, doc: dict, age: float):
        self.doc, self.age = doc, age

    def __str__(self) -> str:
        return f"{self.doc.get('host', '?')}:{self.doc.get('pid', '?')}"


class Claim:
    """A claim this worker holds; use as a context manager (heartbeat while inside,
    released on exit). ``retaken``: the stale claim it replaced, if any."""

    def __init__(self, path: Path, doc: dict, heartbeat: float, retaken=None):
        self.path, self.doc, self.heartbeat, self.retaken = path, doc, heartbeat, retaken
        self._stop = threading.Event()
        self._thread = None
        self.lost = False

    def ours(self) -> bool:
        got = read_claim(self.path)
        return got is not None and got[0].get("token") == self.doc["token"]

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            if not self.ours():
                self.lost = True
                return
            try:
                os.utime(self.path)
            except OSError:
                pass

    def __enter__(self) -> "Claim":
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"claim-heartbeat {self.path.name}")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.ours():
            self.path.unlink(missing_ok=True)


def acquire(path: Path, workers: Workers, key: str = "") -> Union[Claim, Held, None]:
    """Try to claim ``path``: a :class:`Claim` if this worker now holds it, a
    :class:`Held` if a live worker does, None if it changed hands meanwhile (try later)."""
    doc = {**me(workers), "key": key, "token": secrets.token_hex(8)}
    if _link_new(path, doc):
        return Claim(path, doc, workers.heartbeat)
    got = read_claim(path)
    if got is None:                            # released meanwhile: one more try
        return Claim(path, doc, workers.heartbeat) if _link_new(path, doc) else None
    old, age = got
    if not is_stale(old, age, workers):
        return Held(old, age)
    lock = path.with_name(path.name + ".lock")
    if not _link_new(lock, doc):
        lock_age = read_claim(lock)
        if lock_age is not None and lock_age[1] > max(60.0, 2 * workers.heartbeat):
            lock.unlink(missing_ok=True)      # a retaker died inside its few milliseconds
        return None
    try:
        again = read_claim(path)
        if again is None:
            return Claim(path, doc, workers.heartbeat) if _link_new(path, doc) else None
        if again[0].get("token") != old.get("token") or not is_stale(*again, workers):
            return Held(*again) if not is_stale(*again, workers) else None
        write_bytes_atomic(path, json.dumps({**doc, "retaken": old}).encode())
        return Claim(path, doc, workers.heartbeat, retaken=(old, age))
    finally:
        lock.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the loop

def run_points(store, items: Sequence, run_fn: Callable, workers: Optional[Workers] = None, *,
               on_skip: Optional[Callable] = None,
               on_held: Optional[Callable] = None,
               on_retake: Optional[Callable] = None) -> list:
    """Train under a claim every point of ``items`` (``[(key, config)]``) this worker can
    take; return every record, in order, once all are in ``store``.

    ``run_fn(config) -> record`` trains one point (its record is saved atomically, then
    its claim removed). ``on_skip(key, record)``: a point of this worker's shard found
    finished; ``on_held(key, held)``: one held by a live worker, passed over;
    ``on_retake(key, (doc, age))``: a stale claim retaken. A corrupt record stops
    everything before any training. Raises
    :class:`Pending` when points held by live workers remain.
    """
    workers = workers or Workers()
    items = list(items)
    keys = [k for k, _ in items]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"configuration keys must be unique; repeated: {dupes}")
    for key in keys:
        if store.has(key):
            store.load(key)                   # CorruptResultError before anything runs
    held: dict = {}
    records: dict = {}                        # trained here (other processes cannot read yet)
    from nnjax import distributed
    together = distributed.process_count() > 1
    writer = distributed.is_writer()

    def store_record(key, record):
        records[key] = record
        try:
            store.save(key, record)
        except TypeError as e:
            raise TypeError(f"the result of configuration {key!r} cannot be stored: {e}") from e
        except FileExistsError:
            warnings.warn(f"{key!r} was stored by someone else while it ran; keeping"
                          " theirs", stacklevel=4)

    FINISHED, HELD, TRAIN = 0, 1, 2

    def decide(key):
        """What to do with ``key`` (and the Claim or Held met): the processes of one
        jax.distributed run are one worker, so process 0 reads the store and takes the
        claim and every process follows its decision (they train each point together)."""
        if (together and not writer) or store.has(key):
            decision, got = FINISHED, None
        else:
            got = acquire(claim_path(store, key), workers, key)
            decision = TRAIN if isinstance(got, Claim) else HELD
        return (distributed.agree(decision) if together else decision), got

    def visit(i: int, own: bool) -> None:
        key, config = items[i]
        decision, got = decide(key)
        if decision == FINISHED:
            held.pop(key, None)
            if own and on_skip is not None and key not in seen:
                on_skip(key, records.get(key) or store.load(key))
            seen.add(key)
            return
        if decision == HELD:
            if isinstance(got, Held) and key not in held and on_held is not None:
                on_held(key, got)
            held[key] = got
            return
        held.pop(key, None)
        with got if got is not None else contextlib.nullcontext():
            if got is not None and got.retaken is not None and on_retake is not None:
                on_retake(key, got.retaken)
            if not together and store.has(key):   # finished just before we claimed it
                return
            store_record(key, run_fn(config))
        seen.add(key)

    seen: set = set()
    for i in workers.order(len(items)):
        visit(i, workers.owns(i))
    if workers.reclaim:                        # wait for the claims met to go stale
        deadline = time.time() + workers.stale_after + workers.heartbeat

        def waiting():
            wait = bool(held) and time.time() < deadline
            return distributed.agree(wait) if together else wait
        while waiting():
            time.sleep(min(workers.heartbeat / 2, max(0.0, deadline - time.time())))
            for i in [i for i, (k, _) in enumerate(items) if k in held]:
                visit(i, workers.owns(i))
    missing = [k for k in keys if not store.has(k)]
    if together:                               # process 0's store; the others may lag
        missing = keys[:distributed.agree(len(missing))]
    if missing:
        raise Pending(len(keys) - len(missing), len(keys),
                      [str(h) for h in held.values() if isinstance(h, Held)])
    if together and not writer:
        return [records[k] if k in records else store.load(k) for k in keys]
    return [store.load(k) for k in keys]


def once(stem: Path, workers: Workers, fn: Callable):
    """Run ``fn()`` in one worker only (a study's training that keeps no record, e.g.
    :meth:`nnjax.study.Context.fit`): under the claim ``<stem>.claim``, leaving
    ``<stem>.done``. Any other worker, then or later, gets :class:`Pending`: the worker
    that ran it carries the study on (a run without ``--shard`` runs it again)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    done = stem.with_name(stem.name + ".done")

    def pending(who: str):
        return Pending(0, 1, [who], f"{stem.name} (training that keeps no record) is run by"
                       f" {who}, which carries the study on; this worker is done (or run"
                       " again without --shard).")
    finished = read_claim(done)
    if finished is not None:
        raise pending(str(Held(finished[0], finished[1])))
    got = acquire(stem.with_name(stem.name + ".claim"), workers, stem.name)
    if not isinstance(got, Claim):
        raise pending(str(got or "another worker"))
    with got:
        if done.exists():
            raise pending("another worker")
        result = fn()
        from nnjax.results import write_json_atomic
        write_json_atomic(done, me(workers))
    return result
