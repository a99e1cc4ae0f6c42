"""The studies nnjax reproduces: one file each (``STUDY = nnjax.study.Study(...)``), found
by path by :mod:`nnjax.studies`; files starting with ``_`` hold their shared helpers."""

from nnjax import study

# report order: the first report's studies, then the second's, third's, fourth's
ORDER = (
    "linear_regression", "linear_classification", "xor", "mnist_mlp", "mnist_sweeps",
    "ae_grid", "ae_latent", "denoising",
    "fmnist_ae", "fmnist_ffnn",
    "ae_projected", "ae_projected_deviation", "ae_regularisation", "ae_denoise_gauss",
    "conv_ae", "conv_ae_es", "noise_robustness", "latent_pca",
)

# the four source reports, by the tag a Study carries (``Study.seed_report``)
SOURCES = {"001": "“Neural Networks” report", "002": "Yıldırım, Homework 2",
           "003": "Bonachera del Pozo et al., Project 1", "004": "Iacovissi, Homework 4"}

CITATIONS = """The four source reports these studies reproduce (titles and authors as they give them):

- *Neural Networks* (no author named): a neural-network framework written from first
  principles in NumPy, from linear regression to MNIST classifiers and dense
  autoencoders (sweeps, latent space, denoising).
- Ahmed Senih Yıldırım, *Machine Learning Homework 2: Autoencoder and Feedforward Neural
  Network* (June 12, 2025): a Fashion-MNIST autoencoder and a feed-forward classifier.
- Olga Bonachera del Pozo, Daniel Kwapien, Alejandro Sánchez, *Neural networks – Project 1*:
  dense autoencoders on MNIST and Fashion-MNIST (code size × depth, L1 and dropout,
  denoising).
- Laura Iacovissi, *Neural Networks and Deep Learning – Homework 4* (August 19, 2020): a
  convolutional autoencoder on MNIST (grid search with 3-fold CV, code size, robustness to
  noise, latent space).
"""

REPORT_INTRO = study.REPORT_INTRO + "\n" + CITATIONS.replace("{", "{{").replace("}", "}}")
