"""Recompilation is decided by what the program computes, not by object identity; the
classification rule is one function."""
import numpy as np
import optax

from nnjax import layers as L
from nnjax.train import TrainConfig
from nnjax.train import program as program_lib
from nnjax.train.cache import structure
from nnjax.train.evaluate import classifies
from nnjax.train.optim import Optimizer
from nnjax.train.parallel import RunMapper


def mlp(rate=0.1, width=16):
    return L.Sequential(L.Linear(width), L.ReLU(), L.Dropout(rate), L.Linear(2))


def test_structure_is_content():
    assert structure(mlp()) == structure(mlp())
    assert structure(mlp(0.1)) != structure(mlp(0.2))
    assert structure(mlp(width=16)) != structure(mlp(width=8))
    assert structure(np.ones(3)) == structure(np.ones(3))
    assert structure(np.ones(3)) != structure(np.zeros(3))


def test_build_is_shared_by_equal_programs_only():
    m = RunMapper()
    cfg = TrainConfig(epochs=2, batch_size=8)
    a = program_lib.build(mlp(), cfg, (4,), 32, m, has_val=False)
    # rebuilt model, another learning rate / momentum default: the same compiled program
    b = program_lib.build(mlp(), cfg.replace(learning_rate=0.5, momentum=0.5), (4,), 32, m,
                          has_val=False)
    assert a is b
    assert program_lib.build(mlp(), cfg.replace(epochs=3), (4,), 32, m, has_val=False) is not a
    assert program_lib.build(mlp(0.3), cfg, (4,), 32, m, has_val=False) is not a
    lion = cfg.replace(optimizer=Optimizer(optax.lion, b1=0.9))
    c = program_lib.build(mlp(), lion, (4,), 32, m, has_val=False)
    assert c is not a
    assert program_lib.build(mlp(), lion.replace(optimizer=Optimizer(optax.lion, b1=0.5)),
                             (4,), 32, m, has_val=False) is c


def test_one_classification_rule():
    cfg = TrainConfig()
    assert classifies(cfg, np.zeros(3, np.int32))
    assert not classifies(cfg, np.zeros(3, np.float32))
    assert not classifies(cfg, np.zeros((3, 2), np.int32))
    assert not classifies(cfg.replace(target="input"), np.zeros(3, np.int32))


def test_program_config_blanks_exactly_the_config_numbers_read_per_run():
    from nnjax.train.cache import program_config
    from nnjax.train.hyperparams import CONFIG_PER_RUN, run_hyper
    from nnjax.train.runs import make_runs
    cfg = TrainConfig(optimizer="momentum", learning_rate=0.3, momentum=0.5,
                      weight_decay=1e-3, noise_std=0.2)
    # the named optimizers' per-run columns are the config fields program_config blanks
    assert set(run_hyper(make_runs(1), MLP_FOR_PROGRAM, cfg)) == set(CONFIG_PER_RUN)
    blank = program_config(cfg)
    assert blank == program_config(TrainConfig(optimizer="momentum"))
    assert all(getattr(blank, k) != getattr(cfg, k) for k in CONFIG_PER_RUN)
    assert blank.replace(**{k: getattr(cfg, k) for k in CONFIG_PER_RUN}) == cfg


MLP_FOR_PROGRAM = L.Sequential(L.Linear(4), L.ReLU(), L.Linear(2))
