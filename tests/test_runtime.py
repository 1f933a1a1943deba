"""The TensorFlow runtime of every training process: threads (a run is the same on any core count
and any inter-op pool), seeds, deterministic ops, deferred interrupts, exiting without a teardown."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hwlib import runtime
from hwlib.store import RunStore
from hwlib.train import DEFAULT_ENGINE

from conftest import tiny_command_env

TINY = {"epochs": 2, "n_train": 120, "n_test": 50}


def test_import_hwlib_fixes_the_thread_pools():
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1" and os.environ["TF_NUM_INTEROP_THREADS"] == "2"
    assert runtime.THREADS == {"intra_op": 1, "inter_op": 2}
    assert DEFAULT_ENGINE.key_settings()["threads"] == runtime.RESULT_THREADS == {"intra_op": 1}


def _configure_after_tensorflow_started_with(threads: str) -> str:
    """What :func:`hwlib.runtime.configure` prints in a process whose TensorFlow started with
    ``threads`` (``tf.config.threading`` calls) before hwlib was imported."""
    code = (f"import tensorflow as tf; {threads}; tf.constant(1.0) + 1; import hwlib; "
            "from hwlib.runtime import configure\n"
            "try:\n    configure()\n    print('ok')\nexcept Exception as e:\n    print(type(e).__name__, e)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")).stdout


def test_training_refuses_a_tensorflow_started_with_other_threads(tiny_dir):
    out = _configure_after_tensorflow_started_with("tf.config.threading.set_intra_op_parallelism_threads(2)")
    assert out.startswith("ConfigError TensorFlow in this process already runs with 2 intra-op"), out
    assert "Import hwlib before TensorFlow" in out


def test_another_inter_op_pool_is_accepted(tiny_dir):
    """The inter-op threads do not change results: a TensorFlow started with three is fine."""
    out = _configure_after_tensorflow_started_with(
        "tf.config.threading.set_intra_op_parallelism_threads(1); "
        "tf.config.threading.set_inter_op_parallelism_threads(3)")
    assert out.strip() == "ok", out


def _train_in_subprocess(store: Path, tiny_dir: Path, pin: bool, inter_op: int | None = None) -> None:
    """``hwlib train`` of a tiny CIFAR-10 run in a fresh process (``pin``: on core 0 only;
    ``inter_op``: that many inter-op threads instead of hwlib's)."""
    env = tiny_command_env(tiny_dir)
    env.pop("TF_NUM_INTRAOP_THREADS", None)  # hwlib must set them itself
    env.pop("TF_NUM_INTEROP_THREADS", None)
    argv = ["train", "cifar10-base", "--store", str(store), "--quiet",
            *[a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]]
    other = "" if inter_op is None else (
        f"runtime.THREADS['inter_op'] = {inter_op}; os.environ['TF_NUM_INTEROP_THREADS'] = '{inter_op}'; ")
    code = f"import os, sys, hwlib; from hwlib import runtime; {other}from hwlib.cli import main; sys.exit(main({argv!r}))"
    cmd = [sys.executable, "-c", code]
    if pin:
        cmd = ["taskset", "-c", "0", *cmd]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def _same_stores(a: Path, b: Path) -> None:
    a, b = RunStore(a), RunStore(b)
    assert a.keys() == b.keys() and len(a.keys()) == 1
    key = a.keys()[0]
    for name in ("history.csv", "metrics.json", "model.weights.h5"):
        assert (a.path(key) / name).read_bytes() == (b.path(key) / name).read_bytes(), name
    assert a.get(key).provenance["threads"] == runtime.THREADS  # what it ran with, beside the key


@pytest.mark.skipif(shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2,
                    reason="needs taskset and two cores")
def test_a_run_is_bit_identical_on_one_core_and_on_all(tmp_path, tiny_dir):
    _train_in_subprocess(tmp_path / "all", tiny_dir, pin=False)
    _train_in_subprocess(tmp_path / "one", tiny_dir, pin=True)
    _same_stores(tmp_path / "all", tmp_path / "one")


def test_the_inter_op_threads_do_not_change_a_run(tmp_path, tiny_dir):
    """Why they are not in the key: one inter-op thread or four, the same history and weights
    (each operation is still computed by one thread; only independent ones overlap)."""
    _train_in_subprocess(tmp_path / "two", tiny_dir, pin=False)
    for n in (1, 4):
        _train_in_subprocess(tmp_path / str(n), tiny_dir, pin=False, inter_op=n)
        a, b = RunStore(tmp_path / "two"), RunStore(tmp_path / str(n))
        assert a.keys() == b.keys() and len(a.keys()) == 1
        key = a.keys()[0]
        for name in ("history.csv", "metrics.json", "model.weights.h5"):
            assert (a.path(key) / name).read_bytes() == (b.path(key) / name).read_bytes(), (n, name)
        assert b.get(key).provenance["threads"] == {"intra_op": 1, "inter_op": n}


@pytest.mark.parametrize("trainings, cores, threads", [
    (1, 1, 1), (1, 2, 2), (1, 16, 2), (2, 2, 1), (3, 2, 1), (2, 4, 2), (8, 8, 1), (4, 8, 2), (0, 2, 2)])
def test_each_worker_gets_its_share_of_the_cores_as_inter_op_threads(trainings, cores, threads):
    assert runtime.inter_op_threads(trainings, cores) == threads


def _quiet_command(tiny_dir: Path, store: Path, prelude: str = "") -> str:
    """The output of ``hwlib train`` training six tiny runs in one process."""
    code = (f"import sys\nfrom hwlib import runtime\n{prelude}\nfrom hwlib.cli import main\n"
            "sys.exit(main(['train', 'mnist-base', '--seeds', '6', '--workers', '1', '--set', 'epochs=1', "
            "'--set', 'n_train=200', '--set', 'n_test=100']))")
    env = tiny_command_env(tiny_dir, HWLIB_STORE=str(store))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_training_commands_print_no_retracing_warnings(tiny_dir, tmp_path):
    out = _quiet_command(tiny_dir, tmp_path / "a")
    assert "6 run(s) to train" in out and "runs trained" in out
    assert "retracing" not in out, out
    # without the filter, the same command shows them (so the test can fail)
    loud = _quiet_command(tiny_dir, tmp_path / "b", prelude="runtime._not_retracing = lambda record: True")
    assert "retracing" in loud


def test_the_keras_seed_hook_is_where_hwlib_patches_it(monkeypatch):
    module = runtime.keras_seed_module()
    with runtime.private_seed_draws(5):
        assert isinstance(module.python_random, runtime._SeedDraws)
        first = module.python_random.randint(0, 10**9)
    with runtime.private_seed_draws(5):  # the same seed, the same draws: the hook is live
        assert module.python_random.randint(0, 10**9) == first
    monkeypatch.delattr(module, "python_random")
    with pytest.raises(RuntimeError, match=r"no longer has keras.src.random.seed_generator.python_random.*"
                                           r"Install the pinned Keras"):
        runtime.keras_seed_module()


def _spin_through_a_sigint() -> None:
    """Send this process SIGINT and run on: a handler that raises would raise here."""
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10**6):
        pass


def test_catch_interrupts_records_and_defers(sigint_delivered):
    calls = []

    def previous(signum, frame):
        calls.append(signum)
        raise KeyboardInterrupt  # as Python's own handler does

    signal.signal(signal.SIGINT, previous)
    with runtime.catch_interrupts() as interrupts:
        _spin_through_a_sigint()  # not raised here
        assert interrupts.seen and calls == [signal.SIGINT]  # the previous handler saw it
        _spin_through_a_sigint()  # a second one is ignored
        assert calls == [signal.SIGINT]
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert signal.getsignal(signal.SIGINT) is previous
    with runtime.catch_interrupts() as interrupts:
        interrupts.check()  # nothing seen: no exception


def test_exit_now_flushes_and_ends_with_threads_still_running():
    """``exit_now`` ends the process with its code, what it printed flushed, even while a
    thread still runs that an ordinary exit would wait for (as TensorFlow's may)."""
    code = ("import sys, threading, time\n"
            "from hwlib import runtime\n"
            "threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon\n"
            "sys.stdout.write('out, unflushed'); sys.stderr.write('err, unflushed')\n"
            "runtime.exit_now(7)\n"
            "print('not reached')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (7, "out, unflushed", "err, unflushed")
