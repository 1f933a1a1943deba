"""Training: determinism, store hit/miss/force, killed runs, real data on a subset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hwlib import experiments as E
from hwlib.errors import StoreError
from hwlib.store import RunStore
from hwlib.train import DEFAULT_ENGINE, HISTORY_COLUMNS, PLAIN_KERAS, fit, key_for, load_data, run

from conftest import deliver_sigint, needs_real_data, real_data_dir, tiny_command_env

TINY = {"epochs": 2, "n_train": 100, "n_test": 50}


def tiny(name="mnist-base", variant="stated", **more):
    return E.prepare(name, "full", variant).with_overrides({**TINY, **more})


def test_reruns_are_bit_identical(tiny_env):
    exp = tiny()
    data = load_data(exp)
    m1, h1, _ = fit(exp, data)
    m2, h2, _ = fit(exp, data)
    assert h1.equals(h2)
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    m3, h3, _ = fit(tiny(seed=1), data)
    assert not h1.equals(h3)


def test_fit_checks_before_every_execution_and_after_every_epoch(tiny_env):
    """``check`` (how a Ctrl-C stops a training, hwlib.runtime.catch_interrupts) runs before
    each execution of the training and evaluation steps and at each epoch's end; raising in
    the first one stops the training before it computes anything."""
    from dataclasses import replace

    from hwlib.train import DEFAULT_ENGINE

    exp, calls = tiny(), []
    engine = replace(DEFAULT_ENGINE, steps_per_execution=1)
    fit(exp, load_data(exp), engine, check=lambda: calls.append(1))
    # per epoch: 100 images in batches of 32 = 4 executions, 1 of evaluation, 1 epoch end
    assert len(calls) == 2 * (4 + 1 + 1)

    def stop():
        raise KeyboardInterrupt

    epochs = []
    with pytest.raises(KeyboardInterrupt):
        fit(exp, load_data(exp), log=epochs.append, check=stop)
    assert epochs == []


def test_training_batches_are_the_shuffled_slices_without_a_second_copy():
    """Index shuffle + gather gives exactly the batches of shuffling the examples
    themselves (the committed runs were trained with the latter), epoch after epoch."""
    import tensorflow as tf

    from hwlib.train import training_batches

    rng = np.random.default_rng(0)
    x = rng.random((203, 4, 4, 3), dtype=np.float32)
    y = rng.integers(0, 10, 203).astype(np.uint8)
    slices = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(203, seed=7, reshuffle_each_iteration=True)
              .batch(32))
    gathered = training_batches(x, y, 32, 7)
    epochs = []
    for _ in range(2):
        batches_a, batches_b = list(slices), list(gathered)
        assert len(batches_a) == len(batches_b) == 7
        for (xa, ya), (xb, yb) in zip(batches_a, batches_b):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
        epochs.append(np.concatenate([b[1].numpy() for b in batches_b]))
    assert not np.array_equal(epochs[0], epochs[1])  # a new order each epoch
    other_seed = np.concatenate([b[1].numpy() for b in training_batches(x, y, 32, 8)])
    assert not np.array_equal(epochs[0], other_seed)


def test_prefetched_pipelines_have_autotuning_off_and_the_same_batches():
    """The fixed prefetch (autotuning off: no stall when an iterator is deleted) yields what
    ``prefetch(AUTOTUNE)`` yields, and the training and test pipelines of a fit both use it."""
    import tensorflow as tf

    from hwlib.train import PREFETCH_BATCHES, prefetched, training_batches

    ds = tf.data.Dataset.range(50).batch(8).map(lambda i: i * 3)
    fixed = prefetched(ds)
    assert fixed.options().autotune.enabled is False
    assert [b.numpy().tolist() for b in fixed] == [b.numpy().tolist() for b in ds.prefetch(tf.data.AUTOTUNE)]
    assert "PrefetchDataset" in type(fixed._input_dataset).__name__ and PREFETCH_BATCHES >= 1
    x = np.zeros((10, 2, 2, 1), np.float32)
    assert training_batches(x, np.zeros(10, np.int32), 4, 0).options().autotune.enabled is False


def test_store_hit_miss_and_force(tiny_env):
    logs = []
    exp = tiny()
    r1 = run(exp, log=logs.append)
    assert any("training run" in line for line in logs)
    assert list(r1.history.columns) == list(HISTORY_COLUMNS) and len(r1.history) == 2
    assert r1.metrics["test_accuracy"] == pytest.approx(r1.history["test_accuracy"].iloc[-1])
    assert r1.provenance["engine"]["steps_per_execution"] >= 1
    first = (r1.entry.path / "provenance.json").read_text()
    logs.clear()
    r2 = run(exp, log=logs.append)
    assert r2.key == r1.key and logs == [f"mnist-base: stored run {r1.key} found in {RunStore().root}"]
    r3 = run(exp, force=True)
    assert (r3.entry.path / "provenance.json").read_text() != first  # retrained (new timings)
    assert r3.history.equals(r1.history)
    model = r3.load_model()
    assert model.get_layer("conv1").filters == 4


def test_finding_a_stored_run_reads_no_pixels(tiny_env, monkeypatch):
    """A command decides what is stored from the data's remembered fingerprint: a new
    process does not load (CIFAR-10: seconds) a dataset it will not train on."""
    from hwlib import data
    from hwlib.errors import DataError
    from hwlib.train import find

    stored = run(tiny())
    data.clear_cache()  # a new process

    def no_pixels(*args, **kwargs):
        raise AssertionError("the dataset was read")

    monkeypatch.setattr(data, "_read_checked", no_pixels)
    assert find(tiny()).key == stored.key
    assert find(tiny(seed=1)) is None
    with pytest.raises(DataError, match="^n_train=201 is more than the 200 train images of mnist"):
        find(tiny(n_train=201))


def test_entry_without_weights_is_retrained_when_weights_are_needed(tiny_env):
    exp = tiny()
    r = run(exp, weights=False)
    assert r.entry.weights_path is None
    with pytest.raises(StoreError, match="stored without weights"):
        r.load_model()
    assert run(exp, weights=True).entry.weights_path is not None


def test_train_false_refuses_to_train(tiny_env):
    with pytest.raises(StoreError, match="not in the run store .* `hwlib train mnist-base`"):
        run(tiny(), train=False)


def test_variants_get_their_own_keys(tiny_env):
    a, b = run(tiny()), run(tiny(epochs=1))
    assert a.key != b.key and len(b.history) == 1
    assert sorted(RunStore().keys()) == sorted([a.key, b.key])


def _start_training(store: Path, tiny_dir: Path, epochs: int) -> subprocess.Popen:
    env = tiny_command_env(tiny_dir, HWLIB_STORE=str(store))
    return subprocess.Popen(
        [sys.executable, "-m", "hwlib.cli", "train", "mnist-base", "--set", f"epochs={epochs}",
         "--set", "n_train=200", "--set", "n_test=100"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=deliver_sigint)


def _wait_for_epoch(proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.startswith("epoch"):
            return
        assert time.monotonic() < deadline
    pytest.fail("training never reported an epoch")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_run_leaves_no_entry_and_rerun_completes(tmp_path, tiny_dir, sig):
    store = tmp_path / "store"
    proc = _start_training(store, tiny_dir, epochs=400)
    _wait_for_epoch(proc)
    proc.send_signal(sig)
    rest = proc.communicate(timeout=60)[0]
    runs = store / "runs"
    assert [p for p in runs.iterdir() if not p.name.startswith(".tmp-")] == []
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in rest, rest
        assert list(runs.iterdir()) == []  # cleaned up on the way out
    else:
        assert proc.returncode == -signal.SIGKILL
    # The next run trains cleanly (a short variant here) and removes the dead temp folder.
    proc = _start_training(store, tiny_dir, epochs=1)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, out
    entries = list(runs.iterdir())
    assert len(entries) == 1 and not entries[0].name.startswith(".tmp-")
    RunStore(store).verify(entries[0].name)


@pytest.mark.slow
@needs_real_data
def test_real_mnist_subset_learns(tmp_path):
    exp = E.get("mnist-base").with_overrides({"epochs": 1, "n_train": 3000, "n_test": 1000})
    r = run(exp, tmp_path, data_dir=real_data_dir())
    assert r.metrics["n_train"] == 3000 and r.metrics["test_accuracy"] > 0.7


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


def test_raw_inputs_reach_the_network_unscaled(tiny_env):
    unit, raw = load_data(tiny()), load_data(tiny(variant="original"))
    assert unit.x_train.max() <= 1.0 and raw.x_train.max() == 230.0  # the tiny images' bright bar
    np.testing.assert_allclose(raw.x_train / 255, unit.x_train, rtol=1e-6)
    assert unit.fingerprint == raw.fingerprint  # the same data, scaled differently


# -- Ctrl-C: recorded, raised at the training's next check ------------------------------------
def _spin_through_a_sigint() -> None:
    """Send this process SIGINT and run on: a handler that raises would raise here."""
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10**6):
        pass


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
