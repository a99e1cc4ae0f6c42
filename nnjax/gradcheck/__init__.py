"""Proving hand-written backwards: ``checks`` (the three checks of one layer or loss) and
``cases`` (every built-in layer, loss and model, checked by ``nnjax gradcheck``)."""
from nnjax.gradcheck.checks import CheckResult, check_layer, check_loss, verify_objective

__all__ = ["CheckResult", "check_layer", "check_loss", "verify_objective"]
