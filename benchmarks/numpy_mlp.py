"""NumPy from scratch, built the way seed 001 built it.

Module objects with ``forward``/``backward`` (Linear, ReLU, a softmax cross-entropy loss),
a ``Sequential`` that chains them, an Adam optimizer over the modules' parameter arrays,
a Python loop over minibatches, and seeds run one after another. Arrays are float64, as
NumPy gives for ``images / 255.0`` (seed 001 never casts to float32). The gradients here
are the correct ones (seed 001's softmax backward was not; the cost is the same).

It is slow, so :func:`run` times ``case.fraction`` of an epoch and extrapolates to a full
epoch; the result says so.
"""
from __future__ import annotations

import numpy as np

from benchmarks.common import Case, Data, Result, Workload, init_linear_np, timed


class Linear:
    """y = x W + b; backward: dW = xᵀ dy, db = Σ dy, dx = dy Wᵀ."""

    def __init__(self, w, b):
        self.params = [w, b]
        self.grads = [np.zeros_like(w), np.zeros_like(b)]

    def forward(self, x):
        self.x = x
        return x @ self.params[0] + self.params[1]

    def backward(self, dy):
        self.grads[0][...] = self.x.T @ dy
        self.grads[1][...] = dy.sum(axis=0)
        return dy @ self.params[0].T


class ReLU:
    """y = max(x, 0); dx = dy ⊙ 1[x > 0]."""

    def __init__(self):
        self.params, self.grads = [], []

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dy):
        return dy * self.mask


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits); dlogits = (softmax − onehot) / N."""

    def forward(self, logits, labels):
        z = logits - logits.max(axis=1, keepdims=True)
        self.p = np.exp(z)
        self.p /= self.p.sum(axis=1, keepdims=True)
        self.labels = labels
        return -np.log(self.p[np.arange(len(labels)), labels] + 1e-12).mean()

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.labels)), self.labels] -= 1.0
        return d / len(self.labels)


class Sequential:
    def __init__(self, *modules):
        self.modules = modules

    def forward(self, x):
        for m in self.modules:
            x = m.forward(x)
        return x

    def backward(self, dy):
        for m in reversed(self.modules):
            dy = m.backward(dy)

    def parameters(self):
        return [(p, g) for m in self.modules for p, g in zip(m.params, m.grads)]


class Adam:
    def __init__(self, pairs, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.pairs, self.lr, self.b1, self.b2, self.eps = pairs, lr, b1, b2, eps
        self.m = [np.zeros_like(p) for p, _ in pairs]
        self.v = [np.zeros_like(p) for p, _ in pairs]
        self.t = 0

    def step(self):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for (p, g), m, v in zip(self.pairs, self.m, self.v):
            m[...] = self.b1 * m + (1 - self.b1) * g
            v[...] = self.b2 * v + (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


def build(workload: Workload, seed: int):
    rng = np.random.default_rng(seed)
    layers = init_linear_np(rng, workload.sizes, np.float64)
    modules = []
    for i, (w, b) in enumerate(layers):
        modules.append(Linear(w, b))
        if i < len(layers) - 1:
            modules.append(ReLU())
    model = Sequential(*modules)
    return model, Adam(model.parameters(), workload.lr), rng


def train_seed(x, y, workload: Workload, seed: int, n_batches: int) -> float:
    """Build seed ``seed``'s model and train ``n_batches`` shuffled batches; mean loss."""
    model, opt, rng = build(workload, seed)
    loss_fn = SoftmaxCrossEntropy()
    perm = rng.permutation(len(x))
    total = 0.0
    for i in range(n_batches):
        idx = perm[i * workload.batch:(i + 1) * workload.batch]
        total += loss_fn.forward(model.forward(x[idx]), y[idx])
        model.backward(loss_fn.backward())
        opt.step()
    return float(total / n_batches)


def cases(settings) -> list:
    return [Case("numpy", "seq_float64", 1, settings.repeats,
                 fraction=settings.numpy_fraction)]


def run(case: Case, data: Data, workload: Workload) -> Result:
    x = data.x.astype(np.float64)  # seed 001 keeps NumPy's float64 from /255.0
    total_batches = len(x) // workload.batch
    n_batches = max(1, round(case.fraction * total_batches))
    scale = total_batches / n_batches
    train_seed(x, data.y, workload, 10_000, min(n_batches, 5))  # warm-up
    seconds, loss = [], None
    for r in range(case.repeats):
        t, loss = timed(lambda: train_seed(x, data.y, workload, r, n_batches))
        seconds.append(t * scale)
    notes = (f"float64; timed {n_batches} of {total_batches} batches per repeat and "
             f"extrapolated to a full epoch" if scale > 1 else "float64; full epoch timed")
    return Result(seconds, None, "none (no compilation)", loss, "own", notes)
