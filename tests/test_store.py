"""The run store: atomic entries, manifests, stale temporary folders, permissions."""

from __future__ import annotations

import json

import pytest

from hwlib.errors import StoreError
from hwlib.store import FILES, MANIFEST, PID_FILE, RunStore, run_key


def fill(tmp):
    for name in FILES:
        (tmp / name).write_text(json.dumps({"file": name}))


def test_commit_is_atomic_and_verified(tmp_path):
    store = RunStore(tmp_path)
    assert store.get("abc") is None
    tmp = store.begin("abc")
    assert tmp.parent == store.runs and tmp.name.startswith(".tmp-abc-")
    assert store.keys() == []  # a half-written entry is not an entry
    fill(tmp)
    entry = store.commit("abc", tmp)
    assert not tmp.exists() and entry.path == store.path("abc")
    assert set(json.loads((entry.path / MANIFEST).read_text())) == set(FILES)
    assert not (entry.path / PID_FILE).exists()
    assert store.get("abc").key == "abc" and store.keys() == ["abc"]
    assert store.get("abc", need_weights=True) is None  # stored without weights


def test_incomplete_entries_are_refused(tmp_path):
    store = RunStore(tmp_path)
    tmp = store.begin("k")
    (tmp / "config.json").write_text("{}")
    with pytest.raises(StoreError, match="history.csv, metrics.json, provenance.json missing"):
        store.commit("k", tmp)


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "metrics.json").write_text('{"test_accuracy": 0.99}'), "metrics.json does not match its checksum"),
    (lambda p: (p / "history.csv").unlink(), "lacks history.csv"),
    (lambda p: (p / "extra.txt").write_text("x"), "holds extra.txt, which its manifest does not list"),
    (lambda p: (p / MANIFEST).write_text("{oops"), "has no readable MANIFEST.json"),
])
def test_edited_entries_are_detected(tmp_path, damage, message):
    store = RunStore(tmp_path)
    tmp = store.begin("k")
    fill(tmp)
    entry = store.commit("k", tmp)
    damage(entry.path)
    with pytest.raises(StoreError, match=message) as err:
        store.get("k")
    assert "Delete the folder" in str(err.value)


def test_stale_temporary_folders_are_cleaned(tmp_path):
    store = RunStore(tmp_path)
    dead = store.begin("dead")
    (dead / PID_FILE).write_text("999999999")  # no such process
    assert store.clean_stale() == [dead] and not dead.exists()
    alive = store.begin("alive")  # ours: this process is alive
    assert store.clean_stale() == [] and alive.exists()


def test_unwritable_store_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="Cannot create the run store .*Point --store or HWLIB_STORE"):
        RunStore(blocker / "store").begin("k")


def test_run_key_covers_config_data_code_and_runtime():
    k = run_key({"a": 1}, "fp", "1", {"threads": 1})
    assert len(k) == 16
    assert k == run_key({"a": 1}, "fp", "1", {"threads": 1})
    assert len({k, run_key({"a": 2}, "fp", "1", {"threads": 1}), run_key({"a": 1}, "fp2", "1", {"threads": 1}),
                run_key({"a": 1}, "fp", "2", {"threads": 1}), run_key({"a": 1}, "fp", "1", {"threads": 2})}) == 5
