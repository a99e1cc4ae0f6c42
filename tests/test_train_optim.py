"""The optimizers follow PyTorch's semantics (so the seeds' settings carry over), with
their hyperparameters injected as traced per-run values."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nnjax.train.optim import HYPER_NAMES, Hyper, make_optimizer

torch = pytest.importorskip("torch")

THETA = np.array([0.5, -1.5, 2.0, 0.1], np.float32)
GRADS = [np.array(g, np.float32) for g in ([0.1, -0.2, 0.3, 0.0], [0.05, 0.4, -0.1, 0.2],
                                           [-0.3, 0.1, 0.2, -0.1])]


def hyper(lr, momentum=0.9, wd=0.0):
    return Hyper(*(jnp.float32(v) for v in (lr, momentum, wd, 0.0, np.nan)))


def ours(name, h):
    tx = make_optimizer(name, h)
    step = jax.jit(lambda p, g, s: tx.update(g, s, p))
    p, s = jnp.asarray(THETA), tx.init(jnp.asarray(THETA))
    for g in GRADS:
        u, s = step(p, jnp.asarray(g), s)
        p = optax.apply_updates(p, u)
    return np.asarray(p)


def theirs(make):
    p = torch.nn.Parameter(torch.tensor(THETA))
    opt = make([p])
    for g in GRADS:
        opt.zero_grad()
        p.grad = torch.tensor(g)
        opt.step()
    return p.detach().numpy()


@pytest.mark.parametrize("name, make", [
    ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.01)),
    ("momentum", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("adam", lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.01)),
    ("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.01)),
])
def test_optimizers_match_pytorch(name, make):
    np.testing.assert_allclose(ours(name, hyper(0.1, 0.9, 0.01)), theirs(make), rtol=1e-5,
                               atol=1e-6)


def test_hyperparameters_are_traced_per_run():
    """One compiled update serves every learning rate (vmapped over runs)."""
    lrs = jnp.array([0.1, 0.01, 0.0], jnp.float32)
    hs = Hyper(lrs, jnp.full(3, 0.9), jnp.zeros(3), jnp.zeros(3), jnp.full(3, jnp.nan))

    def one(h):
        tx = make_optimizer("sgd", h)
        s = tx.init(jnp.asarray(THETA))
        u, _ = tx.update(jnp.asarray(GRADS[0]), s, jnp.asarray(THETA))
        return u

    u = np.asarray(jax.jit(jax.vmap(one))(hs))
    np.testing.assert_allclose(u, -np.asarray(lrs)[:, None] * GRADS[0][None], rtol=1e-6)
    assert len(HYPER_NAMES) == len(Hyper._fields)

