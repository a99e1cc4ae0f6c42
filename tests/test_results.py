"""nnjax.results: atomic writes, corrupt files never read as results, resumable grids."""
import dataclasses
import json
import math
import os
from typing import NamedTuple

import numpy as np
import pytest

from nnjax import results as R


class Pair(NamedTuple):
    w: np.ndarray
    b: float


@dataclasses.dataclass(frozen=True)
class Cfg:
    lr: float
    widths: tuple


def test_json_roundtrip_numpy_nan_inf(tmp_path):
    import jax.numpy as jnp
    rec = {"acc": np.float32(0.5), "n": np.int64(3), "ok": np.bool_(True),
           "curve": np.array([[0.1, np.nan], [np.inf, -np.inf]]),
           "jax": jnp.arange(3), "nan": float("nan"), "pair": Pair(np.ones(2), 2.0),
           "cfg": Cfg(1e-3, (64, 32)), "path": tmp_path, np.int64(7): "int key"}
    path = R.write_json_atomic(tmp_path / "r.json", rec)
    text = path.read_text()
    json.loads(text)                               # strict JSON: no bare NaN tokens
    assert "NaN" in text and "Infinity" in text and "-Infinity" in text
    back = R.read_json(path)
    assert back["acc"] == 0.5 and back["n"] == 3 and back["ok"] is True
    c = np.asarray(back["curve"])
    assert c[0, 0] == 0.1 and math.isnan(c[0, 1]) and c[1, 0] == np.inf and c[1, 1] == -np.inf
    assert back["jax"] == [0, 1, 2] and math.isnan(back["nan"])
    assert back["pair"] == {"w": [1.0, 1.0], "b": 2.0}
    assert back["cfg"] == {"lr": 1e-3, "widths": [64, 32]} and back["7"] == "int key"
    assert back["path"] == str(tmp_path)
    # writing the read-back record again gives the same bytes (stable round trip)
    assert R.dumps(back) == R.dumps(R.read_json(R.write_json_atomic(tmp_path / "s.json", back)))


def test_unencodable_value_fails_before_touching_disk(tmp_path):
    with pytest.raises(TypeError, match=r"value\['bad'\].*object"):
        R.write_json_atomic(tmp_path / "x.json", {"bad": object()})
    with pytest.raises(TypeError, match="complex"):
        R.write_json_atomic(tmp_path / "x.json", {"z": np.array([1j])})
    with pytest.raises(TypeError, match="would both be '1'"):
        R.dumps({"1": 0, 1: 1})
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "a.json"
    R.write_json_atomic(p, {"v": 1})
    R.write_json_atomic(p, {"v": 2})
    assert R.read_json(p) == {"v": 2}
    assert sorted(x.name for x in p.parent.iterdir()) == ["a.json"]


def test_crash_during_write_keeps_old_file(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    R.write_json_atomic(p, {"v": 1})

    def crash(*a):
        raise KeyboardInterrupt                    # power cut / Ctrl-C before the rename
    monkeypatch.setattr(R.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        R.write_json_atomic(p, {"v": 2})
    monkeypatch.undo()
    assert R.read_json(p) == {"v": 1}
    assert [x.name for x in tmp_path.iterdir()] == ["a.json"]    # temp cleaned up


def test_store_save_load_keys(tmp_path):
    store = R.ResultStore(tmp_path)
    keys = ["lr=0.01 seed=3", "lr=0.01/seed=3", "../../etc/passwd", "ü" * 200]
    for i, k in enumerate(keys):
        store.save(k, {"i": i, "x": np.float64(np.nan)})
    names = {store.path(k).name for k in keys}
    assert len(names) == 4                         # same sanitised stem, different hashes
    assert all(store.path(k).parent == tmp_path for k in keys)
    assert sorted(store.keys()) == sorted(keys)
    assert store.load(keys[1])["i"] == 1 and math.isnan(store.load(keys[1])["x"])
    assert store.records()[keys[3]]["i"] == 3
    assert store.has(keys[0]) and not store.has("other")
    with pytest.raises(KeyError, match="other"):
        store.load("other")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        store.save(keys[0], {"i": 9})
    store.save(keys[0], {"i": 9}, overwrite=True)
    assert store.load(keys[0]) == {"i": 9}
    with pytest.raises(TypeError, match="non-empty str"):
        store.path("")


def test_leftover_temp_and_truncated_file_are_never_results(tmp_path):
    store = R.ResultStore(tmp_path)
    store.save("a", {"v": 1})
    store.save("b", {"v": 2})
    # a crash mid-write leaves a temp file: ignored
    tmp = tmp_path / f".{store.path('c').name}.123-abcd.tmp"
    tmp.write_text('{"format": "nnjax.result/1", "key": "c", "rec')
    # a final file truncated by a disk problem: not read as a result
    full = store.path("b").read_text()
    store.path("b").write_text(full[: len(full) // 2])
    assert not store.has("c")
    with pytest.warns(UserWarning, match="corrupt"):
        assert store.keys() == ["a"]
    assert store.corrupt() == [store.path("b")]
    with pytest.raises(R.CorruptResultError, match=store.path("b").name) as e:
        store.load("b")
    assert e.value.path == store.path("b")
    # valid JSON but not a result record, or a record under another key
    store.path("b").write_text('{"v": 2}')
    with pytest.raises(R.CorruptResultError, match="format"):
        store.load("b")
    os.replace(store.path("a"), store.path("b"))
    with pytest.raises(R.CorruptResultError, match="holds key 'a'"):
        store.load("b")


def test_overwriting_a_corrupt_file_keeps_a_backup(tmp_path):
    store = R.ResultStore(tmp_path)
    store.path("k").write_text("{truncated")
    store.save("k", {"v": 1}, overwrite=True)
    backup = store.path("k").with_name(store.path("k").name + ".corrupt")
    assert backup.read_text() == "{truncated" and store.load("k") == {"v": 1}


def test_run_grid_skips_finished_and_resumes_after_crash(tmp_path):
    store = R.ResultStore(tmp_path)
    grid = [(f"cfg{i}", {"i": i}) for i in range(5)]
    calls = []

    def flaky(cfg):
        calls.append(cfg["i"])
        if cfg["i"] == 3 and calls.count(3) == 1:
            raise RuntimeError("killed mid-grid")
        return {"score": np.float32(cfg["i"] / 10), "curve": np.arange(cfg["i"])}

    with pytest.raises(RuntimeError):
        R.run_grid(store, grid, flaky)
    assert sorted(store.keys()) == ["cfg0", "cfg1", "cfg2"]     # in-flight cfg3 lost only
    skipped = []
    out = R.run_grid(store, grid, flaky, on_skip=lambda k, r: skipped.append(k))
    assert skipped == ["cfg0", "cfg1", "cfg2"]
    assert calls == [0, 1, 2, 3, 3, 4]                          # each finished exactly once
    assert [r["curve"] for r in out] == [list(range(i)) for i in range(5)]
    assert out[4]["score"] == pytest.approx(0.4)
    # a third pass runs nothing and returns the same records
    assert R.run_grid(store, dict(grid), flaky) == out and len(calls) == 6


def test_run_grid_corrupt_policy(tmp_path):
    store = R.ResultStore(tmp_path)
    grid = [("a", 1), ("b", 2)]
    R.run_grid(store, grid, lambda c: {"v": c})
    store.path("b").write_text('{"format": "nnjax.result/1", "key": "b", "reco')
    ran = []
    with pytest.raises(R.CorruptResultError, match=store.path("b").name):
        R.run_grid(store, grid + [("c", 3)], lambda c: ran.append(c) or {"v": c})
    assert ran == []                                            # stopped before running
    with pytest.warns(UserWarning, match="running 'b' again"):
        out = R.run_grid(store, grid, lambda c: ran.append(c) or {"v": c}, on_corrupt="rerun")
    assert ran == [2] and out == [{"v": 1}, {"v": 2}]
    assert (tmp_path / (store.path("b").name + ".corrupt")).exists()


def test_run_grid_rejects_duplicate_keys(tmp_path):
    with pytest.raises(ValueError, match="repeated"):
        R.run_grid(R.ResultStore(tmp_path), [("a", 1), ("a", 2)], lambda c: c)


def test_checkpoint_roundtrip_with_optax_state_and_keys(tmp_path):
    import jax
    import jax.numpy as jnp
    import optax
    params = Pair(jnp.arange(6.0).reshape(2, 3), jnp.float32(0.5))
    state = {"params": params, "opt": optax.adam(1e-3).init(params),
             "key": jax.random.split(jax.random.key(0), 3), "epoch": 7}
    R.save_checkpoint(tmp_path / "ck.msgpack", state)
    template = {"params": Pair(jnp.zeros((2, 3)), jnp.float32(0)),
                "opt": optax.adam(1e-3).init(params),
                "key": jax.random.split(jax.random.key(1), 3), "epoch": 0}
    back = R.load_checkpoint(tmp_path / "ck.msgpack", template)
    assert isinstance(back["params"], Pair) and back["epoch"] == 7
    np.testing.assert_array_equal(back["params"].w, params.w)
    assert bool(jnp.all(jax.random.key_data(back["key"]) == jax.random.key_data(state["key"])))
    assert jax.tree.structure(back) == jax.tree.structure(state)
    data = (tmp_path / "ck.msgpack").read_bytes()
    (tmp_path / "bad.msgpack").write_bytes(data[: len(data) // 2])
    with pytest.raises(R.CorruptResultError, match="bad.msgpack"):
        R.load_checkpoint(tmp_path / "bad.msgpack", template)


def test_json_digest_is_pinned_since_it_names_resume_stores():
    from nnjax.results import json_digest
    v = {"b": np.float32(0.5), "a": [1, None, True]}
    # canonical: key order and NumPy scalars do not matter; these texts name stored folders
    assert json_digest(v) == json_digest({"a": [1, None, True], "b": 0.5}) == "fe227fc9854e"
    assert json_digest([v, False], 10, compact=False) == "5878d28e09"   # a study's settings
