"""The compiled training program: one run's epoch as a ``lax.scan`` over minibatches.

Per run (everything below is vmapped/chunked/sharded over runs by a
:class:`~nnjax.train.parallel.RunMapper`):

* :class:`TrainState` ``(params, model_state, opt_state)``;
* :class:`RunSpec`: the run's keys, :class:`~nnjax.train.optim.Hyper` and, with k-fold
  cross-validation, its training and validation index sets;
* :class:`Carry` ``(train, tracker)``: what one call hands to the next.

An epoch gathers each batch ``x[idx]`` by index from the dataset, which is an argument
of the program (never a closed-over constant: closing over 60000×784 costs ~17 s of
compilation). With ``shuffle="shared"`` the order is computed once per epoch outside
the run map, so the gathered batch is the same for every run and the first layer is one
wide matmul. Step ``i`` of epoch ``e`` takes its noise key ``fold_in(k_e, 2i)`` and its
model (dropout) key ``fold_in(k_e, 2i+1)`` from ``k_e = fold_in(step_key, e)`` (fold_in
keeps vmap-of-scan clear of the key-reuse checker, which flags scans over split keys).

:func:`build` returns ``(init, program)``; ``program(carry, specs, shared)`` runs
``config.epochs_per_call`` epochs from ``shared.epoch0`` and returns the new carry and
the per-epoch metrics ``{name: (epochs_per_call, R)}`` (NaN where a run did not train).
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from nnjax.train import early_stopping as es_lib
from nnjax.train import microbatch
from nnjax.backprop import value_and_grad
from nnjax.train.cache import by_structure, program_config
from nnjax.train.evaluate import classifies, split_metrics
from nnjax.layers import hyperparam
from nnjax.train.hyperparams import schedule_fn
from nnjax.train.optim import make_transform
from nnjax.train.permute import feistel_permutation
from nnjax.train.runs import RunKeys


class TrainState(NamedTuple):
    """One run's trainable parameters, model state (BatchNorm statistics, L1 λ) and
    optimizer state (which holds the run's injected hyperparameters)."""

    params: Any
    model_state: Any
    opt_state: Any


class RunSpec(NamedTuple):
    """What differs between runs besides their state. ``train_idx`` (n_train,) and
    ``val_idx``/``val_mask`` (nb, B) exist with k-fold cross-validation only."""

    keys: RunKeys
    hyper: Any                    # {name: scalar}: see nnjax.train.hyperparams.run_hyper
    train_idx: Optional[jax.Array] = None
    val_idx: Optional[jax.Array] = None
    val_mask: Optional[jax.Array] = None
    schedule: Optional[jax.Array] = None   # the row of Shared.schedule this run reads


class Carry(NamedTuple):
    train: TrainState
    tracker: es_lib.Tracker


class Shared(NamedTuple):
    """Arguments every run shares: the data, shared validation batches, the first epoch
    of the call and (``shuffle="shared"``) the batch orders of its epochs."""

    x: jax.Array
    y: Optional[jax.Array]
    x_val: Optional[jax.Array]
    y_val: Optional[jax.Array]
    val_idx: Optional[jax.Array]
    val_mask: Optional[jax.Array]
    epoch0: jax.Array
    orders: Any = None        # (full (k, steps, B), rest (k, r) or None), shared order only
    schedule: Any = None      # (U, T + 1) learning rate per schedule setting and step


def _make_tx(config, spec: RunSpec, table=None):
    lr = schedule_fn(table, spec.schedule)
    if lr is None and spec.schedule is not None:   # init: the state's value before step 0
        lr = lambda count: jnp.zeros((), jnp.float32)  # noqa: E731
    return make_transform(config, spec.hyper, lr)


def init_run(model, config, in_shape, spec: RunSpec) -> Carry:
    """Initial carry of one run: parameters from ``keys.init``, the layer hyperparameters
    it sweeps set (ActivityL1's λ among them), optimizer state."""
    params, state, _ = model.init(spec.keys.init, in_shape)
    state = hyperparam.set_values(state, spec.hyper)
    opt_state = _make_tx(config, spec).init(params)
    return Carry(TrainState(params, state, opt_state),
                 es_lib.init(config.early_stopping, params, state))


def batch_order(key, n: int, batch: int, shuffle: str, drop_last: bool):
    """``(full, rest)``: positions (steps, batch) and the last partial batch (r,) or None.

    The order is a keyed Feistel bijection (:mod:`nnjax.train.permute`): no sort of n
    keys per run and epoch (measured 66× faster than ``jax.random.permutation`` for 15
    runs × 60 000 examples, interleaved medians, 2-core CPU at load average 10)."""
    perm = jnp.arange(n) if shuffle == "none" else feistel_permutation(key, n)
    steps, r = divmod(n, batch)
    full = perm[: steps * batch].reshape(steps, batch)
    rest = None if (r == 0 or drop_last) else perm[steps * batch:]
    return full, rest


def train_epoch(vg, config, ts: TrainState, spec: RunSpec, x, y, full, rest, epoch,
                schedule=None):
    """One epoch of one run over the batches ``full`` (steps, B) then ``rest`` (r,).

    Returns the new TrainState and ``{"train_loss", ["train_accuracy"]}``: means over the
    epoch's examples of the training objective (train mode, with penalties) and of the
    accuracy of the train-mode outputs (integer labels only).
    """
    classify = classifies(config, y)
    tx = _make_tx(config, spec, schedule)
    ekey = jax.random.fold_in(spec.keys.step, epoch)

    def step(ts, pos, i):
        idx = pos if spec.train_idx is None else spec.train_idx[pos]
        xb = x[idx]
        target = y[idx] if config.target == "labels" else xb
        if config.noise is not None:
            xb = config.noise(jax.random.fold_in(ekey, 2 * i), xb, spec.hyper["noise_std"])
        (value, aux), grads = vg(ts.params, ts.model_state, xb, target,
                                 jax.random.fold_in(ekey, 2 * i + 1))
        updates, opt_state = tx.update(grads, ts.opt_state, ts.params)
        params = optax.apply_updates(ts.params, updates)
        sums = {"train_loss": value * pos.shape[0]}
        if classify:
            hits = jnp.argmax(aux.output, axis=-1) == target
            sums["train_accuracy"] = jnp.sum(hits.astype(jnp.float32))
        return TrainState(params, aux.state, opt_state), sums

    ts, sums = jax.lax.scan(lambda c, a: step(c, *a), ts, (full, jnp.arange(full.shape[0])))
    totals = {k: jnp.sum(v) for k, v in sums.items()}
    count = full.size
    if rest is not None:
        ts, extra = step(ts, rest, full.shape[0])
        totals = {k: v + extra[k] for k, v in totals.items()}
        count += rest.shape[0]
    return ts, {k: v / count for k, v in totals.items()}


def build(model, config, in_shape: tuple, n_train: int, mapper, *, has_val: bool):
    """``(init, program)`` jitted over stacked runs, cached by what the program computes
    (:mod:`nnjax.train.cache`: the model's and config's content, not their identity; the
    per-run numbers of the config do not count, they are arguments).

    ``init(specs, None) -> Carry``; ``program(carry, specs, shared) -> (carry, history)``
    with the carry donated.
    """
    vg = microbatch.wrap(value_and_grad(model, config.loss, config.grad), config.microbatch)
    k = config.epochs_per_call

    def order(key):
        return batch_order(key, n_train, config.batch_size, config.shuffle, config.drop_last)

    def one_run(run, shared: Shared):
        carry, spec = run

        def epoch_body(carry, j):
            epoch = shared.epoch0 + j
            if shared.orders is not None:
                full, rest = jax.tree.map(lambda o: o[j], shared.orders)
            else:
                full, rest = order(jax.random.fold_in(spec.keys.order, epoch))
            ts, metrics = train_epoch(vg, config, carry.train, spec, shared.x, shared.y,
                                      full, rest, epoch, shared.schedule)
            if has_val:
                metrics.update(_val_metrics(model, config, ts, spec, shared))
            tracker, ts_kept, live = es_lib.update(config.early_stopping, carry.tracker,
                                                   carry.train, ts, metrics, epoch,
                                                   epoch < config.epochs)
            metrics = {m: jnp.where(live, v, jnp.nan) for m, v in metrics.items()}
            return Carry(ts_kept, tracker), metrics

        return jax.lax.scan(epoch_body, carry, jnp.arange(k))

    def program(carry, specs, shared):
        if config.shuffle == "shared":
            okey = jax.random.key(config.shuffle_seed)
            epochs = shared.epoch0 + jnp.arange(k)
            shared = shared._replace(
                orders=jax.vmap(lambda e: order(jax.random.fold_in(okey, e)))(epochs))
        carry, hist = mapper(one_run)((carry, specs), shared)
        return carry, jax.tree.map(lambda h: jnp.swapaxes(h, 0, 1), hist)

    # init runs once: XLA's backend optimisation (slow on its threefry code) is not worth it
    init = jax.jit(mapper(lambda spec, _: init_run(model, config, in_shape, spec)),
                   compiler_options={"xla_backend_optimization_level": 0})
    return init, jax.jit(program, donate_argnums=0)


def _build_cached(model, config, in_shape, n_train, mapper, *, has_val):
    return _build(model, program_config(config), in_shape, n_train, mapper, has_val=has_val)


_build = by_structure(maxsize=64)(build)
build = functools.wraps(build)(_build_cached)
build.cache_clear = _build.cache_clear


def _val_metrics(model, config, ts, spec, shared):
    if spec.val_idx is not None:       # k-fold: this run's held-out fold of the train set
        x, y, idx, mask = shared.x, shared.y, spec.val_idx, spec.val_mask
    else:
        x, y, idx, mask = shared.x_val, shared.y_val, shared.val_idx, shared.val_mask
    sigma = spec.hyper["noise_std"] if config.val_noise else None
    m = split_metrics(model, config, ts.params, ts.model_state, x, y, idx, mask,
                      key=spec.keys.eval, sigma=sigma)
    return {f"val_{k}": v for k, v in m.items()}
