"""The studies nnjax reproduces, one module each, found by this registry.

``nnjax list`` lists them; ``nnjax run NAME`` runs one; ``nnjax report`` renders them.
"""
from __future__ import annotations

import importlib

from experiments.base import Study

# module names in report order (seed 001, then 002, 003, 004)
MODULES = (
    "linear_regression", "linear_classification", "xor", "mnist_mlp", "mnist_sweeps",
    "ae_grid", "ae_latent", "denoising",
    "fmnist_ae", "fmnist_ffnn",
    "ae_projected", "ae_regularisation", "ae_denoise_gauss",
    "conv_ae", "noise_robustness", "latent_pca",
)


def studies() -> dict[str, Study]:
    """``{name: Study}`` for every study module that exists, in report order."""
    found = {}
    for module in MODULES:
        try:
            mod = importlib.import_module(f"experiments.{module}")
        except ModuleNotFoundError as err:
            if err.name == f"experiments.{module}":
                continue  # not written yet
            raise
        found[mod.STUDY.name] = mod.STUDY
    return found


def get(name: str) -> Study:
    all_studies = studies()
    if name not in all_studies:
        raise SystemExit(f"unknown study {name!r}; `nnjax list` shows: {', '.join(all_studies)}")
    return all_studies[name]
