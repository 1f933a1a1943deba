"""The run contract: what a run *is* (threads, engine, variant settings in the key), and that
every way of training it (alone, in a worker process, pinned to one core) gives the same run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hwlib import allocator, runtime
from hwlib import experiments as E
from hwlib.cli import main
from hwlib.config import Experiment
from hwlib.errors import ConfigError
from hwlib.executor import Task, run_all, usable_cores
from hwlib.store import RunStore
from hwlib.train import DEFAULT_ENGINE, PLAIN_KERAS, fit, key_for, load_data, run

from conftest import deliver_sigint, tiny_command_env

TINY = {"epochs": 2, "n_train": 120, "n_test": 50}


def tiny(name="mnist-base", variant="stated", **more) -> Experiment:
    return E.prepare(name, "full", variant).with_overrides({**TINY, **more})


def same_run(a, b) -> None:
    """Two stored runs hold the same history and weights, to the bit."""
    assert a.key == b.key
    assert a.history.equals(b.history)
    for x, y in zip(a.load_model().get_weights(), b.load_model().get_weights()):
        np.testing.assert_array_equal(x, y)


# -- threads -------------------------------------------------------------------------------
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


# -- the engine ------------------------------------------------------------------------------
def test_engine_settings_that_change_histories_are_in_the_key():
    exp = tiny()
    base = key_for(exp, "fp", DEFAULT_ENGINE)
    assert key_for(exp, "fp", replace(DEFAULT_ENGINE, steps_per_execution=1)) == base
    for other in (PLAIN_KERAS, replace(DEFAULT_ENGINE, pipeline="numpy"),
                  replace(DEFAULT_ENGINE, eval_batch_size=32), replace(DEFAULT_ENGINE, jit_compile=True)):
        assert key_for(exp, "fp", other) != base, other


def test_steps_per_execution_gives_bit_identical_runs(tiny_env):
    """The one engine setting left out of the key: the same history and weights."""
    exp = tiny("cifar10-base")
    data = load_data(exp)
    m1, h1, _ = fit(exp, data, DEFAULT_ENGINE)
    for spe in (1, 7):
        m2, h2, _ = fit(exp, data, replace(DEFAULT_ENGINE, steps_per_execution=spe))
        assert h1.equals(h2), spe
        for a, b in zip(m1.get_weights(), m2.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_plain_keras_batches_differ_and_get_their_own_entry(tiny_env):
    a = run(tiny(), engine=DEFAULT_ENGINE)
    b = run(tiny(), engine=PLAIN_KERAS)
    assert a.key != b.key and not a.history.equals(b.history)
    assert a.entry.config["runtime"]["pipeline"] == "tfdata" and b.entry.config["runtime"]["pipeline"] == "numpy"


# -- variants and input_scale -----------------------------------------------------------------
def test_variants_as_overrides():
    for name, exp in E.EXPERIMENTS.items():
        stated, original = E.prepare(name, variant="stated"), E.prepare(name, variant="original")
        assert stated == exp
        if exp.dataset == "mnist":
            assert (original.train.input_scale, original.train.batch_size) == ("raw", 32)
        else:
            assert (original.train.input_scale, original.train.batch_size) == ("unit", 64)
        assert original.key() != stated.key()


def test_input_scale_at_its_default_leaves_the_key_unchanged():
    exp = E.get("mnist-base")
    d = exp.config_dict()
    assert "input_scale" not in d["train"]
    raw = exp.with_overrides({"input_scale": "raw"})
    assert raw.config_dict()["train"]["input_scale"] == "raw"
    assert raw.with_overrides({"scale": "unit"}).key() == exp.key()


@pytest.mark.parametrize("value", ["Raw", "0-255", 255, None])
def test_bad_input_scale_is_a_clear_error(value):
    with pytest.raises(ConfigError, match=r"input_scale .* does not exist. Use 'unit' .* or 'raw'"):
        E.get("mnist-base").with_overrides({"input_scale": value})


def test_raw_inputs_reach_the_network_unscaled(tiny_env):
    unit, raw = load_data(tiny()), load_data(tiny(variant="original"))
    assert unit.x_train.max() <= 1.0 and raw.x_train.max() == 230.0  # the tiny images' bright bar
    np.testing.assert_allclose(raw.x_train / 255, unit.x_train, rtol=1e-6)
    assert unit.fingerprint == raw.fingerprint  # the same data, scaled differently


def test_unknown_variant_is_one_paragraph(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "mnist-base", "--variant", "homework"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown variant 'homework'; choose stated or original" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="Unknown variant 'x'. Choose one of: stated .*; original"):
        E.prepare("mnist-base", variant="x")


def test_list_shows_the_keys_of_both_variants(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "key (stated)" in out and "key (original)" in out
    for name in E.EXPERIMENTS:
        assert E.prepare(name, variant="original").key() in out and E.get(name).key() in out


def test_the_study_lists_every_seed_of_both_variants_once():
    jobs = E.study()
    names = {(e.name, e.train.seed, e.train.input_scale, e.train.batch_size) for e, _ in jobs}
    assert ("cifar10-l2-tuned", 4, "unit", 64) in names and ("cifar10-base", 3, "unit", 32) not in names
    assert ("mnist-k3s3-same", 4, "raw", 32) in names
    first = jobs[:len(E.EXPERIMENTS)]  # seed 0 of the chapters' variant comes first
    assert {e.train.seed for e, _ in first} == {0} and all(e == E.prepare(e.name).with_overrides({"seed": 0})
                                                          for e, _ in first)
    assert sum(w for _, w in jobs) == 2 * len(E.NEEDS_WEIGHTS)  # seed 0 of the figures' runs
    tiers = E.study_tiers()  # the groups above, numbered in the order they are listed
    assert len(tiers) == len(jobs) and tiers == sorted(tiers)
    assert set(tiers[:len(E.EXPERIMENTS)]) == {0} and set(tiers) == {0, 1, 2, 3, 4}
    assert all((t % 2 == 1) == (e.train.seed > 0) for (e, _), t in zip(jobs, tiers) if t < 4)


# -- local workers ---------------------------------------------------------------------------
def test_workers_train_the_same_runs_as_training_alone(tiny_env, tmp_path):
    exps = [tiny("mnist-base", "original"), tiny("cifar10-base", "original"), tiny("mnist-l2")]
    lines: list[str] = []
    pooled = run_all([Task(e) for e in exps], tmp_path / "pool", workers=2, log=lines.append)
    alone = [run(e, tmp_path / "alone") for e in exps]
    for a, b in zip(pooled, alone):
        same_run(a, b)
    # the workers run with jemalloc when the machine has it; this process with its own malloc
    assert {r.provenance["malloc"] for r in pooled} == {allocator.JEMALLOC if allocator.library() else "system"}
    assert {r.provenance["malloc"] for r in alone} == {allocator.in_use()}
    # each worker with its share of the cores as inter-op threads; alone, both of this process's
    share = runtime.inter_op_threads(2, usable_cores())
    assert {r.provenance["threads"]["inter_op"] for r in pooled} == {share}
    assert {r.provenance["threads"]["inter_op"] for r in alone} == {runtime.INTER_OP_MAX}
    assert any("3 run(s) to train on 2 worker process(es)" in line for line in lines)
    assert any(line.startswith("mnist-l2 seed 0 [") and "epoch   2/2" in line for line in lines)
    assert lines[-1].startswith("[########################] 3/3 runs trained")
    again: list[str] = []  # all stored now: nothing is started
    assert [r.key for r in run_all([Task(e) for e in exps], tmp_path / "pool", log=again.append)] == \
        [r.key for r in pooled]
    assert not any("to train" in line for line in again)


@pytest.mark.parametrize("trainings, cores, threads", [
    (1, 1, 1), (1, 2, 2), (1, 16, 2), (2, 2, 1), (3, 2, 1), (2, 4, 2), (8, 8, 1), (4, 8, 2), (0, 2, 2)])
def test_each_worker_gets_its_share_of_the_cores_as_inter_op_threads(trainings, cores, threads):
    assert runtime.inter_op_threads(trainings, cores) == threads


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_inter_op_thread_counts_are_refused(bad, monkeypatch):
    monkeypatch.setitem(runtime.THREADS, "inter_op", runtime.THREADS["inter_op"])
    with pytest.raises(ConfigError, match=f"inter-op threads must be a whole number >= 1, got {bad!r}"):
        runtime.use_inter_op_threads(bad)
    assert runtime.THREADS["inter_op"] == runtime.INTER_OP_MAX


def test_without_start_notices_drops_only_tensorflow_start_notices():
    code = ("import os, sys\nfrom hwlib import runtime\n"
            "with runtime.without_start_notices():\n"
            "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to "
            "STDERR\\n')\n"
            "    os.write(2, b'I0000 00:00:1.5 7 port.cc:153] oneDNN custom operations are on. You may see\\n')\n"
            "    os.write(2, b'a real error\\n')\n"
            "    print('from Python', file=sys.stderr)\n"
            "print('after', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "a real error\nfrom Python\nafter\n")


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
def test_training_commands_print_no_tensorflow_start_notices_or_retracing_warnings(tiny_dir, tmp_path):
    out = _quiet_command(tiny_dir, tmp_path / "a")
    assert "6 run(s) to train" in out and "runs trained" in out
    for noise in ("absl::InitializeLog", "oneDNN custom operations", "retracing"):
        assert noise not in out, out
    # without the filters, the same command shows them (so the test can fail)
    loud = _quiet_command(tiny_dir, tmp_path / "b", prelude=(
        "runtime.without_start_notices = __import__('contextlib').nullcontext\n"
        "runtime._drop_new_model_retracing_warnings = lambda tf: None"))
    assert "oneDNN custom operations" in loud and "retracing" in loud


def test_inter_op_threads_cannot_change_once_tensorflow_runs():
    code = ("import hwlib, tensorflow as tf; tf.constant(1.0) + 1\n"
            "from hwlib import runtime\n"
            "try:\n    runtime.use_inter_op_threads(1)\nexcept Exception as e:\n"
            "    print(type(e).__name__, e, runtime.THREADS)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")).stdout
    assert out.startswith("ConfigError Cannot give this process 1 inter-op threads: its TensorFlow already runs")
    assert out.rstrip().endswith("{'intra_op': 1, 'inter_op': 2}")  # unchanged


def test_workers_take_the_longest_runs_first():
    from hwlib.executor import fill_queue, schedule

    class Queue(list):
        put = list.append

    tasks = [Task(tiny(name)) for name in ("mnist-base", "cifar10-base", "mnist-l2", "cifar10-l2")]
    todo = Queue()
    fill_queue(todo, tasks, [5.0, 30.0, 5.0, 40.0], n_workers=2)
    assert [item if item is None else item[0] for item in todo] == [3, 1, 0, 2, None, None]
    assert all(item[1] is tasks[item[0]] for item in todo[:4])
    tiered = [Task(t.experiment, tier=tier) for t, tier in zip(tasks, (0, 1, 0, 1))]  # a study's groups first
    assert schedule(tiered, [5.0, 30.0, 6.0, 40.0]) == [2, 0, 3, 1]


def test_bad_worker_counts(tiny_env, capsys):
    with pytest.raises(ConfigError, match="worker processes must be a whole number >= 1, got 0"):
        run_all([Task(tiny())], workers=0)
    with pytest.raises(SystemExit):
        main(["sweep", "mnist", "--workers", "0"])
    assert "the number of worker processes must be at least 1, got 0" in capsys.readouterr().err


# -- Ctrl-C -----------------------------------------------------------------------------------
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


def test_an_interrupt_stops_training_at_its_next_check_and_stores_nothing(tiny_env, monkeypatch,
                                                                          sigint_delivered):
    """Ctrl-C during a run is recorded where it comes (here before the training starts,
    standing for TensorFlow's own code, which it must not cut) and raised by the training's
    next check, before its first execution of steps: the run never gets to its entry."""
    from hwlib import train

    real_fit, order = train.fit, []

    def fit_interrupted_first(*args, **kwargs):
        _spin_through_a_sigint()
        order.append("fit went on")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(train, "fit", fit_interrupted_first)
    monkeypatch.setattr(train, "_write_entry", lambda *a, **k: order.append("entry written"))
    with pytest.raises(KeyboardInterrupt):
        run(tiny())
    assert order == ["fit went on"]
    runs = tiny_env / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []


def test_an_interrupt_while_the_entry_is_written_stores_nothing(tiny_env, monkeypatch, sigint_delivered):
    from hwlib import train

    real_write = train._write_entry

    def write_interrupted(*args, **kwargs):
        _spin_through_a_sigint()
        real_write(*args, **kwargs)

    monkeypatch.setattr(train, "_write_entry", write_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(tiny())
    assert list((tiny_env / "runs").iterdir()) == []


def test_a_second_interrupt_does_not_cut_the_clean_up_short(tiny_env, monkeypatch, sigint_delivered):
    """Ctrl-C can reach a run twice (the terminal's, to the whole process group, then its
    command stopping its workers): the second must not stop the removal of the run's
    temporary folder that the first started."""
    from hwlib import train

    def interrupted_fit(*args, check, **kwargs):
        _spin_through_a_sigint()
        check()
        raise AssertionError("the interrupt was not seen")

    real_abort = RunStore.abort
    seen = []

    def abort_interrupted_again(self, tmp):
        seen.append(tmp.exists())
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while cleaning up
        for _ in range(10**5):
            pass
        real_abort(self, tmp)

    monkeypatch.setattr(train, "fit", interrupted_fit)
    monkeypatch.setattr(RunStore, "abort", abort_interrupted_again)
    with pytest.raises(KeyboardInterrupt):
        run(tiny())
    assert seen == [True]
    assert list((tiny_env / "runs").iterdir()) == []  # neither entry nor temporary folder


def _linger_in_the_store(store: str, ready) -> None:
    """A worker that ignores Ctrl-C while it holds a temporary folder in ``store``."""
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    RunStore(store).begin("0123456789abcdef")
    ready.set()
    time.sleep(600)


def test_stopping_kills_a_lingering_worker_and_removes_its_folder(tmp_path, monkeypatch):
    import multiprocessing

    from hwlib import executor

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


# -- the store ----------------------------------------------------------------------------------
def test_prune_lists_then_deletes_only_older_code_versions(tiny_env, capsys):
    current = run(tiny())
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


def test_rekey_refiles_runs_keyed_with_the_inter_op_threads(tiny_env, capsys, monkeypatch):
    """A run stored before the inter-op threads left the key is found again after `hwlib
    store rekey --yes`: the same files under today's key, its provenance noting the old one."""
    import hwlib.train as train

    with monkeypatch.context() as m:  # the key rule before: both pools in the key
        m.setattr(train, "RESULT_THREADS", {"intra_op": 1, "inter_op": 1})
        old = run(tiny())
    new = run(tiny())  # today's key: trains it again (not found)
    assert new.key != old.key and new.trained
    store = RunStore()
    store.delete([new.key])
    files = {name: (old.entry.path / name).read_bytes() for name in ("history.csv", "metrics.json")}
    other = tiny_env / "runs" / "0123456789abcdef"  # keyed by settings no rule maps: left alone
    shutil.copytree(old.entry.path, other)
    config = json.loads((other / "config.json").read_text())
    config["runtime"]["threads"] = {"intra_op": 2, "inter_op": 1}
    (other / "config.json").write_text(json.dumps(config))

    assert main(["store", "rekey"]) == 0
    assert f"would re-file {old.key} as {new.key}  mnist-base" in capsys.readouterr().out
    assert sorted(store.keys()) == sorted([old.key, "0123456789abcdef"])
    assert main(["store", "rekey", "--yes"]) == 0
    assert f"re-filed {old.key} as {new.key}" in capsys.readouterr().out
    assert sorted(store.keys()) == sorted([new.key, "0123456789abcdef"])
    found = run(tiny(), train=False)  # found, not trained
    assert found.key == new.key and not found.trained
    assert {name: (found.entry.path / name).read_bytes() for name in files} == files
    assert found.entry.config["runtime"]["threads"] == {"intra_op": 1}
    assert found.provenance["rekeyed_from"] == old.key
    assert found.provenance["threads"] == {"intra_op": 1, "inter_op": 2}  # what it trained with
    assert main(["store", "rekey"]) == 0
    assert "nothing to re-file" in capsys.readouterr().out


# -- the private Keras hook ------------------------------------------------------------------------
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
