"""Packaging: only `nnjax` is installed, the wheel says what it needs, `nnjax --version`,
and the `test` extra brings every third-party module the tests import."""
import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import nnjax
from nnjax.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FIRST_PARTY = {"nnjax", "experiments", "benchmarks", "tests", "conftest"}
MODULE_TO_DIST = {"sklearn": "scikit-learn", "PIL": "pillow", "yaml": "pyyaml"}


def _name(requirement: str) -> str:
    """The canonical distribution name of a requirement string ('scikit-learn>=1.3' -> ...)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


def test_only_nnjax_and_all_its_subpackages_are_found():
    setuptools = pytest.importorskip("setuptools")
    include = PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(setuptools.find_packages(where=str(ROOT), include=include))
    assert all(p == "nnjax" or p.startswith("nnjax.") for p in found), found
    folders = {".".join(d.relative_to(ROOT).parts) for d in (ROOT / "nnjax").rglob("*")
               if d.is_dir() and any(d.glob("*.py"))}
    assert found == folders | {"nnjax"}                  # no subpackage left out of the wheel
    assert {"experiments", "benchmarks"} <= {d.name for d in ROOT.iterdir() if d.is_dir()}


def test_wheel_holds_only_nnjax_and_states_python_license_and_extras(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (src / name).write_bytes((ROOT / name).read_bytes())
    for path in (ROOT / "nnjax").rglob("*.py"):
        dest = src / path.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(path.read_bytes())
    for folder in ("experiments", "benchmarks"):           # present, as in a checkout
        (src / folder).mkdir()
        (src / folder / "__init__.py").write_text("")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("nnjax-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(info).decode()
        entry = zf.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert {n.split("/")[0] for n in names} == {"nnjax", f"nnjax-{nnjax.__version__}.dist-info"}
    assert f"Version: {nnjax.__version__}\n" in meta
    assert "Requires-Python: >=3.11\n" in meta and "License-Expression: MIT\n" in meta
    assert "Provides-Extra: test\n" in meta and "Provides-Extra: dev\n" in meta
    assert "Requires-Dist: jax>=0.8.0\n" in meta
    assert "nnjax = nnjax.cli:entry" in entry
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"nnjax {nnjax.__version__}\n"
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nnjax.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", nnjax.__version__)


def _imported_modules() -> set:
    mods = set()
    for path in (ROOT / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                mods.add(node.args[0].value.split(".")[0])
    local = {p.stem for p in (ROOT / "tests").glob("*.py")}      # the tests' own helpers
    return mods - set(sys.stdlib_module_names) - FIRST_PARTY - local - {"__future__"}


def test_test_extra_and_dependencies_cover_every_module_the_tests_import():
    declared = {_name(r) for r in PROJECT["project"]["dependencies"]}
    declared |= {_name(r) for r in PROJECT["project"]["optional-dependencies"]["test"]}
    dists = importlib.metadata.packages_distributions()
    mods = _imported_modules()
    assert {"torch", "scipy", "pytest"} <= mods           # the scan sees what the tests use
    missing = {m for m in mods
               if not ({_name(d) for d in dists.get(m, [])} | {_name(MODULE_TO_DIST.get(m, m))})
               & declared}
    assert not missing, f"imported by tests but in no dependency or the test extra: {missing}"
    assert PROJECT["project"]["optional-dependencies"]["dev"] == ["nnjax[test]"]
    assert all(_name(r) != "torch" or r == "torch"
               for r in PROJECT["project"]["optional-dependencies"]["test"])  # torch unpinned


def test_license_is_mit():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert PROJECT["project"]["license"] == "MIT"
