"""Proving hand-written backwards: ``checks`` (the three checks of one layer or loss),
``cases`` (every built-in layer, loss and model, checked by ``nnjax gradcheck``),
``diagnose``/``mistakes``/``report`` (where and how a failed backward is wrong),
``figures``, ``userfile`` and ``cli`` (``nnjax gradcheck FILE.py[:NAME]``)."""
from nnjax.gradcheck.checks import CheckResult, check_layer, check_loss, verify_objective
from nnjax.gradcheck.diagnose import diagnose_check
from nnjax.gradcheck.report import Diagnosis

__all__ = ["CheckResult", "Diagnosis", "check_layer", "check_loss", "diagnose_check",
           "verify_objective"]
