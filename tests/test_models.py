"""Built-in model builders: shapes, the width rule, and encoder/decoder halves that make
exactly the joined model (no layer counting anywhere)."""
import jax
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.models import (conv_autoencoder, conv_encoder_decoder, dense_autoencoder,
                          dense_encoder_decoder, join, log_widths, mlp, split)
from nnjax.train import predict

def key(seed=3):
    return jax.random.key(seed)


def _forward(model, params, state, x):
    return np.asarray(model.forward(params, state, x)[0])


def test_mlp_layers_and_shape():
    model = mlp([8, 4], 3, "tanh")
    assert [lay.name for lay in model.layers] == ["Flatten", "Linear(8)", "Tanh", "Linear(4)",
                                                  "Tanh", "Linear(3)"]
    params, state, shape = model.init(key(), (2, 2, 1))
    assert shape == (3,)
    assert _forward(model, params, state, np.ones((5, 2, 2, 1), np.float32)).shape == (5, 3)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mlp([4], 2, "swish")


def test_log_widths_rule():
    # int(D·(L/D)^(log(i+2)/log(d+2))), mirrored: 784·(4/784)^(1/2) = 56.0, …^(log 3/log 4) = 11.99
    assert log_widths(4, 2) == [784, 56, 11, 4, 11, 56, 784]
    assert log_widths(32, 1) == [784, 104, 32, 104, 784]
    assert log_widths(8, 3, in_dim=64) == [64, 26, 15, 10, 8, 10, 15, 26, 64]


@pytest.mark.parametrize("kwargs", [{}, {"logits": True}, {"dropout": 0.5},
                                    {"code_layers": [L.ActivityL1(0.1)]}])
def test_dense_halves_compose_to_the_model(kwargs):
    widths = [12, 6, 3, 6, 12]
    enc, dec = dense_encoder_decoder(widths, **kwargs)
    model = join(enc, dec)
    # the same flat layers as dense_autoencoder: same params from the same key
    ref = dense_autoencoder(widths, **kwargs)
    assert [lay.name for lay in model.layers] == [lay.name for lay in ref.layers]
    params, state, shape = model.init(key(), (12,))
    assert shape == (12,)
    x = np.asarray(jax.random.uniform(jax.random.key(1), (7, 12)))
    (pe, pd), (se, sd) = split(enc, params), split(enc, state)
    codes = _forward(enc, pe, se, x)
    assert codes.shape == (7, 3) and np.all(codes >= 0)                   # after the ReLU
    np.testing.assert_allclose(_forward(dec, pd, sd, codes), _forward(model, params, state, x),
                               rtol=1e-6, atol=1e-7)
    last = dec.layers[-1].name
    assert last == ("Linear(12)" if kwargs.get("logits") else "Sigmoid")


def test_dense_layout_of_dropout_and_code_layers():
    enc, dec = dense_encoder_decoder([12, 6, 3, 6, 12], dropout=0.2)
    assert [lay.name for lay in enc.layers] == ["Flatten", "Linear(6)", "ReLU", "Dropout(0.2)",
                                                "Linear(3)", "ReLU"]
    assert [lay.name for lay in dec.layers] == ["Dropout(0.2)", "Linear(6)", "ReLU",
                                                "Dropout(0.2)", "Linear(12)", "Sigmoid"]
    enc, _ = dense_encoder_decoder([12, 3, 12], code_layers=[L.ActivityL1(0.0)])
    assert enc.layers[-1].name.startswith("ActivityL1") and enc.penalty is not None
    with pytest.raises(ValueError, match="odd length"):
        dense_encoder_decoder([12, 6, 6, 12])


def test_conv_halves_compose_to_the_model():
    enc, dec = conv_encoder_decoder(5, channels=(2, 3, 4), hidden=6)
    model = join(enc, dec)
    assert len(conv_autoencoder(5, channels=(2, 3, 4), hidden=6).layers) == len(model.layers)
    params, state, shape = model.init(key(), (28, 28, 1))
    assert shape == (28, 28, 1)
    x = np.asarray(jax.random.uniform(jax.random.key(2), (2, 28, 28, 1)))
    (pe, pd), (se, sd) = split(enc, params), split(enc, state)
    codes = _forward(enc, pe, se, x)
    assert codes.shape == (2, 5)
    np.testing.assert_allclose(_forward(dec, pd, sd, codes), _forward(model, params, state, x),
                               rtol=1e-5, atol=1e-6)


def test_split_of_stacked_runs_for_predict():
    enc, dec = dense_encoder_decoder([8, 2, 8])
    model = join(enc, dec)
    p, s, _ = model.init(key(), (8,))
    stack = lambda t: jax.tree.map(lambda a: np.stack([a, a]), t)  # noqa: E731  two runs
    (pe, _), (se, _) = split(enc, stack(p)), split(enc, stack(s))
    codes = np.asarray(predict(enc, pe, se, np.ones((3, 8), np.float32)))
    assert codes.shape == (2, 3, 2)
    np.testing.assert_array_equal(codes[0], codes[1])
