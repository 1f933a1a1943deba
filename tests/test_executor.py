"""The executor: sequential vs a Dask LocalCluster, one trainer per key, killed workers."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from hwlib import executor
from hwlib import experiments as E
from hwlib.cli import main
from hwlib.errors import ClusterError, ConfigError
from hwlib.store import LOCKS, PID_FILE, TMP_PREFIX, RunStore

distributed = pytest.importorskip("distributed")

TINY = {"epochs": 1, "n_train": 100, "n_test": 50}


def tiny(name="mnist-base", **more):
    return E.get(name).with_overrides({**TINY, **more})


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes (one thread each), shared by the tests of this module. They are
    started without the tiny-data variables: the executor must send what the tasks need."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR) as c:
        with distributed.Client(c) as client:
            yield client


def temp_folders(store: Path) -> list[Path]:
    runs = store / "runs"
    return [p for p in runs.iterdir() if p.name.startswith(TMP_PREFIX)] if runs.is_dir() else []


def test_store_lock_waits_and_leaves_nothing(tmp_path):
    store = RunStore(tmp_path)
    waited, order = [], []
    with store.lock("k"):
        assert (tmp_path / LOCKS / "k").exists() and store.keys() == []

        def second():
            with store.lock("k", on_wait=lambda: waited.append(True)):
                order.append("second")

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("first")
    t.join(5)
    assert order == ["first", "second"] and waited == [True]
    assert list((tmp_path / LOCKS).iterdir()) == []  # removed on release
    (tmp_path / LOCKS / "k").write_text("")  # left by a holder that was killed: no obstacle
    with store.lock("k", on_wait=lambda: pytest.fail("nobody holds it")):
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


@pytest.mark.parametrize("spec, parsed", [
    ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
    ("node7:8786", "tcp://node7:8786"),
    ("local:3", "local:3"),
])
def test_scheduler_specs(spec, parsed):
    assert str(executor.parse_scheduler(spec)) == parsed


@pytest.mark.parametrize("spec, message", [
    ("local:0", "local:N needs a number of worker processes N >= 1"),
    ("local:two", "local:N needs a number of worker processes N >= 1"),
    ("http://host:8786", "use tcp://HOST:PORT"),
    ("host:99999", "use tcp://HOST:PORT"),
    ("", "use tcp://HOST:PORT"),
])
def test_bad_scheduler_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        executor.parse_scheduler(spec)


@pytest.mark.parametrize("spec, code, message", [
    ("local:0", 2, "Cannot read the scheduler 'local:0'"),
    ("tcp://127.0.0.1:1", 5, "Cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s"),
])
def test_scheduler_errors_are_one_paragraph(tiny_env, capsys, monkeypatch, spec, code, message):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", 1.0)
    argv = ["sweep", "mnist", "--set", "epochs=1", "--set", "n_train=100", "--scheduler", spec]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("hwlib: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (tiny_env / "runs").exists()  # nothing was trained
    with pytest.raises(ClusterError, match="Cannot reach"):
        executor.run_all([executor.Task(tiny())], tiny_env, scheduler=spec.replace("local:0", "127.0.0.1:1"),
                         timeout=0.5)


def test_cluster_results_match_sequential_ones(cluster, tiny_env, tiny_dir, tmp_path):
    tasks = [executor.Task(tiny(seed=0)), executor.Task(tiny(seed=1), weights=False),
             executor.Task(tiny("mnist-k3s2-same", seed=2), weights=False),
             executor.Task(tiny("mnist-k5s1-same", seed=0), weights=False)]  # = mnist-base seed 0
    here = executor.run_all(tasks, tmp_path / "here")
    lines = []
    there = executor.run_all(tasks, tiny_env, scheduler=cluster.scheduler.address,
                             data_dir=tiny_dir, log=lines.append)
    assert [r.key for r in there] == [r.key for r in here]
    assert [r.experiment.name for r in there] == [t.experiment.name for t in tasks]
    assert [r.trained for r in there] == [True, True, True, False]  # the same config: once
    assert sum("trained on tcp://" in line for line in lines) == 3
    for a, b in zip(here, there):  # bit-identical: the same floats, to the last digit
        assert (b.entry.path / "history.csv").read_bytes() == (a.entry.path / "history.csv").read_bytes()
        assert b.metrics == a.metrics
        assert b.entry.path.parent == tiny_env / "runs"
    assert there[0].entry.weights_path is not None and there[1].entry.weights_path is None
    # Everything is in the shared store; a second pass trains nothing.
    assert sorted(RunStore(tiny_env).keys()) == sorted({r.key for r in here})
    again = executor.run_all(tasks, tiny_env, scheduler=cluster.scheduler.address, data_dir=tiny_dir)
    assert not any(r.trained for r in again)


def test_same_key_on_two_workers_trains_once(cluster, tiny_env, tiny_dir):
    exp = tiny(epochs=30)
    w1, w2 = sorted(cluster.scheduler_info()["workers"])
    env = {"HWLIB_DATA_STRICT": "0", "HWLIB_NO_DOWNLOAD": "1"}
    futures = [cluster.submit(executor.train_task, exp, str(tiny_env), True, False, str(tiny_dir), env,
                              pure=False, workers=[w]) for w in (w1, w2)]
    a, b = cluster.gather(futures)
    assert a["key"] == b["key"] and {a["worker"], b["worker"]} == {w1, w2}
    assert sorted([a["trained"], b["trained"]]) == [False, True]
    waiter = a if not a["trained"] else b
    assert any("being trained by another process; waiting" in line for line in waiter["log"])
    assert any("trained by another process meanwhile" in line for line in waiter["log"])
    store = RunStore(tiny_env)
    assert store.keys() == [a["key"]]
    store.verify(a["key"])
    assert waiter["metrics"] == (a if a["trained"] else b)["metrics"]
    assert temp_folders(tiny_env) == [] and list((tiny_env / LOCKS).iterdir()) == []


def test_killed_worker_task_is_retried(cluster, tiny_env, tiny_dir):
    exp = tiny(epochs=200)
    result: dict = {}

    def drive():
        try:
            result["runs"] = executor.run_all([executor.Task(exp, weights=False)], tiny_env,
                                              scheduler=cluster.scheduler.address, data_dir=tiny_dir)
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    thread = threading.Thread(target=drive)
    thread.start()
    deadline = time.monotonic() + 60
    while not [p for p in temp_folders(tiny_env) if (p / PID_FILE).exists()]:
        assert time.monotonic() < deadline and thread.is_alive(), result
        time.sleep(0.05)
    folder = temp_folders(tiny_env)[0]
    pid = int((folder / PID_FILE).read_text().split()[0])
    assert pid in cluster.run(os.getpid).values()  # a worker process is training it
    time.sleep(1.0)
    assert folder.exists() and thread.is_alive()  # still training: the kill lands mid-task
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive() and "error" not in result, result
    (run,) = result["runs"]
    assert run.trained and len(run.history) == 200
    store = RunStore(tiny_env)
    assert store.keys() == [run.key]
    store.verify(run.key)
    assert not folder.exists() and temp_folders(tiny_env) == []  # cleaned by the retry's write
    assert store.clean_stale() == [] and list((tiny_env / LOCKS).iterdir()) == []
