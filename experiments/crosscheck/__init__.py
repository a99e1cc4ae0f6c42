"""PyTorch twins of a few study runs, to check a number against a second framework.

Each script trains the study's configuration in PyTorch (a test/bench dependency; nnjax
itself never imports torch) and writes a JSON file with its numbers and provenance into
the study's results folder, where the study's ``run`` picks it up for its report.
Run from the repository root, e.g. ``python -m experiments.crosscheck.fmnist_ae_torch``.
"""
