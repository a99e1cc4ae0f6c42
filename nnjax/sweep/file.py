"""A sweep file (TOML): read, check everything, and say what is wrong in one line.

Format (``nnjax sweep FILE.toml``)::

    name = "widths-lr"                # the output folder's name (default: the file's stem)
    data = "mnist"                    # mnist | fashion-mnist | digits
    model = "mlp"                     # a built-in builder, or "package.module:function"
    [model_args]                      # fixed keyword arguments of the builder
    activation = "relu"
    [static]                          # builder keyword arguments (or [train] fields):
    hidden = [[64, 32], [128]]        #   one compilation per point
    [train]                           # TrainConfig fields
    epochs = 5
    [vmapped]                         # per-run numbers: every run of a point in one program
    learning_rate = [1e-3, 3e-3]
    [runs]
    seeds = 3                         # optional: folds = k, fold_seed = 0

:func:`load` checks the whole file before anything runs or is written: every key, every
type, the builder, and each static point's model (built and initialised on the data's
input shape, its output matched against the task). A problem raises
:class:`SweepFileError` whose message is one line naming the key and what is allowed.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Optional

from nnjax.sweep.builders import Builder, BuilderError, parameters, resolve
from nnjax.sweep.core import Grid
from nnjax.train import sweepable, validate


class SweepFileError(ValueError):
    """A sweep file that cannot be run; the message is one line."""


class DataInfo(NamedTuple):
    """What a data set looks like, known before loading it: image shape, class count."""

    shape: tuple
    n_classes: int


DATA = {"mnist": DataInfo((28, 28, 1), 10), "fashion-mnist": DataInfo((28, 28, 1), 10),
        "digits": DataInfo((8, 8, 1), 10)}
TOP_KEYS = ("name", "data", "model", "model_args", "static", "train", "vmapped", "runs")
RUNS_KEYS = ("seeds", "folds", "fold_seed")
# TrainConfig fields a file can set, with their TOML types (functions cannot be written).
TRAIN_TYPES = {"epochs": int, "batch_size": int, "optimizer": str, "learning_rate": float,
               "momentum": float, "weight_decay": float, "b1": float, "b2": float,
               "eps": float, "loss": str, "grad": str, "early_stopping": dict, "shuffle": str,
               "shuffle_seed": int, "drop_last": bool, "target": str,
               "eval_batch_size": int, "epochs_per_call": int, "microbatch": int}
# per-run names a file cannot use: make_runs' own axes, and noise σ (a file gives no noise)
NOT_VMAPPABLE = ("seed", "fold", "noise_std")
TASK_DEFAULTS = {"classify": {"target": "labels", "loss": "softmax_cross_entropy"},
                 "reconstruct": {"target": "input", "loss": "mse"}}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               dict: "a table", list: "a list"}


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep file. ``settings()`` is what decides a record besides its point."""

    path: Path
    name: str
    data: str
    builder: Builder
    model_args: Mapping[str, Any]
    static: Mapping[str, list]
    train: Mapping[str, Any]
    vmapped: Mapping[str, list]
    seeds: Any
    folds: Optional[int]
    fold_seed: int

    @property
    def info(self) -> DataInfo:
        return DATA[self.data]

    @functools.cached_property
    def builder_args(self) -> tuple:
        names, any_name = parameters(self.builder)
        return tuple(k for k in self.static if k in names or (any_name and k not in TRAIN_TYPES))

    def grid(self) -> Grid:
        return Grid(static=self.static, vmapped=self.vmapped, seeds=self.seeds,
                    folds=self.folds, fold_seed=self.fold_seed)

    def task(self) -> str:
        """``"classify"`` (labels) or ``"reconstruct"`` (the input is the target)."""
        return "reconstruct" if self.train_fields({})["target"] == "input" else "classify"

    def train_fields(self, point: Mapping) -> dict:
        """The TrainConfig fields of ``point``: task defaults, [train], then static ones."""
        fields = dict(TASK_DEFAULTS.get(self.builder.task) or {})
        fields.update(self.train)
        builder_args = self.builder_args
        fields.update({k: v for k, v in point.items() if k not in builder_args})
        return fields

    def config(self, point: Mapping):
        from nnjax.train import EarlyStopping, TrainConfig
        fields = self.train_fields(point)
        if isinstance(fields.get("early_stopping"), Mapping):
            fields["early_stopping"] = EarlyStopping(**fields["early_stopping"])
        return TrainConfig(**fields)

    def model(self, point: Mapping):
        kwargs = {k: fn(self.info) for k, fn in self.builder.from_data.items()}
        kwargs.update(self.model_args)
        kwargs.update({k: v for k, v in point.items() if k in self.builder_args})
        return self.builder.fn(**kwargs)

    def settings(self) -> dict:
        """Everything besides the static point that a record depends on (JSON-able)."""
        return {"data": self.data, "model": self.builder.name, "model_args": dict(self.model_args),
                "train": dict(self.train), "vmapped": {k: list(v) for k, v in self.vmapped.items()},
                "seeds": self.seeds, "folds": self.folds, "fold_seed": self.fold_seed}


def _fail(where: str, msg: str):
    raise SweepFileError(f"{where}: {msg}".replace("\n", " "))


def _type_ok(value, kind) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _expect(where: str, key: str, value, kind):
    if not _type_ok(value, kind):
        _fail(where, f"{key} must be {_TYPE_NAMES[kind]}, got {_toml(value)}")
    return value


def _toml(value) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string",
            dict: "a table", list: "a list"}.get(type(value), type(value).__name__) + \
        f" ({value!r})"[:60]


def _table(where, doc, key) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        _fail(where, f"{key} must be a table ([{key}]), got {_toml(value)}")
    return value


def _unknown(where, keys, allowed, section=""):
    for key in keys:
        if key not in allowed:
            inside = f"[{section}] " if section else ""
            _fail(where, f"unknown key {inside}{key!r}; allowed: {', '.join(allowed)}")


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        _fail(str(path), "no such file; give the path of a sweep file (.toml)")
    except IsADirectoryError:
        _fail(str(path), "is a folder; give the path of a sweep file (.toml)")
    except tomllib.TOMLDecodeError as e:
        _fail(str(path), f"not valid TOML: {e}")
    except (OSError, UnicodeDecodeError) as e:
        _fail(str(path), f"cannot be read: {e}")


def load(path) -> SweepSpec:
    """Read and check the sweep file ``path``; :class:`SweepFileError` if it cannot run."""
    path = Path(path)
    where = str(path)
    doc = read_toml(path)
    _unknown(where, doc, TOP_KEYS)
    name = doc.get("name", path.stem)
    if not (isinstance(name, str) and _NAME.match(name)):
        _fail(where, f"name must be a folder name (letters, digits, '.', '_', '-'), got {name!r}")
    if "data" not in doc:
        _fail(where, f"data is missing; allowed: {', '.join(DATA)}")
    if doc["data"] not in DATA:
        _fail(where, f"data = {doc['data']!r} is not known; allowed: {', '.join(DATA)}")
    if "model" not in doc:
        _fail(where, "model is missing; allowed: a built-in builder (mlp, dense_autoencoder,"
                     " conv_autoencoder) or \"package.module:function\"")
    _expect(where, "model", doc["model"], str)
    try:
        builder = resolve(doc["model"], search=(path.resolve().parent, Path.cwd()))
    except BuilderError as e:
        _fail(where, f"model: {e}")
    params, any_name = parameters(builder)
    builder_names = [p for p in params if p not in builder.from_data]

    model_args = _table(where, doc, "model_args")
    for key in model_args:
        if key not in builder_names and not any_name:
            _fail(where, f"unknown key [model_args] {key!r}: not an argument of {builder.name};"
                         f" allowed: {', '.join(builder_names)}")

    static = _table(where, doc, "static")
    for key, values in static.items():
        if key in model_args:
            _fail(where, f"[static] {key!r} is also in [model_args]; give it in one of them")
        if key not in builder_names and key not in TRAIN_TYPES and not any_name:
            _fail(where, f"unknown key [static] {key!r}; allowed: arguments of {builder.name}"
                         f" ({', '.join(builder_names)}) or [train] fields"
                         f" ({', '.join(TRAIN_TYPES)})")
        if not (isinstance(values, list) and values):
            _fail(where, f"[static] {key} must be a non-empty list of values, got {_toml(values)}")
        repeated = [v for i, v in enumerate(values) if v in values[:i]]
        if repeated:
            _fail(where, f"[static] {key} lists {repeated[0]!r} twice; give each value once")
        if key in TRAIN_TYPES and key not in builder_names:
            for v in values:
                _expect(where, f"[static] {key} values", v, TRAIN_TYPES[key])

    train = _table(where, doc, "train")
    _unknown(where, train, tuple(TRAIN_TYPES), "train")
    for key, value in train.items():
        _expect(where, f"[train] {key}", value, TRAIN_TYPES[key])
    if isinstance(train.get("early_stopping"), dict):
        from nnjax.train import EarlyStopping
        allowed = [f.name for f in dataclasses.fields(EarlyStopping)]
        _unknown(where, train["early_stopping"], allowed, "train.early_stopping")
    if "target" in train and train["target"] not in ("labels", "input"):
        _fail(where, f"[train] target = {train['target']!r}; allowed: labels, input")

    vmapped = _table(where, doc, "vmapped")
    for key, values in vmapped.items():
        if key in NOT_VMAPPABLE:
            _fail(where, f"[vmapped] {key!r} cannot be vmapped here"
                         + (" ([runs] seeds/folds give the runs)" if key != "noise_std" else ""))
        values = values if isinstance(values, list) else [values]
        if not values or not all(_type_ok(v, float) and math.isfinite(v) for v in values):
            _fail(where, f"[vmapped] {key} must be a number or a non-empty list of finite "
                         f"numbers, got {_toml(doc['vmapped'][key])}")
        if len(set(values)) < len(values):
            _fail(where, f"[vmapped] {key} lists a value twice; give each value once")
        vmapped[key] = [float(v) for v in values]

    runs = _table(where, doc, "runs")
    _unknown(where, runs, RUNS_KEYS, "runs")
    seeds = runs.get("seeds", 1)
    seeds_ok = (all(_type_ok(s, int) and s >= 0 for s in seeds) and len(set(seeds)) == len(seeds)
                if isinstance(seeds, list) and seeds else _type_ok(seeds, int) and seeds >= 1)
    if not seeds_ok:
        _fail(where, "[runs] seeds must be a count ≥ 1 or a list of distinct seeds ≥ 0, got "
                     + _toml(seeds))
    folds = runs.get("folds")
    if folds is not None and not (_type_ok(folds, int) and folds >= 2):
        _fail(where, f"[runs] folds must be an integer ≥ 2, got {_toml(folds)}")
    fold_seed = _expect(where, "[runs] fold_seed", runs.get("fold_seed", 0), int)

    spec = SweepSpec(path, name, doc["data"], builder, model_args, static, train, vmapped,
                     seeds, folds, fold_seed)
    if builder.task is None and "target" not in train:
        _fail(where, f"[train] target is needed for builder {builder.name!r}: \"labels\" "
                     "(classify) or \"input\" (reconstruct the input)")
    try:
        validate.hyper.grid(spec.grid())
    except (TypeError, ValueError) as e:
        _fail(where, f"[vmapped]/[runs]: {e}")
    for point in spec.grid().points():
        check_point(spec, point)
    return spec


def check_point(spec: SweepSpec, point: Mapping) -> None:
    """Build ``point``'s config and model and initialise it on the data's input shape."""
    import jax
    where = str(spec.path)
    label = ", ".join(f"{k}={v!r}" for k, v in point.items()) or "the model"
    try:
        config = spec.config(point)
    except (TypeError, ValueError) as e:
        _fail(where, f"[train] for {label}: {e}")
    try:
        model = spec.model(point)
        _, _, out_shape = model.init(jax.random.key(0), spec.info.shape)
    except Exception as e:      # any failure of a user's builder is a file error here
        _fail(where, f"model {spec.builder.name!r} cannot be built for {label} on "
                     f"{spec.data} {spec.info.shape}: {type(e).__name__}: {e}")
    allowed = [k for k in sweepable(model, config) if k not in NOT_VMAPPABLE]
    for key in spec.vmapped:
        if key not in allowed:
            _fail(where, f"[vmapped] {key!r} cannot be vmapped for {label}; allowed:"
                         f" {', '.join(allowed)} (the optimizer's numbers, l1, and the model's"
                         " L.hyper names; anything that changes a shape or the code goes"
                         " under [static])")
    out_shape = tuple(out_shape)
    if config.target == "input":
        flat = (math.prod(spec.info.shape),)
        if out_shape not in (tuple(spec.info.shape), flat):
            _fail(where, f"model {spec.builder.name!r} for {label} outputs {out_shape}; "
                         f"reconstructing {spec.data} needs {tuple(spec.info.shape)} or {flat}")
    elif out_shape != (spec.info.n_classes,):
        _fail(where, f"model {spec.builder.name!r} for {label} outputs {out_shape}; "
                     f"classifying {spec.data} needs ({spec.info.n_classes},) logits")
