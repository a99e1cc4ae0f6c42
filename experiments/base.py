"""What a study is, and the context it runs in.

A study is a small module in ``experiments/`` that defines ``STUDY = Study(...)``:
``run(ctx) -> dict`` trains and evaluates, saves its figures into ``ctx.out`` and
returns the JSON-able results (config, per-run metrics, summaries); ``report(results)
-> str`` renders its Markdown section with the published numbers beside ours.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Mapping, Optional

from nnjax import results as results_lib


@dataclasses.dataclass(frozen=True)
class Study:
    name: str                     # the CLI name, e.g. "mnist-mlp"
    seed_report: str              # "001" .. "004"
    title: str
    presets: Mapping[str, Mapping]  # preset name -> settings dict ("tiny" is for tests)
    run: Callable[["Context"], dict]
    report: Callable[[dict], str]
    default_preset: str = "quick"


@dataclasses.dataclass(frozen=True)
class Context:
    """Where and how a study runs.

    ``settings`` is the chosen preset with ``--seeds``/``--epochs`` overrides applied;
    ``tiny`` swaps MNIST/Fashion-MNIST for scikit-learn's 8×8 digits (test suite).
    """

    study: str
    preset: str
    settings: Mapping
    out: Path
    data_dir: Optional[str] = None
    progress: Optional[bool] = None
    tiny: bool = False

    def __getitem__(self, key):
        return self.settings[key]

    def get(self, key, default=None):
        return self.settings.get(key, default)

    @property
    def store(self) -> results_lib.ResultStore:
        """Finished configurations of this study, preset and settings (the resume store):
        ``out/store/<preset>-<digest of the settings>``, so an edited preset or other
        ``--seeds``/``--epochs`` start afresh instead of reusing results of other settings
        (the older folder stays where it was)."""
        text = json.dumps([results_lib.to_jsonable(dict(self.settings)), self.tiny],
                          sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        return results_lib.ResultStore(self.out / "store" / f"{self.preset}-{digest}")

    def dataset(self, name: str = "mnist", *, flatten: bool = False):
        """MNIST / Fashion-MNIST (train/val/test), or the 8×8 digits when ``tiny``."""
        from nnjax import data
        if self.tiny:
            return data.digits(flatten=flatten)
        return data.load(name, data_dir=self.data_dir, flatten=flatten)

    def figure(self, filename: str) -> Path:
        """Path for a figure inside this study's output folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out / filename


def resolve_settings(study: Study, preset: str, seeds: Optional[int] = None,
                     epochs: Optional[int] = None) -> dict:
    """The preset's settings with ``seeds``/``epochs`` overridden when given."""
    if preset not in study.presets:
        raise ValueError(f"{study.name}: unknown preset {preset!r}; choose one of"
                         f" {sorted(p for p in study.presets if p != 'tiny')}.")
    settings = dict(study.presets[preset])
    if seeds is not None:
        settings["seeds"] = seeds
    if epochs is not None:
        settings["epochs"] = epochs
    return settings


def run_study(study: Study, out_root: Path, preset: Optional[str] = None, *,
              seeds=None, epochs=None, data_dir=None, progress=None, tiny=False) -> Path:
    """Run ``study`` and write ``out_root/NAME/results.json``; returns that path."""
    preset = preset or study.default_preset
    settings = resolve_settings(study, preset, seeds, epochs)
    ctx = Context(study.name, preset, settings, Path(out_root) / study.name,
                  data_dir=data_dir, progress=progress, tiny=tiny)
    ctx.out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    body = study.run(ctx)
    record = {
        "study": study.name, "seed_report": study.seed_report, "title": study.title,
        "preset": preset, "settings": settings, "tiny": tiny,
        "seconds": round(time.time() - start, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "figures": sorted(p.name for p in ctx.out.glob("*.png")),
        **body,
    }
    path = ctx.out / "results.json"
    results_lib.write_json_atomic(path, record)
    return path


def summary_row(label: str, summary: Mapping, published=None, fmt: str = ".4f") -> str:
    """A Markdown table row: label | IQM [Q1–Q3] | 95% CI | n | published."""
    def f(v):
        return "—" if v is None else format(v, fmt)
    n = summary.get("n", 0)
    excl = summary.get("n_excluded", 0)
    runs = f"{n}" + (f" ({excl} diverged, excluded)" if excl else "")
    pub = "—" if published is None else (published if isinstance(published, str) else format(published, fmt))
    return (f"| {label} | {f(summary.get('iqm'))} [{f(summary.get('q1'))}–{f(summary.get('q3'))}]"
            f" | {f(summary.get('ci_low'))}–{f(summary.get('ci_high'))} | {runs} | {pub} |")


SUMMARY_HEADER = ("| configuration | ours: IQM [Q1–Q3] | 95% CI of IQM | runs | published |\n"
                  "|---|---|---|---|---|")
