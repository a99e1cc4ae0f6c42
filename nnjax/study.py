"""What a study is, the context it runs in, and how it is run and reported.

A study is a Python file that defines ``STUDY = Study(...)`` (the built-in ones are in
the repository's ``experiments/``; :mod:`nnjax.studies` finds a user's by path):
``run(ctx) -> dict`` trains and evaluates (usually through :meth:`Context.sweep`), saves
its figures into ``ctx.out`` and returns the JSON-able results (config, per-run metrics,
``summary``); ``report(results) -> str`` renders its Markdown section with the published
numbers beside ours; optionally ``headline(results) -> [(label, ours, ci, runs,
published)]`` (texts, e.g. from :func:`summary_cells`) picks the numbers ``nnjax run``
prints when it ends and the first of them goes into the results table of the report and
README (default: every ``results["summary"]`` entry beside ``results["published"]``). ``full_presets`` names the presets that run the source's full
setting; the results table says of every result whether it is one of them.

A report states each conclusion of its source with :func:`verdict`, computing whether it
holds from the results, never typing it.
"""
from __future__ import annotations

import dataclasses
import re
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Optional

from nnjax import results as results_lib
from nnjax.analysis import stats
from nnjax.sweep.core import Grid, Problem, sweep as run_sweep


@dataclasses.dataclass(frozen=True)
class Study:
    name: str                     # the CLI name, e.g. "mnist-mlp"
    seed_report: str              # which source report it reproduces (a short tag)
    title: str
    presets: Mapping[str, Mapping]  # preset name -> settings dict ("tiny" is for tests)
    run: Callable[["Context"], dict]
    report: Callable[[dict], str]
    default_preset: str = "quick"
    headline: Optional[Callable[[dict], list]] = None
    full_presets: tuple = ("paper",)  # presets that run the source's full setting
    cpu_devices: bool = False     # nnjax run: one JAX device per core (nnjax.train.cpu_devices)


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
    fetch: bool = True
    epoch_log: Optional[str] = None
    workers: Optional[object] = None      # nnjax.sweep.claims.Workers (--shard, --reclaim)

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
        digest = results_lib.json_digest([dict(self.settings), self.tiny], 10, compact=False)
        return results_lib.ResultStore(self.out / "store" / f"{self.preset}-{digest}")

    def dataset(self, name: str = "mnist", *, flatten: bool = False, **kwargs):
        """MNIST / Fashion-MNIST (train/val/test), or the 8×8 digits when ``tiny``;
        missing files are fetched first unless the context says ``fetch=False``."""
        from nnjax import data
        if self.tiny:
            return data.digits(flatten=flatten)
        return data.load(name, data_dir=self.data_dir, flatten=flatten, fetch=self.fetch,
                         **kwargs)

    def sweep(self, build: Callable[[dict], Problem], grid: Grid, *, name: Optional[str] = None,
              **fit_kwargs) -> list:
        """:func:`nnjax.sweep.sweep` of ``grid`` into this study's resume store, with the
        context's progress setting; returns one record per static point, in grid order."""
        kwargs = {"progress": self.progress, **fit_kwargs}
        w = self.workers
        log = _stderr if w is not None and (w.count > 1 or w.reclaim) else None   # --shard
        return run_sweep(build, grid, self.store, name=name or self.study, fit_kwargs=kwargs,
                         epoch_log=self.epoch_log, workers=w, log=log)

    def fit(self, tag: str, model, config, train, val=None, test=None, **fit_kwargs):
        """:func:`nnjax.train.fit` with the context's progress setting and, under ``--log``,
        a per-epoch log of every run in ``out/logs/<tag>``. Under ``--shard`` only the
        first worker to get here trains it (:func:`nnjax.sweep.claims.once`); the others
        stop with :class:`~nnjax.sweep.claims.Pending`."""
        from nnjax.train import fit
        from nnjax.train.callbacks import callbacks_from_flag
        callbacks = callbacks_from_flag(self.epoch_log, self.out / "logs" / tag)

        def run():
            return fit(model, config, train, val, test, **{"progress": self.progress,
                                                           **fit_kwargs},
                       **({"callbacks": callbacks} if callbacks else {}))
        if self.workers is not None and self.workers.count > 1:   # --shard: one worker
            from nnjax.sweep.claims import once
            return once(self.store.root / ("fit-" + re.sub(r"[^A-Za-z0-9._=+-]+", "_", tag)),
                        self.workers, run)
        return run()

    def figure(self, filename: str) -> Path:
        """Path for a figure inside this study's output folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out / filename


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class StudyError(ValueError):
    """A study asked for with settings it cannot run (unknown preset, a bad override)."""


def resolve_settings(study: Study, preset: str, seeds: Optional[int] = None,
                     epochs: Optional[int] = None) -> dict:
    """The preset's settings with ``seeds``/``epochs`` overridden when given."""
    if preset not in study.presets:
        raise StudyError(f"{study.name}: unknown preset {preset!r}; choose one of"
                         f" {', '.join(sorted(p for p in study.presets if p != 'tiny'))}.")
    for flag, value in (("--seeds", seeds), ("--epochs", epochs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise StudyError(f"{flag} must be a whole number ≥ 1, got {value!r}.")
    settings = dict(study.presets[preset])
    if seeds is not None:
        settings["seeds"] = seeds
    if epochs is not None:
        settings["epochs"] = epochs
    return settings


def run_study(study: Study, out_root: Path, preset: Optional[str] = None, *,
              seeds=None, epochs=None, data_dir=None, progress=None, tiny=False,
              fetch=True, epoch_log=None, workers=None) -> Path:
    """Run ``study`` and write ``out_root/NAME/results.json``; returns that path."""
    preset = preset or study.default_preset
    settings = resolve_settings(study, preset, seeds, epochs)
    ctx = Context(study.name, preset, settings, Path(out_root) / study.name,
                  data_dir=data_dir, progress=progress, tiny=tiny, fetch=fetch,
                  epoch_log=epoch_log, workers=workers)
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


def summary_cells(label: str, summary: Mapping, published=None, fmt: str = ".4f") -> tuple:
    """The cells of a summary row, texts: ``(label, "IQM [Q1–Q3]", 95% CI (or, for fewer
    than 5 runs, every value: :func:`nnjax.analysis.stats.spread_text`), runs, published)``
    -- one row of :func:`headline`."""
    def f(v):
        return "—" if v is None else format(v, fmt)
    n = summary.get("n", 0)
    excl = summary.get("n_excluded", 0)
    runs = f"{n}" + (f" ({excl} diverged, excluded)" if excl else "")
    pub = "—" if published is None else (published if isinstance(published, str) else format(published, fmt))
    return (label, f"{f(summary.get('iqm'))} [{f(summary.get('q1'))}–{f(summary.get('q3'))}]",
            stats.spread_text(summary, fmt), runs, pub)


def table_row(cells) -> str:
    """A Markdown table row of ``cells`` (texts)."""
    return "| " + " | ".join(cells) + " |"


def summary_row(label: str, summary: Mapping, published=None, fmt: str = ".4f") -> str:
    """A Markdown table row: label | IQM [Q1–Q3] | 95% CI (or, for fewer than 5 runs, every
    value: :func:`nnjax.analysis.stats.spread_text`) | n | published."""
    return table_row(summary_cells(label, summary, published, fmt))


SUMMARY_HEADER = ("| configuration | ours: IQM [Q1–Q3] | 95% CI of IQM (n ≥ 5) or every value"
                  " | runs | published |\n"
                  "|---|---|---|---|---|")


def headline(study: Study, results: Mapping) -> list:
    """``[(label, ours, ci, runs, published)]`` (texts): the numbers a finished run prints.

    ``study.headline(results)`` when given; else every summary in ``results["summary"]``
    (a summary, or a mapping of them), beside its ``results["published"]`` value if any."""
    if study.headline is not None:
        return list(study.headline(results))
    published = results.get("published")
    published = published if isinstance(published, Mapping) else {}
    rows = []
    for label, summ in (results.get("summary") or {}).items():
        if isinstance(summ, Mapping) and "iqm" in summ:
            pub = published.get(label)
            rows.append(summary_cells(label, summ, pub if isinstance(pub, (int, float, str))
                                      else None))
        elif isinstance(summ, Mapping):
            rows += [summary_cells(f"{label}: {k}", v) for k, v in summ.items()
                     if isinstance(v, Mapping) and "iqm" in v]
    return rows


def headline_lines(study: Study, results: Mapping, limit: int = 12) -> list:
    """Plain-text lines: ``label: ours IQM [Q1–Q3]; 95% CI lo–hi; runs; published p``."""
    rows = headline(study, results)
    lines = [f"   {label}: {ours}; CI {ci}; n={runs}" + ("" if pub in ("—", "") else
                                                       f"; published {pub}")
             for label, ours, ci, runs, pub in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"   … {len(rows) - limit} more rows in `nnjax report`")
    return lines


def verdict(claim: str, holds: Optional[bool], evidence: str) -> str:
    """One Markdown line per conclusion of a source report: ``claim`` (the source's words),
    whether it holds in our data (``None``: not tested here) and ``evidence``, the numbers
    it rests on; a report computes ``holds`` and ``evidence`` from its results."""
    mark = {True: "holds", False: "does not hold", None: "not tested"}[holds]
    return f"- *{claim.rstrip('.')}*: **{mark}**. {evidence}"


def full_setting(study: Study, results: Mapping) -> bool:
    """Whether ``results`` ran one of the study's ``full_presets`` unchanged (no
    ``--seeds``/``--epochs`` override, not the 8×8 digits stand-in)."""
    preset = results.get("preset")
    if preset not in study.full_presets or preset not in study.presets or results.get("tiny"):
        return False
    return (results_lib.to_jsonable(dict(study.presets[preset]))
            == results_lib.to_jsonable(dict(results.get("settings") or {})))


RESULTS_BEGIN, RESULTS_END = "<!-- results-table:begin -->", "<!-- results-table:end -->"


def results_table(out: Path, studies: Mapping[str, Study],
                  sources: Optional[Mapping[str, str]] = None) -> str:
    """Markdown: per study with results in ``out``, the preset that ran, whether that is
    the source's full setting, and its first :func:`headline` row (ours beside published).
    Written from the results files only, so README and REPORT cannot drift from them."""
    sources = sources or {}
    lines = ["| study (source) | preset | source's full setting? | result | ours: IQM"
             " [Q1–Q3] | 95% CI (n ≥ 5) or every value | runs | published |",
             "|---|---|---|---|---|---|---|---|"]
    for name, study in studies.items():
        path = Path(out) / name / "results.json"
        if not path.exists():
            continue
        results = results_lib.read_json(path)
        rows = headline(study, results)
        label, ours, ci, runs, pub = rows[0] if rows else ("—",) * 5
        full = "yes" if full_setting(study, results) else "no"
        source = sources.get(study.seed_report, study.seed_report)
        lines.append(f"| `{name}` ({source}) | `{results.get('preset')}` | {full} | {label} |"
                     f" {ours} | {ci} | {runs} | {pub} |")
    return "\n".join(lines) + "\n"


def replace_results_table(text: str, table: str) -> str:
    """``text`` with the block between :data:`RESULTS_BEGIN` and :data:`RESULTS_END`
    replaced by ``table``; a ValueError when the markers are missing."""
    start, end = text.find(RESULTS_BEGIN), text.find(RESULTS_END)
    if start < 0 or end < start:
        raise ValueError(f"no {RESULTS_BEGIN} … {RESULTS_END} block to fill; add both"
                         " markers where the table should go.")
    return text[:start + len(RESULTS_BEGIN)] + "\n" + table + text[end:]


REPORT_INTRO = """# nnjax reproduction report

Built by `nnjax report` from the results in this folder ({when}). Each section shows
our numbers (IQM over seeds, quartiles, 95% stratified-bootstrap CI of the IQM) beside
the published ones, the figures, and the known faults of the original code that
explain a difference. IQM is the 25% trimmed mean (for 15 runs: the middle 9).
Every model was gradient-checked (manual backward against `jax.grad`, float64) before
training.
"""


def render_report(out: Path, studies: Optional[Mapping[str, Study]] = None, *,
                  intro: Optional[str] = None, sources: Optional[Mapping[str, str]] = None,
                  when: Optional[str] = None) -> str:
    """The Markdown of ``out/REPORT.md``, rendered from ``out/NAME/results.json`` of every
    study in ``studies`` (in order; default: every study :mod:`nnjax.studies` finds, with
    its folder's ``REPORT_INTRO`` and ``SOURCES``); studies without results are listed as
    not yet run. ``intro`` (may hold ``{when}``, default now) opens the report; ``sources``
    maps a study's ``seed_report`` tag to the report it reproduces, shown in its heading."""
    if studies is None:
        from nnjax import studies as finder
        studies = finder.discover()
        intro = intro or finder.folder_attribute("REPORT_INTRO")
        sources = sources or finder.folder_attribute("SOURCES")
    out = Path(out)
    sources = sources or {}
    parts = [(intro or REPORT_INTRO).format(when=when or time.strftime("%Y-%m-%d %H:%M"))]
    parts.append("## Summary\n\nThe first headline of every study (all of them in its"
                 " section):\n\n" + results_table(out, studies, sources))
    missing = []
    for name, study in studies.items():
        source = sources.get(study.seed_report, study.seed_report)
        path = out / name / "results.json"
        if not path.exists():
            missing.append(f"- `{name}` ({source}): not yet run —"
                           f" `nnjax run {name} --preset paper --out {out}`")
            continue
        results = results_lib.read_json(path)
        parts.append(f"## {study.title} (`{name}`, {source})\n")
        parts.append(f"Preset `{results.get('preset')}`"
                     + (" on the 8×8 digits stand-in (test mode)" if results.get("tiny") else "")
                     + f"; {results.get('seconds')} s; finished {results.get('finished')}.\n")
        parts.append(study.report(results).strip() + "\n")
        for fig in results.get("figures", []):
            parts.append(f"![{fig}]({name}/{fig})\n")
    if missing:
        parts.append("## Not yet run\n\n" + "\n".join(missing) + "\n")
    return "\n".join(parts)


def write_report(out: Path, studies: Optional[Mapping[str, Study]] = None, **kwargs) -> Path:
    """Write :func:`render_report` to ``out/REPORT.md``; returns its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return results_lib.write_bytes_atomic(out / "REPORT.md",
                                          render_report(out, studies, **kwargs).encode())
