"""The layer protocol: three pure functions, the backward kept beside its forward.

A :class:`Layer` is a NamedTuple (stax's ``init``/``apply`` pair plus micrograd's
``backward``)::

    init(key, in_shape)                                   -> (params, state, out_shape)
    forward(params, state, x, *, key=None, train=False)   -> (y, new_state, residuals)
    backward(params, residuals, dy)                       -> (dparams, dx)

* ``in_shape``/``out_shape`` exclude the batch axis; arrays are batch-first.
* ``params`` is a named pytree (NamedTuple) or ``()``; ``state`` holds non-trainable
  buffers (BatchNorm running statistics, a regulariser's strength) or ``()``.
* ``backward`` returns the vector-Jacobian product of ``forward`` for cotangent ``dy``:
  ``dparams = (∂y/∂params)ᵀ dy``, ``dx = (∂y/∂x)ᵀ dy``, with the same pytree structure as
  ``params`` and ``x``.
* A layer may add a scalar ``penalty(params, state, residuals)`` to the objective (an
  activity regulariser). Its ``backward`` then returns the gradient of
  ``Σ dy⊙y + penalty``: the penalty's derivative is part of the manual backward.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from nnjax import layers as L
    >>> model = L.Sequential(L.Linear(32), L.ReLU(), L.Linear(10))
    >>> params, state, out_shape = model.init(jax.random.key(0), (784,))
    >>> y, state, res = model.forward(params, state, jnp.ones((8, 784)))
    >>> dparams, dx = model.backward(params, res, jnp.ones_like(y))
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

Shape = tuple


class Layer(NamedTuple):
    """A layer: ``init``, ``forward``, ``backward`` (and an optional ``penalty``).

    See the module docstring for the signatures. ``name`` appears in error messages and
    in the gradient-check table.
    """

    init: Callable[..., Any]
    forward: Callable[..., Any]
    backward: Callable[..., Any]
    name: str = "Layer"
    penalty: Optional[Callable[..., Any]] = None
    layers: tuple = ()  # children, for containers such as Sequential (introspection)
    hypers: tuple = ()  # ((name, default), ...): per-run numbers it reads (nnjax.layers.hyperparam)


class ShapeError(ValueError):
    """Raised when an input's shape does not fit a layer (names the layer and shapes)."""


def check_input(name: str, expected: Shape, x) -> None:
    """Raise :class:`ShapeError` unless ``x.shape[1:] == expected`` (batch-first input)."""
    shape = tuple(x.shape)
    if len(shape) != len(expected) + 1 or tuple(shape[1:]) != tuple(expected):
        raise ShapeError(
            f"{name}: expected input of shape (batch, {', '.join(map(str, expected))})"
            f" = rank {len(expected) + 1}, got shape {shape}. Pass a batch-first array"
            f" whose trailing shape matches the in_shape given to init."
        )


def check_positive(name: str, what: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` (an int or a tuple of ints) is positive."""
    values = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(v, (int,)) and v > 0 for v in values):
        raise ValueError(f"{name}: {what} must be a positive integer, got {value!r}.")


def split_optional(key, n: int):
    """Split ``key`` into ``n`` keys, or return ``n`` Nones when ``key`` is None."""
    if key is None:
        return (None,) * n
    return tuple(jax.random.split(key, n))


def Sequential(*layers: Layer, name: str = "Sequential") -> Layer:
    """Compose layers; itself a Layer.

    ``params``/``state``/``residuals`` are tuples with one entry per layer. ``init``
    threads the shape and splits the key; ``forward`` splits ``key`` (when given) into one
    key per layer; ``backward`` walks the layers in reverse (chain rule:
    ``dx_i = backward_i(dy_i)``, ``dy_{i-1} = dx_i``). The penalty is the sum of the
    layers' penalties.
    """
    if not layers:
        raise ValueError("Sequential: give at least one layer.")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential: argument {i} is {type(layer).__name__}, not a Layer. Did you"
                f" pass a layer constructor without calling it (e.g. ReLU instead of ReLU())?"
            )
    layers = tuple(layers)
    has_penalty = any(layer.penalty is not None for layer in layers)

    def init(key, in_shape):
        keys = jax.random.split(key, len(layers))
        params, state, shape = [], [], tuple(in_shape)
        for layer, k in zip(layers, keys):
            p, s, shape = layer.init(k, shape)
            params.append(p)
            state.append(s)
        return tuple(params), tuple(state), shape

    def forward(params, state, x, *, key=None, train=False):
        keys = split_optional(key, len(layers))
        new_state, residuals = [], []
        for layer, p, s, k in zip(layers, params, state, keys):
            x, s, r = layer.forward(p, s, x, key=k, train=train)
            new_state.append(s)
            residuals.append(r)
        return x, tuple(new_state), tuple(residuals)

    def backward(params, residuals, dy):
        dparams = [None] * len(layers)
        for i in reversed(range(len(layers))):
            dparams[i], dy = layers[i].backward(params[i], residuals[i], dy)
        return tuple(dparams), dy

    def penalty(params, state, residuals):
        total = jnp.zeros(())
        for layer, p, s, r in zip(layers, params, state, residuals):
            if layer.penalty is not None:
                total = total + layer.penalty(p, s, r)
        return total

    inner = ", ".join(layer.name for layer in layers)
    from nnjax.layers.hyperparam import collect
    return Layer(init, forward, backward, name=f"{name}({inner})",
                 penalty=penalty if has_penalty else None, layers=layers,
                 hypers=collect(layers))


def as_function(layer: Layer, state=(), *, key=None, train: bool = False):
    """Turn ``layer`` into ``f(params, x)`` whose derivative is the manual backward.

    Returns ``y`` (or ``(y, penalty)`` for a layer with a penalty). The forward runs
    ``layer.forward``; ``jax.custom_vjp`` routes every derivative through
    ``layer.backward``, so ``jax.grad``, ``jax.test_util.check_grads`` and user code
    differentiate *the hand-written backward*, not the forward's code.
    ``state``, ``key`` and ``train`` are fixed (closed over).
    """

    def run(params, x):
        # The same key on every call is deliberate (the same dropout mask each time):
        # clone it so JAX's key-reuse checker knows.
        k = None if key is None else jax.random.clone(key)
        y, _, res = layer.forward(params, state, x, key=k, train=train)
        return y, res

    if layer.penalty is None:
        @jax.custom_vjp
        def f(params, x):
            return run(params, x)[0]

        def f_fwd(params, x):
            y, res = run(params, x)
            return y, (params, res)

        def f_bwd(saved, dy):
            params, res = saved
            return layer.backward(params, res, dy)
    else:
        @jax.custom_vjp
        def f(params, x):
            y, res = run(params, x)
            return y, layer.penalty(params, state, res)

        def f_fwd(params, x):
            y, res = run(params, x)
            return (y, layer.penalty(params, state, res)), (params, res, y)

        def f_bwd(saved, cotangent):
            # backward(dy) = J_yᵀ dy + ∇penalty; backward(0) = ∇penalty. Rescale the
            # penalty part by its cotangent dpen: J_yᵀ dy + dpen·∇penalty.
            params, res, y = saved
            dy, dpen = cotangent
            full = layer.backward(params, res, dy)
            pen = layer.backward(params, res, jnp.zeros_like(y))
            return jax.tree.map(lambda a, b: a + (dpen - 1) * b, full, pen)

    f.defvjp(f_fwd, f_bwd)
    return f
