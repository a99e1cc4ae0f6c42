"""Every number of results/REPORT.md and of README's results table is what the committed
results say: both are rendered again from results/*/results.json and compared."""
import re
from pathlib import Path

import pytest

from nnjax import studies as finder
from nnjax.analysis import stats
from nnjax.study import (RESULTS_BEGIN, RESULTS_END, Study, full_setting, headline,
                         render_report, replace_results_table, results_table, summary_cells,
                         summary_row, table_row, verdict)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
WHEN = re.compile(r"\(\d{4}-\d\d-\d\d \d\d:\d\d\)")


def _studies():
    folders = [ROOT / "experiments"]
    return (finder.discover(finder.search_path(folders)),
            finder.folder_attribute("REPORT_INTRO", None, folders),
            finder.folder_attribute("SOURCES", {}, folders))


def test_report_is_what_the_results_say():
    studies, intro, sources = _studies()
    fresh = render_report(RESULTS, studies, intro=intro, sources=sources, when="WHEN")
    committed = WHEN.sub("(WHEN)", (RESULTS / "REPORT.md").read_text(), count=1)
    assert committed == fresh, "run `nnjax report --out results --readme README.md`"


def test_readme_table_is_what_the_results_say():
    studies, _, sources = _studies()
    readme = (ROOT / "README.md").read_text()
    table = results_table(RESULTS, studies, sources)
    assert replace_results_table(readme, table) == readme, \
        "run `nnjax report --out results --readme README.md`"
    assert readme.count("| `") >= len(studies) - 1      # a row per study with results


def test_fewer_than_five_runs_give_every_value_not_a_ci():
    few = stats.summary([0.5, 0.7, 0.6], n_boot=200)
    assert few["ci_low"] is None and few["ci_high"] is None
    assert stats.spread_text(few, ".2f") == "n=3: 0.50, 0.70, 0.60"
    five = stats.summary([0.5, 0.7, 0.6, 0.55, 0.65], n_boot=200)
    assert five["ci_low"] <= five["iqm"] <= five["ci_high"] and five["ci_low"] < five["ci_high"]
    assert stats.spread_text(five, ".2f") == f"{five['ci_low']:.2f}–{five['ci_high']:.2f}"
    # a stored summary from before the rule, with a CI over 2 runs, shows the values
    old = {"n": 2, "iqm": 0.6, "q1": 0.5, "q3": 0.7, "ci_low": 0.5, "ci_high": 0.7,
           "values": [0.5, None, 0.7]}
    assert "0.5000–0.7000 |" not in summary_row("x", old)
    assert "| n=2: 0.5000, 0.7000 |" in summary_row("x", old)


def test_every_study_names_its_headline_and_the_default_reads_results_only():
    studies, _, _ = _studies()
    assert [n for n, s in studies.items() if s.headline is None] == []
    s = stats.summary([0.5, 0.7, 0.6], n_boot=200)
    cells = summary_cells("acc", s, 0.9)
    assert cells == ("acc", "0.6000 [0.5500–0.6500]", "n=3: 0.5000, 0.7000, 0.6000", "3",
                     "0.9000")
    assert table_row(cells) == summary_row("acc", s, 0.9)
    # no headline: every summary (or mapping of them), beside its published number if any;
    # the report's text is not read
    bare = Study("bare", "mine", "t", {"quick": {}}, lambda ctx: {},
                 lambda r: "| x | 1 [0–2] | — | 1 | 3 |")
    res = {"summary": {"acc": s, "per width": {"4": s, "note": "text"}},
           "published": {"acc": 0.9, "per width": {"4": 0.8}}}
    assert headline(bare, res) == [cells, summary_cells("per width: 4", s)]
    assert headline(bare, {}) == []


def test_full_setting_only_for_a_full_preset_run_unchanged():
    studies, _, _ = _studies()
    study = studies["mnist-mlp"]
    paper = dict(study.presets["paper"])
    assert full_setting(study, {"preset": "paper", "settings": paper})
    assert not full_setting(study, {"preset": "paper", "settings": {**paper, "epochs": 5}})
    assert not full_setting(study, {"preset": "quick", "settings": dict(study.presets["quick"])})
    assert not full_setting(study, {"preset": "paper", "settings": paper, "tiny": True})


def test_results_table_markers_and_verdicts():
    with pytest.raises(ValueError, match="results-table:begin"):
        replace_results_table("no markers here", "| t |\n")
    text = f"a\n{RESULTS_BEGIN}\nold\n{RESULTS_END}\nb"
    assert replace_results_table(text, "| t |\n") == f"a\n{RESULTS_BEGIN}\n| t |\n{RESULTS_END}\nb"
    assert verdict("Adam is best.", False, "SGD 0.97 vs Adam 0.96") == \
        "- *Adam is best*: **does not hold**. SGD 0.97 vs Adam 0.96"


def test_results_hold_no_path_of_the_machine_that_ran_them(monkeypatch, tmp_path):
    from nnjax.provenance import portable_argv
    monkeypatch.chdir(tmp_path)
    argv = [str(tmp_path / "venv" / "nnjax" / "cli.py"), "run", "x", "--out",
            str(tmp_path / "results"), str(Path.home() / "data"), "/opt/x", "rel/y"]
    assert portable_argv(argv) == ["nnjax/cli.py", "run", "x", "--out", "results",
                                   "~/data", "/opt/x", "rel/y"]
    argv = re.compile(r'"argv": \[([^\]]*)\]')
    leaked = [p for p in RESULTS.rglob("*.json")
              if any('"/' in m for m in argv.findall(p.read_text()))]
    assert not leaked, f"absolute paths of the machine that ran them in {leaked[:3]}"
