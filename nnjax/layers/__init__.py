"""Built-in layers. Each is a constructor returning a :class:`nnjax.layer.Layer`."""
from nnjax.layer import Layer, Sequential
from nnjax.layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nnjax.layers.batchnorm import BatchNorm, BatchNormParams, BatchNormState
from nnjax.layers.conv import Conv2D, ConvParams, ConvTranspose2D
from nnjax.layers.dropout import Dropout
from nnjax.layers.hyperparam import HyperParam, HyperValue, hyper
from nnjax.layers.linear import Linear, LinearParams
from nnjax.layers.noise import GaussianNoise
from nnjax.layers.pooling import MaxPool2D
from nnjax.layers.regularizers import ActivityL1
from nnjax.layers.shape import Flatten, Reshape
