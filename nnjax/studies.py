"""Finding studies by path: ``nnjax run NAME|FILE.py``, ``nnjax list``, ``nnjax report``.

A study is a ``.py`` file defining ``STUDY = Study(...)`` (:mod:`nnjax.study`). Where they
are looked for, in order: a ``FILE.py`` given by path; the folders of ``--studies DIR``;
the folders in ``$NNJAX_STUDIES`` (``os.pathsep``-separated); ``./experiments``; the
built-in studies of the nnjax repository (its ``experiments/`` beside the package, when
present). A folder is imported as a package under a private name (``_nnjax_studies_<hash>``)
so that its files may import their shared helpers relatively (``from . import _common``)
and no package of the user's named ``experiments`` can shadow ours. A folder's
``__init__.py`` may set ``ORDER`` (module names) to order its studies; files starting
with ``_`` are helpers, not studies. nnjax imports nothing from the applications by name.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Iterable, Optional, Sequence

from nnjax.study import Study, StudyError

BUILTIN = Path(__file__).resolve().parent.parent / "experiments"


def search_path(extra: Sequence = ()) -> list:
    """The study folders, in lookup order (existing ones, each once)."""
    env = [p for p in os.environ.get("NNJAX_STUDIES", "").split(os.pathsep) if p]
    found = []
    for folder in [*extra, *env, Path.cwd() / "experiments", BUILTIN]:
        folder = Path(folder).resolve()
        if folder.is_dir() and folder not in found:
            found.append(folder)
    return found


def _package(folder: Path) -> str:
    """Import ``folder`` as a package under a private name; returns that name."""
    name = "_nnjax_studies_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    if name not in sys.modules:
        init = folder / "__init__.py"
        spec = importlib.util.spec_from_file_location(
            name, init if init.exists() else None, submodule_search_locations=[str(folder)])
        if spec is None:                             # a folder without __init__.py
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = [str(folder)]
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        if spec.loader is not None:
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
    return name


def _module(path: Path):
    package = _package(path.parent)
    try:
        return importlib.import_module(f"{package}.{path.stem}")
    except ImportError as err:
        raise StudyError(f"{path}: cannot be imported ({err}); fix it or move it out of"
                         f" the study folder.") from err


def load_file(path) -> Study:
    """The ``STUDY`` of one study file (imported inside its folder's private package)."""
    path = Path(path).resolve()
    if not path.is_file() or path.suffix != ".py":
        raise StudyError(f"no study file {str(path)!r} (give a .py file that defines STUDY).")
    study = getattr(_module(path), "STUDY", None)
    if not isinstance(study, Study):
        raise StudyError(f"{path.name} defines no STUDY = nnjax.study.Study(...).")
    return study


def _files(folder: Path) -> list:
    order = list(getattr(sys.modules.get(_package(folder)), "ORDER", ()))
    files = [p for p in folder.glob("*.py") if not p.name.startswith("_")]
    rank = {name: i for i, name in enumerate(order)}
    return sorted(files, key=lambda p: (rank.get(p.stem, len(rank)), p.stem))


def discover(folders: Optional[Iterable] = None) -> dict:
    """``{name: Study}`` of every study file in ``folders`` (default :func:`search_path`);
    the first folder wins when two define the same name."""
    found = {}
    for folder in (search_path() if folders is None else [Path(f).resolve() for f in folders]):
        for path in _files(folder):
            study = getattr(_module(path), "STUDY", None)   # other files are not studies
            if isinstance(study, Study):
                found.setdefault(study.name, study)
    return found


def _by_file_name(name: str, folders: Sequence):
    """The study ``name`` from the file named after it (``mnist-mlp`` → ``mnist_mlp.py``)
    in the first study folder, when that file defines it; else None (then :func:`find`
    imports every study, :func:`discover`). Saves importing the other studies at start-up.
    (A folder in which two files define the same study name is ambiguous; there the file
    named after the study wins.)"""
    stem = name.replace("-", "_")
    if not folders or not stem.isidentifier() or stem.startswith("_"):
        return None
    path = Path(folders[0]) / f"{stem}.py"
    if not path.is_file():
        return None
    study = getattr(_module(path), "STUDY", None)
    return study if isinstance(study, Study) and study.name == name else None


def find(name_or_path: str, folders: Sequence = ()) -> Study:
    """A study by name (searched in ``folders`` then :func:`search_path`) or by the path of
    its file (``*.py``)."""
    if name_or_path.endswith(".py") or os.sep in name_or_path:
        return load_file(name_or_path)
    quick = _by_file_name(name_or_path, search_path(folders))
    if quick is not None:
        return quick
    everything = discover(search_path(folders))
    if name_or_path not in everything:
        raise StudyError(f"unknown study {name_or_path!r}; `nnjax list` shows:"
                         f" {', '.join(everything) or 'none'} (or give the path of a study file).")
    return everything[name_or_path]


def folder_attribute(attr: str, default=None, folders: Sequence = ()):
    """``attr`` of the first study folder's package that sets it (e.g. ``REPORT_INTRO``,
    ``SOURCES`` of the built-in studies), else ``default``."""
    for folder in search_path(folders):
        value = getattr(sys.modules.get(_package(folder)), attr, None)
        if value is not None:
            return value
    return default
