"""``nnjax report``: one REPORT.md from every study's results.json."""
from __future__ import annotations

import time
from pathlib import Path

from experiments import studies
from nnjax.results import read_json

INTRO = """# nnjax reproduction report

Built by `nnjax report` from the results in this folder ({when}). Each section shows
our numbers (IQM over seeds, quartiles, 95% stratified-bootstrap CI of the IQM) beside
the published ones, the figures, and the known faults of the original code that
explain a difference. IQM is the 25% trimmed mean (for 15 runs: the middle 9).
Every model was gradient-checked (manual backward against `jax.grad`, float64) before
training.
"""


def write_report(out: Path) -> Path:
    """Render ``out/REPORT.md``; studies without results are listed as not yet run."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    parts = [INTRO.format(when=time.strftime("%Y-%m-%d %H:%M"))]
    missing = []
    for name, study in studies().items():
        path = out / name / "results.json"
        if not path.exists():
            missing.append(f"- `{name}` (seed {study.seed_report}): not yet run —"
                           f" `nnjax run {name} --preset paper --out {out}`")
            continue
        results = read_json(path)
        parts.append(f"## {study.title} (`{name}`, seed {study.seed_report})\n")
        parts.append(f"Preset `{results.get('preset')}`"
                     + (" on the 8×8 digits stand-in (test mode)" if results.get("tiny") else "")
                     + f"; {results.get('seconds')} s; finished {results.get('finished')}.\n")
        parts.append(study.report(results).strip() + "\n")
        for fig in results.get("figures", []):
            parts.append(f"![{fig}]({name}/{fig})\n")
    if missing:
        parts.append("## Not yet run\n\n" + "\n".join(missing) + "\n")
    path = out / "REPORT.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(parts))
    tmp.replace(path)
    return path
