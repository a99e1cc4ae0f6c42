"""Evaluation in eval mode, batched under jit: metrics per run, predictions per run.

Metrics of one split (means over its examples):

* ``loss``: the training loss on the raw model output (no penalty, no dropout);
* ``accuracy``: for integer labels, ``mean(argmax(output) == y)``;
* ``mse``: otherwise, ``mean((output_fn(output) − target)²)`` — for an autoencoder
  trained with BCE on logits and ``output_fn=jax.nn.sigmoid``, the reconstruction MSE
  in [0, 1] pixel space.

Examples are taken in batches of ``eval_batch_size`` by index (``lax.map``), the last
batch padded and masked, so memory stays bounded and no copy of the data is made.
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from nnjax import distributed
from nnjax.layer import Layer
from nnjax.train.cache import by_structure, program_config
from nnjax.train.parallel import RunMapper, host_input, make_mesh, pad_runs
from nnjax.train import validate


def index_batches(n: int, batch: int) -> tuple:
    """``(idx, mask)`` of shape (⌈n/batch⌉, batch): ``arange(n)`` padded with 0 / mask 0."""
    nb = -(-n // batch)
    idx = np.zeros(nb * batch, np.int32)
    idx[:n] = np.arange(n)
    mask = np.zeros(nb * batch, np.float32)
    mask[:n] = 1.0
    return idx.reshape(nb, batch), mask.reshape(nb, batch)


def is_classification(y) -> bool:
    """Integer class labels of shape (N,)."""
    return y is not None and y.ndim == 1 and jnp.issubdtype(y.dtype, jnp.integer)


def classifies(config, y) -> bool:
    """The one rule: a run is a classification (accuracy, not MSE) when it trains on
    labels (``target="labels"``) that are integer classes."""
    return config.target == "labels" and is_classification(y)


def split_metrics(model: Layer, config, params, state, x, y, idx, mask, key=None,
                  sigma=None, corrupt: Optional[Callable] = None, outputs: bool = False):
    """Metrics of one run on ``x[idx]`` (idx, mask: (nb, B); masked rows are padding).

    ``corrupt(key, x_batch)`` (or ``config.noise(key, x_batch, sigma)`` when ``sigma`` is
    given) corrupts the inputs, batch b with ``fold_in(key, b)``; the target stays clean.
    ``outputs=True`` returns ``(metrics, out)`` with ``out`` (nb·B, *out_shape) the raw
    model outputs the metrics were computed from, in ``idx`` order (padding rows last).
    """
    labels = config.target == "labels"
    classify = classifies(config, y)
    out_fn = config.output_fn or (lambda z: z)
    loss = config.loss

    def one(args):
        b, ib, mb = args
        xb = x[ib]
        tb = y[ib] if labels else xb
        if corrupt is not None:
            xb = corrupt(jax.random.fold_in(key, b), xb)
        elif sigma is not None:
            xb = config.noise(jax.random.fold_in(key, b), xb, sigma)
        pred, _, _ = model.forward(params, state, xb, train=False)
        per = jax.vmap(lambda p, t: loss.value(p[None], t[None]))(pred, tb)
        sums = {"loss": jnp.sum(per * mb)}
        if classify:
            hit = (jnp.argmax(pred, axis=-1) == tb).astype(jnp.float32)
            sums["accuracy"] = jnp.sum(hit * mb)
        else:
            err = jnp.square(out_fn(pred) - tb).reshape(pred.shape[0], -1).mean(axis=1)
            sums["mse"] = jnp.sum(err * mb)
        return (sums, pred) if outputs else sums

    got = jax.lax.map(one, (jnp.arange(idx.shape[0]), idx, mask))
    sums, out = got if outputs else (got, None)
    count = jnp.sum(mask)
    metrics = {k: jnp.sum(v) / count for k, v in sums.items()}
    return (metrics, out.reshape((-1,) + out.shape[2:])) if outputs else metrics


@by_structure(maxsize=32)
def _metrics_program(model, config, mapper, corrupt, outputs):
    def per_run(run, shared):
        p, s, k = run
        x, y, idx, mask = shared
        got = split_metrics(model, config, p, s, x, y, idx, mask,
                            key=k if corrupt is not None else None, corrupt=corrupt,
                            outputs=outputs)
        return (got[0], got[1][:x.shape[0]]) if outputs else got       # padding rows off
    return jax.jit(mapper(per_run))


@by_structure(maxsize=32)
def _predict_program(model, output_fn, n, mapper):
    f = output_fn or (lambda z: z)

    def per_run(run, shared):
        p, s = run
        xs, ib = shared
        out = jax.lax.map(lambda i: f(model.forward(p, s, xs[i], train=False)[0]), ib)
        return out.reshape((-1,) + out.shape[2:])[:n]
    return jax.jit(mapper(per_run))


def _mapper(chunk_size, devices, runs: int):
    return RunMapper(chunk_size=chunk_size, mesh=make_mesh(devices, runs=runs))


def evaluate(model: Layer, config, params, state, x, y=None, *, corrupt=None, key=None,
             chunk_size: Optional[int] = None, devices=None, outputs: bool = False):
    """Metrics of every run (stacked ``params``/``state``, leading axis R) on ``(x, y)``.

    ``corrupt(key, x_batch) -> x̃`` evaluates under a chosen corruption (target stays
    clean); run r uses ``fold_in(key, r)``, batch b ``fold_in(·, b)``. ``chunk_size`` /
    ``devices`` as in :func:`nnjax.train.fit`. Returns ``{metric: np.ndarray (R,)}``;
    with ``outputs=True`` ``(metrics, out)``, ``out`` (R, N, *out_shape) the raw model
    outputs (eval mode, no ``output_fn``) the metrics were computed from, in one pass:
    what :func:`predict` gives (to float rounding where its batch size differs from
    ``config.eval_batch_size``), without a second pass over ``x``.
    """
    validate.evaluate_args(model, config, params, state, x, y)
    return evaluate_unchecked(model, config, params, state, x, y, corrupt=corrupt, key=key,
                              chunk_size=chunk_size, devices=devices, outputs=outputs)


def evaluate_unchecked(model: Layer, config, params, state, x, y=None, *, corrupt=None,
                       key=None, chunk_size: Optional[int] = None, devices=None,
                       outputs: bool = False):
    """:func:`evaluate` without its input checks, for callers that already ran them
    (``fit`` evaluates the test split it validated before training)."""
    x = host_input(x)                               # placed by put_shared, no extra copy
    y = None if y is None else jnp.asarray(y)
    if config.target == "labels" and y is None:
        raise ValueError("evaluate: target='labels' needs y; pass y or use target='input'.")
    if corrupt is not None and key is None:
        raise ValueError("evaluate: a corruption needs a key=jax.random.key(...).")
    r = jax.tree.leaves(params)[0].shape[0]
    idx, mask = index_batches(x.shape[0], min(config.eval_batch_size, x.shape[0]))
    mapper = _mapper(chunk_size, devices, r)
    (params, state), n = pad_runs((params, state), mapper.multiple(r))
    r_pad = jax.tree.leaves(params)[0].shape[0]
    run_keys = (jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(r_pad))
                if corrupt is not None else jnp.zeros(r_pad))
    run_args = (params, state, run_keys)
    shared = (x, y, jnp.asarray(idx), jnp.asarray(mask))
    program = _metrics_program(model, program_config(config), mapper, corrupt, outputs)
    got = distributed.to_host(program(mapper.put_runs(run_args), mapper.put_shared(shared)))
    metrics, out = got if outputs else (got, None)                  # from every process
    metrics = {k: v[:n] for k, v in metrics.items()}
    return (metrics, out[:n]) if outputs else metrics


def predict(model: Layer, params, state, x, *, output_fn: Optional[Callable] = None,
            batch_size: int = 1000, chunk_size: Optional[int] = None, devices=None):
    """Outputs of every run: ``(R, N, *out_shape)`` for stacked ``params``/``state``.

    Eval mode, ``batch_size`` examples at a time; ``output_fn`` (e.g. ``jax.nn.sigmoid``)
    is applied to the output; ``chunk_size`` runs that many runs at once.
    """
    validate.predict_args(model, params, state, x, batch_size)
    x = host_input(x)
    n = x.shape[0]
    idx, _ = index_batches(n, min(batch_size, n))
    r = jax.tree.leaves(params)[0].shape[0]
    mapper = _mapper(chunk_size, devices, r)
    run_args, _ = pad_runs((params, state), mapper.multiple(r))
    out = _predict_program(model, output_fn, n, mapper)(
        mapper.put_runs(run_args), mapper.put_shared((x, jnp.asarray(idx))))
    return distributed.local(out)[:r]          # several processes: gathered
