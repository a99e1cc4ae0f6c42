"""A Swish layer whose backward forgets a factor: the README's example of a wrong derivation.

    nnjax gradcheck docs/examples/swish_wrong.py --plot docs/figures/swish_wrong.png

y = x·σ(x), so dy/dx = σ(x) + x·σ(x)(1 − σ(x)). The backward below writes σ(x) + x·σ(x)
(the (1 − σ(x)) of σ' forgotten); the check fails and names the extra term x·σ(x)².
"""
import jax

from nnjax import Layer


def Swish() -> Layer:
    """y = x·σ(x);  dx should be dy ⊙ (σ(x) + x·σ(x)(1 − σ(x)))."""
    def init(key, in_shape):
        return (), (), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        s = jax.nn.sigmoid(x)
        return x * s, state, (x, s)

    def backward(params, residuals, dy):
        x, s = residuals
        return (), dy * (s + x * s)          # wrong: σ'(x) = σ(x)(1 − σ(x)), not σ(x)

    return Layer(init, forward, backward, name="Swish")
