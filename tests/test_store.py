"""The run store: atomic entries, manifests, stale temporary folders, permissions."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest

from hwlib import experiments as E
from hwlib.cli import main
from hwlib.errors import StoreError
from hwlib.store import FILES, LOCKS, MANIFEST, PID_FILE, TMP_PREFIX, RunStore, run_key
from hwlib.train import run


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


def test_store_lock_waits_for_its_holder(tmp_path):
    store = RunStore(tmp_path)
    waited, order = [], []
    with store.lock("k"):
        assert (tmp_path / LOCKS / "k").exists() and store.keys() == []

        def second():
            with store.lock("k", on_wait=lambda: waited.append(True)):
                order.append("second")

        t = threading.Thread(target=second)
        t.start()
        deadline = time.monotonic() + 60
        while not waited:  # the second is waiting for the lock (however slow the machine)
            assert time.monotonic() < deadline and t.is_alive()
            time.sleep(0.01)
        order.append("first")
    t.join(5)
    assert order == ["first", "second"] and waited == [True]
    assert store.keys() == []  # the lock file (in the git-ignored .locks/) is no entry
    with store.lock("k", on_wait=lambda: pytest.fail("nobody holds it")):  # released: free again
        pass



def test_clean_stale_with_concurrent_writers_and_other_hosts(tmp_path):
    import subprocess
    import sys

    store = RunStore(tmp_path)
    store.runs.mkdir(parents=True)
    fresh = store.runs / f"{TMP_PREFIX}k1-new"  # just made by another process's begin(), no .pid yet
    fresh.mkdir()
    remote = store.runs / f"{TMP_PREFIX}k2-abc"  # a worker on another machine trains k2
    remote.mkdir()
    (remote / PID_FILE).write_text("12345 some-other-host")
    (tmp_path / LOCKS).mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", str(tmp_path / LOCKS / "k2")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert store.clean_stale() == [] and fresh.exists() and remote.exists()
    finally:
        holder.kill()
        holder.wait()
    assert store.clean_stale() == [remote]  # its lock is free: that worker is gone
    old = time.time() - 120
    os.utime(fresh, (old, old))
    assert store.clean_stale() == [fresh]  # a minute without its .pid: a killed begin()



def test_prune_lists_then_deletes_only_older_code_versions(tiny_env, capsys):
    current = run(E.get("mnist-base").with_overrides({"epochs": 1, "n_train": 100, "n_test": 50}))
    old = tiny_env / "runs" / "0123456789abcdef"
    shutil.copytree(current.entry.path, old)
    config = json.loads((old / "config.json").read_text())
    config["train_code_version"] = "1"
    (old / "config.json").write_text(json.dumps(config))
    assert main(["store", "prune"]) == 0
    out = capsys.readouterr().out
    assert "would delete 0123456789abcdef  mnist-base  (training-code version 1)" in out
    assert old.exists() and current.entry.path.exists()
    assert main(["store", "prune", "--yes"]) == 0
    assert not old.exists() and current.entry.path.exists()
    assert RunStore().keys() == [current.key]
    assert main(["store", "prune"]) == 0
    assert "nothing to prune" in capsys.readouterr().out
