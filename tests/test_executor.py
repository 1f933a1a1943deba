"""The executor: local worker processes and a Dask LocalCluster give the runs trained alone; one
trainer per key; killed workers; Ctrl-C stops every worker and stores nothing."""

from __future__ import annotations

import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hwlib import executor, runtime
from hwlib import experiments as E
from hwlib.cli import main
from hwlib.errors import ClusterError, ConfigError, StoreError
from hwlib.executor import Task, run_all, schedule
from hwlib.store import PID_FILE, TMP_PREFIX, RunStore
from hwlib.train import run

from conftest import deliver_sigint, tiny_command_env

distributed = pytest.importorskip("distributed")

TINY = {"epochs": 1, "n_train": 100, "n_test": 50}


def tiny(name="mnist-base", variant="stated", **more):
    return E.prepare(name, "full", variant).with_overrides({**TINY, **more})


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
        executor.run_all([executor.Task(tiny())], tiny_env, scheduler=spec.replace("local:0", "127.0.0.1:1"))


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
    assert sum(line.startswith("tcp://") and ": training run " in line for line in lines) == 3
    assert "3/3 runs trained" in lines[-1]
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
    assert a["key"] == b["key"] and sorted([a["trained"], b["trained"]]) == [False, True]
    waiter = a if not a["trained"] else b
    assert any("being trained by another process; waiting" in line for line in waiter["log"])
    assert any("trained by another process meanwhile" in line for line in waiter["log"])
    assert {line.split(": ")[0] for line in a["log"] + b["log"]} == {w1, w2}  # each line after its worker
    store = RunStore(tiny_env)
    assert store.keys() == [a["key"]]
    store.verify(a["key"])
    assert temp_folders(tiny_env) == []
    with store.lock(a["key"], on_wait=lambda: pytest.fail("the lock is still held")):
        pass


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
    assert store.clean_stale() == []
    with store.lock(run.key, on_wait=lambda: pytest.fail("the lock is still held")):
        pass


# -- local worker processes -------------------------------------------------------------------
def test_workers_train_the_same_runs_as_training_alone(tiny_env, tmp_path):
    exps = [tiny("mnist-base", "original", epochs=2), tiny("cifar10-base", "original", epochs=2),
            tiny("mnist-l2", epochs=2)]
    lines: list[str] = []
    pooled = run_all([Task(e) for e in exps], tmp_path / "pool", workers=2, log=lines.append)
    alone = [run(e, tmp_path / "alone") for e in exps]
    for a, b in zip(pooled, alone):  # the same history and weights, to the bit
        assert a.key == b.key and a.history.equals(b.history)
        for x, y in zip(a.load_model().get_weights(), b.load_model().get_weights()):
            np.testing.assert_array_equal(x, y)
    # each worker with its share of the cores as inter-op threads; alone, both of this process's
    share = runtime.inter_op_threads(2, len(os.sched_getaffinity(0)))
    assert {r.provenance["threads"]["inter_op"] for r in pooled} == {share}
    assert {r.provenance["threads"]["inter_op"] for r in alone} == {runtime.INTER_OP_MAX}
    # the workers run on jemalloc where it is installed (identical results, asserted above); alone, on libc's malloc
    assert {r.provenance["malloc"] for r in pooled} == {"jemalloc" if ctypes.util.find_library("jemalloc") else "libc"}
    assert {r.provenance["malloc"] for r in alone} == {"libc"}
    assert any("3 run(s) to train on 2 worker process(es)" in line for line in lines)
    assert any(line.startswith("mnist-l2 seed 0 [") and "epoch   2/2" in line for line in lines)
    assert "3/3 runs trained" in lines[-1]
    again: list[str] = []  # all stored now: nothing is started
    assert [r.key for r in run_all([Task(e) for e in exps], tmp_path / "pool", log=again.append)] == \
        [r.key for r in pooled]
    assert not any("to train" in line for line in again)



def test_workers_take_the_longest_runs_first():
    tasks = [Task(tiny(name)) for name in ("mnist-base", "cifar10-base", "mnist-l2", "cifar10-l2")]
    assert schedule(tasks, [5.0, 30.0, 5.0, 40.0]) == [3, 1, 0, 2]
    tiered = [Task(t.experiment, tier=tier) for t, tier in zip(tasks, (0, 1, 0, 1))]  # a study's groups first
    assert schedule(tiered, [5.0, 30.0, 6.0, 40.0]) == [2, 0, 3, 1]



def test_bad_worker_counts(tiny_env, capsys):
    with pytest.raises(ConfigError, match="worker processes must be a whole number >= 1, got 0"):
        run_all([Task(tiny())], workers=0)
    with pytest.raises(SystemExit):
        main(["sweep", "mnist", "--workers", "0"])
    assert "the number of worker processes must be at least 1, got 0" in capsys.readouterr().err



@pytest.mark.parametrize("reaped_late", [False, True])
def test_a_dead_local_worker_is_reported_and_the_others_stopped(tiny_env, tmp_path, monkeypatch, reaped_late):
    store = tmp_path / "store"
    if reaped_late:  # as while the pool's own thread reaps it: the pool is broken before the death reads
        from multiprocessing.popen_fork import Popen

        poll, reads = Popen.poll, {}

        def late(popen, flag=os.WNOHANG):
            code = poll(popen, flag)
            reads[popen.pid] = reads.get(popen.pid, 0) + (code is not None)
            return code if reads[popen.pid] > 20 else None
        monkeypatch.setattr(Popen, "poll", late)

    def kill_a_worker_mid_run() -> None:
        deadline = time.monotonic() + 120
        while len([p for p in temp_folders(store) if (p / PID_FILE).exists()]) < 2:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(int((temp_folders(store)[0] / PID_FILE).read_text().split()[0]), signal.SIGKILL)

    killer = threading.Thread(target=kill_a_worker_mid_run)
    killer.start()
    with pytest.raises(StoreError, match=r"A training process died \(exit code -9: killed, or out of memory\)"):
        run_all([Task(tiny(seed=s, epochs=300), weights=False) for s in (0, 1)], store, workers=2)
    killer.join()
    assert temp_folders(store) == [] and RunStore(store).keys() == []  # the other one stopped, cleaned up



def _linger_in_the_store(store: str, ready) -> None:
    """A worker that ignores Ctrl-C while it holds a temporary folder in ``store``."""
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    RunStore(store).begin("0123456789abcdef")
    ready.set()
    time.sleep(600)



def test_stopping_kills_a_lingering_worker_and_removes_its_folder(tmp_path, monkeypatch):
    import multiprocessing

    monkeypatch.setattr(executor, "STOP_GRACE", 1.0)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    worker = ctx.Process(target=_linger_in_the_store, args=(str(tmp_path), ready), daemon=True)
    worker.start()
    assert ready.wait(120)
    assert [p.name[:21] for p in (tmp_path / "runs").iterdir()] == [".tmp-0123456789abcdef"]
    executor._stop([worker], RunStore(tmp_path))
    assert not worker.is_alive() and worker.exitcode == -signal.SIGKILL
    assert list((tmp_path / "runs").iterdir()) == []



def _processes_with(variable: str) -> list[int]:
    """The pids of the processes whose environment holds ``variable`` (NAME=value)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and variable.encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            pass
    return found



@pytest.mark.parametrize("to_group", [False, True, "kill"], ids=["main-process", "process-group", "kill-9"])
def test_ctrl_c_stops_every_worker_and_stores_nothing(tmp_path, tiny_dir, to_group):
    """Ctrl-C at a terminal reaches the whole process group; `kill -INT` only the main one."""
    import time

    store = tmp_path / "store"
    marker = f"{os.getpid()}-{to_group}"  # inherited by the workers: find them by it
    env = tiny_command_env(tiny_dir, HWLIB_TEST_MARK=marker)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwlib.cli", "sweep", "mnist", "--workers", "2", "--store", str(store),
         "--set", "epochs=300", "--set", "n_train=200", "--set", "n_test=100"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        preexec_fn=deliver_sigint)
    deadline = time.monotonic() + 180
    for line in proc.stdout:
        if "epoch   2/300" in line:
            break
        assert time.monotonic() < deadline, "no epoch reported"
    assert len(_processes_with(f"HWLIB_TEST_MARK={marker}")) >= 3  # the command, two workers (a resource tracker)
    if to_group == "kill":  # the command killed outright: its workers must not train on, orphaned
        proc.kill()
        proc.communicate(timeout=60)
        for _ in range(50):
            if not _processes_with(f"HWLIB_TEST_MARK={marker}"):
                break
            time.sleep(0.2)
        assert _processes_with(f"HWLIB_TEST_MARK={marker}") == []
        return
    if to_group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130 and "interrupted; nothing half-written was stored" in rest, rest
    assert "Traceback" not in rest
    runs = store / "runs"
    assert [p.name for p in runs.iterdir()] == []  # no entry, and the workers removed their folders
    assert _processes_with(f"HWLIB_TEST_MARK={marker}") == []  # no worker left behind
