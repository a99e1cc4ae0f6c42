"""Conv2D, ConvTranspose2D, MaxPool2D: manual backward vs jax.vjp, finite differences and
PyTorch (float64), the conv layers under every lowering (nnjax.layers.conv_ops); the
adjoint identity; 28×28 autoencoder shapes; init; errors."""
import functools

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.layer import ShapeError, as_function
from nnjax.layers.conv import Conv2D, ConvParams, ConvTranspose2D, channel_sum
from nnjax.layers.conv_ops import LOWERINGS
from nnjax.layers.pooling import MaxPool2D

KINDS = {"conv": Conv2D, "convt": ConvTranspose2D, "pool": MaxPool2D}


def C(cout, k, s=1, p=0, bias=True):  # a Conv2D spec
    return "conv", dict(out_channels=cout, kernel=k, stride=s, padding=p, use_bias=bias)


def T(cout, k, s=1, p=0, op=0, bias=True):  # a ConvTranspose2D spec
    return "convt", dict(out_channels=cout, kernel=k, stride=s, padding=p, output_padding=op,
                         use_bias=bias)


def P(k, s=None, p=0):  # a MaxPool2D spec
    return "pool", dict(kernel=k, stride=s, padding=p)


# (layer, (H, W), in channels, batch, ties in x)
CASES = [
    (C(3, 1), (5, 6), 2, 2, False),
    (C(3, 1, 2, 2), (7, 9), 2, 2, False),           # padding > kernel − 1
    (C(2, 2, 2, 0), (7, 9), 3, 2, False),           # stride does not divide: last row unread
    (C(4, 3, 1, 1), (7, 9), 2, 1, False),           # batch of 1
    (C(4, 3, 2, 1), (28, 28), 1, 2, False),
    (C(3, 3, 3, 2, bias=False), (7, 9), 2, 2, False),
    (C(2, 5, 2, 2), (9, 7), 2, 2, False),
    (C(2, 5, 3, 0), (11, 8), 2, 2, False),
    (C(3, (3, 2), (2, 1), (1, 0)), (7, 9), 2, 2, False),
    (T(3, 1), (5, 6), 2, 2, False),
    (T(3, 1, 2, 1, 1), (4, 4), 2, 2, False),        # output_padding > padding: untouched rows
    (T(2, 2, 2, 0), (4, 5), 3, 2, False),
    (T(3, 3, 2, 1, 1), (7, 9), 2, 1, False),        # batch of 1
    (T(2, 3, 2, 0, 0), (3, 3), 4, 2, False),
    (T(1, 3, 2, 1, 1), (14, 14), 2, 2, False),
    (T(2, 5, 3, 2, 1, bias=False), (4, 5), 2, 2, False),
    (T(2, 5, 2, 2, 0), (5, 3), 2, 2, False),
    (T(2, 3, 3, 1, 2), (4, 4), 2, 2, False),
    (T(3, (3, 2), (2, 3), (1, 0), (1, 2)), (4, 5), 2, 2, False),
    (P(2), (7, 9), 2, 2, False),                    # odd sizes: floor mode drops the last row
    (P(3, 2, 1), (7, 9), 2, 2, False),              # overlapping windows, −∞ padding
    (P(2, 1, 1), (5, 5), 3, 1, False),
    (P(3, 3, 0), (28, 28), 1, 2, False),
    (P((3, 2), (2, 1), (1, 1)), (6, 7), 2, 2, False),
    (P(2), (7, 9), 2, 2, True),                     # x with 3 values: many tied maxima
    (P(3, 2, 1), (7, 9), 2, 2, True),
    (P((3, 2), (2, 1), (1, 1)), (6, 7), 2, 2, True),
]
IDS = [f"{c[0][0]}{i}" for i, c in enumerate(CASES)]
# (case, lowering): every conv case under every lowering; pooling has none
LOWERED = [(i, lw) for i, c in enumerate(CASES)
           for lw in ((None,) if c[0][0] == "pool" else LOWERINGS)]
LOWERED_IDS = [IDS[i] + ("" if lw is None else f"-{lw}") for i, lw in LOWERED]


def build(spec, lowering=None):
    kind, kwargs = spec
    return KINDS[kind](**kwargs, **({} if lowering is None else {"lowering": lowering}))


def shaped_init(layer, in_shape):
    """params/state as ShapeDtypeStructs and out_shape, from init under jax.eval_shape
    (jax.random compiles slowly on CPU; most tests need shapes, not PyTorch's init)."""
    static = {}

    def init(k):
        params, state, static["out_shape"] = layer.init(k, tuple(in_shape))
        return params, state

    params, state = jax.eval_shape(init, jax.random.key(0))
    return params, state, static["out_shape"]


def numpy_params(layer, in_shape, seed=0):
    """Random normal params (× 0.3) with init's shapes and dtypes."""
    rng = np.random.default_rng(seed)
    params, state, out_shape = shaped_init(layer, in_shape)
    params = jax.tree.map(lambda a: jnp.asarray(0.3 * rng.normal(size=a.shape), a.dtype), params)
    return params, state, out_shape


@functools.lru_cache(maxsize=None)
def program(layer):
    """One jitted program per (stateless) layer: forward, manual backward, jax.vjp."""

    def run(params, x, dy):
        y, _, res = layer.forward(params, (), x)
        _, vjp = jax.vjp(lambda p, x: layer.forward(p, (), x)[0], params, x)
        return y, layer.backward(params, res, dy), vjp(dy)

    return jax.jit(run)


@functools.lru_cache(maxsize=None)
def case(i, constant_x=False, lowering=None):
    """float64 (params, x, dy, y, manual, vjp) for CASES[i], computed once and shared."""
    spec, hw, cin, batch, ties = CASES[i]
    layer = build(spec, lowering)
    rng = np.random.default_rng(i)
    with jax.enable_x64(True):
        params, _, out_shape = numpy_params(layer, hw + (cin,), seed=i)
        x = rng.normal(size=(batch,) + hw + (cin,))
        x = rng.integers(0, 3, size=x.shape) * 1.0 if ties else x
        x = np.zeros(x.shape) if constant_x else x
        dy = rng.normal(size=(batch,) + out_shape)
        y, manual, ref = program(layer)(params, jnp.asarray(x), jnp.asarray(dy))
        return layer, jax.tree.map(np.asarray, (params, x, dy, y, manual, ref)), out_shape


def rel_err(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == np.float64, (a.shape, b.shape, a.dtype)
    return float(np.max(np.abs(a - b), initial=0) / max(np.max(np.abs(b), initial=0), 1e-300))


@pytest.mark.parametrize("i, lowering", LOWERED, ids=LOWERED_IDS)
def test_backward_equals_vjp(i, lowering):
    layer, (params, x, dy, y, manual, ref), out_shape = case(i, lowering=lowering)
    assert y.shape[1:] == out_shape
    for got, want in zip(jax.tree.leaves(manual), jax.tree.leaves(ref)):
        assert rel_err(got, want) <= 1e-10, layer.name


@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("spec, hw", [(C(2, 3, 2, 1), (5, 6)), (T(2, 3, 2, 1, 1), (3, 4)),
                                      (C(2, 3, 3, 0), (8, 7)), (T(2, 3, 3, 1, 2), (3, 2)),
                                      (P(3, 2, 1), (5, 6))])
def test_finite_differences(spec, hw, lowering):
    if spec[0] == "pool" and lowering != LOWERINGS[0]:
        pytest.skip("pooling has no lowerings")
    layer = build(spec, None if spec[0] == "pool" else lowering)
    with jax.enable_x64(True):
        params, state, _ = numpy_params(layer, hw + (2,))
        x = jnp.asarray(np.random.default_rng(1).normal(size=(2,) + hw + (2,)))
        jax.test_util.check_grads(as_function(layer, state), (params, x), order=1,
                                  modes=("rev",))


def test_maxpool_ties_route_to_first_index():
    """Constant input: every window's maximum is tied; the gradient goes to the first
    in-bounds element of each window (row-major), never split."""
    with jax.enable_x64(True):
        dy = jnp.arange(1.0, 10.0).reshape(1, 3, 3, 1)
        y, (_, dx), (_, dx_vjp) = program(MaxPool2D(3, 2, 1))((), jnp.ones((1, 5, 5, 1)), dy)
    expected = np.zeros((5, 5))
    for i in range(3):
        for j in range(3):  # window rows 2i−1..2i+1: first in-bounds one is max(2i−1, 0)
            expected[max(2 * i - 1, 0), max(2 * j - 1, 0)] += float(dy[0, i, j, 0])
    np.testing.assert_array_equal(np.asarray(dx)[0, :, :, 0], expected)
    np.testing.assert_array_equal(np.asarray(dx_vjp)[0, :, :, 0], expected)
    np.testing.assert_array_equal(np.asarray(y), np.ones((1, 3, 3, 1)))


# ------------------------------------------------------------------------------- PyTorch
def torch_reference(spec, params, x, dy):
    """y, [dw, db], dx from torch.nn.functional in float64, converted to NHWC / HWIO."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    kind, kw = spec
    leaf = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)
    xt = leaf(np.transpose(x, (0, 3, 1, 2)))
    perm, weights = None, []
    if kind == "pool":
        yt = F.max_pool2d(xt, kw["kernel"], kw["stride"] or kw["kernel"], kw["padding"])
    else:
        bt = leaf(params.b) if kw["use_bias"] else None
        if kind == "conv":  # ours (kh, kw, I, O) = torch (O, I, kh, kw).permute(2, 3, 1, 0)
            perm = (3, 2, 0, 1)
            wt = leaf(np.transpose(params.w, perm))
            yt = F.conv2d(xt, wt, bt, kw["stride"], kw["padding"])
        else:               # ours = Wt.permute(2, 3, 0, 1), Wt (I, O, kh, kw)
            perm = (2, 3, 0, 1)
            wt = leaf(np.transpose(params.w, perm))
            yt = F.conv_transpose2d(xt, wt, bt, kw["stride"], kw["padding"],
                                    kw["output_padding"])
        weights = [wt] + ([bt] if kw["use_bias"] else [])
    (yt * torch.tensor(np.transpose(dy, (0, 3, 1, 2)))).sum().backward()
    nhwc = lambda a: np.transpose(a.detach().numpy(), (0, 2, 3, 1))
    dparams = [np.transpose(w.grad.numpy(), np.argsort(perm)) if w.ndim == 4 else w.grad.numpy()
               for w in weights]
    return nhwc(yt), dparams, nhwc(xt.grad)


@pytest.mark.parametrize("i, lowering", LOWERED, ids=LOWERED_IDS)
def test_matches_pytorch(i, lowering):
    layer, (params, x, dy, y, (dparams, dx), _), _ = case(i, lowering=lowering)
    spec = CASES[i][0]
    yt, dparams_t, dx_t = torch_reference(spec, params, x, dy)
    assert rel_err(y, yt) <= 1e-12 and rel_err(dx, dx_t) <= 1e-12, layer.name
    if spec[0] != "pool":
        assert rel_err(dparams.w, dparams_t[0]) <= 1e-12, layer.name
        if spec[1]["use_bias"]:
            assert rel_err(dparams.b, dparams_t[1]) <= 1e-12, layer.name
        else:
            assert dparams.b.shape == (0,)


@pytest.mark.parametrize("i", [i for i, c in enumerate(CASES) if c[0][0] == "pool"])
def test_maxpool_constant_input_matches_pytorch(i):
    """Every window tied (−∞ padding aside): both route dy to the window's first element
    (equal up to the order in which overlapping windows add up)."""
    layer, (params, x, dy, y, (_, dx), (_, dx_vjp)), _ = case(i, constant_x=True)
    _, _, dx_t = torch_reference(CASES[i][0], params, x, dy)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(dx_vjp, dx_t, rtol=1e-14, atol=1e-15)


# ------------------------------------------------------------------- structure and shapes
def test_conv_transpose_is_adjoint_of_conv():
    """⟨Conv(x), y⟩ = ⟨x, ConvT(y)⟩ with ConvT's kernel = Conv's with I/O swapped and
    output_padding = the rows the conv's stride leaves unread: (8 + 2 − 3) mod 2 = 1 for
    H = 8, (7 + 2 − 3) mod 2 = 0 for W = 7."""
    conv = Conv2D(3, 3, 2, 1, use_bias=False)
    convt = ConvTranspose2D(2, 3, 2, 1, (1, 0), use_bias=False)
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        params, _, out_shape = numpy_params(conv, (8, 7, 2))
        x = jnp.asarray(rng.normal(size=(2, 8, 7, 2)))
        y = jnp.asarray(rng.normal(size=(2,) + out_shape))
        cx = conv.forward(params, (), x)[0]
        tparams = ConvParams(jnp.swapaxes(params.w, 2, 3), jnp.zeros((0,)))
        ty = convt.forward(tparams, (), y)[0]
        assert ty.shape == x.shape
        np.testing.assert_allclose(jnp.vdot(cx, y), jnp.vdot(x, ty), rtol=1e-12)


def seed004_autoencoder(code=4):
    """Seed 004's convolutional AE on 28×28 (the course template): 3 convs + 2 linears."""
    encoder = L.Sequential(
        Conv2D(8, 3, 2, 1), L.ReLU(), Conv2D(16, 3, 2, 1), L.ReLU(),
        Conv2D(32, 3, 2, 0), L.ReLU(), L.Flatten(), L.Linear(64), L.ReLU(), L.Linear(code))
    decoder = L.Sequential(
        L.Linear(64), L.ReLU(), L.Linear(3 * 3 * 32), L.ReLU(), L.Reshape((3, 3, 32)),
        ConvTranspose2D(16, 3, 2, 0, 0), L.ReLU(), ConvTranspose2D(8, 3, 2, 1, 1), L.ReLU(),
        ConvTranspose2D(1, 3, 2, 1, 1), L.Sigmoid())
    return encoder, decoder


def shapes_through(layers, in_shape):
    shapes = [tuple(in_shape)]
    for layer in layers:
        shapes.append(shaped_init(layer, shapes[-1])[2])
    return shapes


def test_28x28_round_trip_shapes():
    down = [Conv2D(16, 3, 2, 1), Conv2D(32, 3, 2, 1)]
    up = [ConvTranspose2D(16, 3, 2, 1, 1), ConvTranspose2D(1, 3, 2, 1, 1)]
    assert shapes_through(down + up, (28, 28, 1)) == [
        (28, 28, 1), (14, 14, 16), (7, 7, 32), (14, 14, 16), (28, 28, 1)]
    down = [Conv2D(8, 3, 2, 1), Conv2D(16, 3, 2, 1), Conv2D(32, 3, 2, 0)]
    up = [ConvTranspose2D(16, 3, 2, 0, 0), ConvTranspose2D(8, 3, 2, 1, 1),
          ConvTranspose2D(1, 3, 2, 1, 1)]
    assert shapes_through(down + up, (28, 28, 1)) == [
        (28, 28, 1), (14, 14, 8), (7, 7, 16), (3, 3, 32), (7, 7, 16), (14, 14, 8), (28, 28, 1)]


def test_seed004_autoencoder_forward_backward_shapes():
    encoder, decoder = seed004_autoencoder(code=4)
    model = L.Sequential(encoder, decoder)
    params, state, out_shape = numpy_params(model, (28, 28, 1))
    assert out_shape == (28, 28, 1) and shapes_through([encoder], (28, 28, 1))[-1] == (4,)

    @jax.jit
    def run(params, x):
        y, _, res = model.forward(params, state, x)
        return (y,) + model.backward(params, res, y - x)

    x = jnp.asarray(np.random.default_rng(1).uniform(size=(3, 28, 28, 1)), jnp.float32)
    y, dparams, dx = run(params, x)
    assert y.shape == x.shape and dx.shape == x.shape
    assert jax.tree.map(jnp.shape, dparams) == jax.tree.map(jnp.shape, params)


def test_init_matches_pytorch_bounds():
    p, _, _ = Conv2D(5, 3).init(jax.random.key(0), (8, 8, 40))
    q, _, _ = ConvTranspose2D(5, 3).init(jax.random.key(1), (8, 8, 40))
    assert p.w.shape == q.w.shape == (3, 3, 40, 5) and p.b.shape == q.b.shape == (5,)
    conv_bound, convt_bound = 1 / np.sqrt(40 * 9), 1 / np.sqrt(5 * 9)  # fan_in: I·k², O·k²
    for a, bound in [(p.w, conv_bound), (p.b, conv_bound), (q.w, convt_bound), (q.b, convt_bound)]:
        assert float(jnp.max(jnp.abs(a))) <= bound
    assert float(jnp.max(jnp.abs(p.w))) > 0.95 * conv_bound
    assert float(jnp.max(jnp.abs(q.w))) > 0.95 * convt_bound
    assert shaped_init(Conv2D(5, 3, use_bias=False), (4, 4, 2))[0].b.shape == (0,)


# -------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make, match", [
    (lambda: Conv2D(0, 3), "out_channels"),
    (lambda: Conv2D(4, 0), "kernel"),
    (lambda: Conv2D(4, (3,)), "kernel"),
    (lambda: Conv2D(4, 3, stride=0), "stride"),
    (lambda: Conv2D(4, 3, padding=-1), "padding"),
    (lambda: ConvTranspose2D(4, 3, stride=2, output_padding=2), "output_padding"),
    (lambda: ConvTranspose2D(-1, 3), "out_channels"),
    (lambda: MaxPool2D(0), "kernel"),
    (lambda: MaxPool2D(2, padding=2), "padding"),
])
def test_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_shape_errors():
    key = jax.random.key(0)
    for layer in (Conv2D(4, 3), ConvTranspose2D(4, 3), MaxPool2D(2)):
        with pytest.raises(ValueError, match=r"\(H, W, C\)"):
            layer.init(key, (28, 28))
        with pytest.raises(ValueError, match="positive"):
            layer.init(key, (0, 28, 1))
    with pytest.raises(ShapeError, match=r"Conv2D.*\(3, 4\).*kernel \(5, 5\).*stride.*padding"):
        Conv2D(4, 5).init(key, (3, 4, 1))
    with pytest.raises(ShapeError, match=r"MaxPool2D.*\(1, 1\).*kernel \(2, 2\)"):
        MaxPool2D(2).init(key, (1, 1, 1))
    with pytest.raises(ShapeError, match=r"ConvTranspose2D.*output_padding"):
        ConvTranspose2D(4, 1, 1, 1).init(key, (1, 1, 1))
    conv = Conv2D(4, 3)
    params, state, _ = numpy_params(conv, (8, 8, 2))
    with pytest.raises(ShapeError, match=r"Conv2D.*\(batch, H, W, 2\).*\(5, 8, 8, 3\)"):
        conv.forward(params, state, jnp.ones((5, 8, 8, 3)))
    with pytest.raises(ShapeError, match=r"rank 4.*\(8, 8, 2\)"):
        conv.forward(params, state, jnp.ones((8, 8, 2)))
    with pytest.raises(ShapeError, match=r"too small"):
        conv.forward(params, state, jnp.ones((1, 2, 8, 2)))
    with pytest.raises(ShapeError, match=r"MaxPool2D.*rank 4"):
        MaxPool2D(2).forward((), (), jnp.ones((8, 8)))


@pytest.mark.parametrize("shape", [(2, 3, 4, 8), (3, 5, 7, 8), (2, 2, 2, 4), (4, 7, 7, 16),
                                   (2, 3, 3, 1), (1, 1, 1, 3)])
def test_channel_sum_is_the_plain_sum(shape):
    """The bias gradient's widened reduction (rows of g pixels) equals Σ over (N, H, W),
    whether or not the pixel count divides into rows of g (float64)."""
    dy = np.random.default_rng(1).normal(size=shape)
    with jax.enable_x64(True):
        got = channel_sum(jnp.asarray(dy))
    assert got.shape == (shape[-1],)
    np.testing.assert_allclose(got, dy.sum(axis=(0, 1, 2)), rtol=1e-12, atol=1e-12)
