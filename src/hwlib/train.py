"""Train an experiment deterministically (the same key: bit-identical) and keep it in the run store:
:func:`run` finds or trains, :func:`find` only looks."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwlib import __version__
from hwlib.config import Experiment
from hwlib.errors import ConfigError, StoreError
from hwlib.runtime import RESULT_THREADS, THREADS, catch_interrupts, private_seed_draws, seed_everything
from hwlib.store import WEIGHTS, Entry, RunStore, run_key

# Part of every run key: bump it when a change to the code that trains changes trained weights
# (tests/test_code_version.py fails when such code changes while this stays the same).
TRAIN_CODE_VERSION = "2"
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy")


@dataclass(frozen=True)
class Engine:
    """How batches reach the model: batches per compiled call (the same steps, so not in the key), the test
    evaluation's batch size, ``"tfdata"`` (tensors through ``tf.data``) or ``"numpy"`` (plain ``model.fit``), XLA."""

    steps_per_execution: int = 1
    eval_batch_size: int = 32
    pipeline: str = "numpy"
    jit_compile: bool = False

    def key_settings(self) -> dict[str, Any]:
        """What of the engine and the runtime decides a run's history: part of its key."""
        return {"pipeline": self.pipeline, "eval_batch_size": self.eval_batch_size,
                "jit_compile": self.jit_compile, "threads": dict(RESULT_THREADS)}


PLAIN_KERAS = Engine()
DEFAULT_ENGINE = Engine(steps_per_execution=200, eval_batch_size=1000, pipeline="tfdata")


def compile_model(model: Any, exp: Experiment, engine: Engine) -> Any:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=exp.train.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  steps_per_execution=engine.steps_per_execution, jit_compile=engine.jit_compile)
    return model


def epoch_timer(epochs: int, log: Callable[[str], None] | None = None,
                check: Callable[[], None] | None = None) -> Any:
    """A Keras callback: each epoch's seconds in ``.seconds``, a line per epoch to ``log``, and
    ``check()`` (which may raise to stop) before every step execution and after every epoch."""
    import keras  # here, not at module import: `import hwlib.train` stays free of TensorFlow

    seconds: list[float] = []
    started = [0.0]
    check = check or (lambda: None)

    def begin(epoch: int, logs: Any = None) -> None:
        started[0] = time.perf_counter()

    def end(epoch: int, logs: Any = None) -> None:
        seconds.append(time.perf_counter() - started[0])
        if log:
            m = {k: (logs or {}).get(k, float("nan")) for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
            log(f"epoch {epoch + 1:>3}/{epochs}  loss {m['loss']:.4f}  acc {m['accuracy']:.4f}  test_loss "
                f"{m['val_loss']:.4f}  test_acc {m['val_accuracy']:.4f}  ({seconds[-1]:.1f} s)")
        check()

    # The *_batch_begin hooks run once per execution of steps_per_execution steps.
    timer = keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end,
                                           on_train_batch_begin=lambda batch, logs=None: check(),
                                           on_test_batch_begin=lambda batch, logs=None: check())
    timer.seconds = seconds
    return timer


def training_batches(x: Any, y: Any, batch_size: int, seed: int) -> Any:
    """The batches of ``from_tensor_slices((x, y)).shuffle(n, seed)``, gathered by shuffled indices from one
    in-memory tensor (no second copy of every image in a shuffle buffer)."""
    import tensorflow as tf

    xt, yt = tf.constant(x), tf.constant(y)
    return prefetched(tf.data.Dataset.range(len(y)).shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
                      .batch(batch_size).map(lambda i: (tf.gather(xt, i), tf.gather(yt, i))))


PREFETCH_BATCHES = 2


def prefetched(ds: Any) -> Any:
    """``ds`` prefetching a fixed number of batches, with tf.data's autotuning (which can stall) off."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


def fit(exp: Experiment, data: Any, engine: Engine = DEFAULT_ENGINE,
        log: Callable[[str], None] | None = None,
        check: Callable[[], None] | None = None) -> tuple[Any, Any, list[float]]:
    """Train ``exp`` on ``data``: the model, the history and each epoch's seconds (see :func:`epoch_timer`)."""
    import pandas as pd

    from hwlib.models import build_experiment

    t = exp.train
    seed_everything(t.seed)
    with private_seed_draws(t.seed):  # the seed's initial weights, whatever other threads do
        model = compile_model(build_experiment(exp), exp, engine)
    timer = epoch_timer(t.epochs, log, check)
    if engine.pipeline == "tfdata":
        import tensorflow as tf

        train_ds = training_batches(data.x_train, data.y_train, t.batch_size, t.seed)
        test_ds = prefetched(tf.data.Dataset.from_tensor_slices((data.x_test, data.y_test))
                             .batch(engine.eval_batch_size))
        hist = model.fit(train_ds, epochs=t.epochs, validation_data=test_ds, shuffle=False,
                         verbose=0, callbacks=[timer])
    elif engine.pipeline == "numpy":
        hist = model.fit(data.x_train, data.y_train, batch_size=t.batch_size, epochs=t.epochs,
                         validation_data=(data.x_test, data.y_test),
                         validation_batch_size=engine.eval_batch_size, shuffle=True, verbose=0,
                         callbacks=[timer])
    else:
        raise ConfigError(f"Unknown pipeline {engine.pipeline!r}: use 'tfdata' or 'numpy'.")
    h = hist.history
    history = pd.DataFrame({"epoch": range(1, t.epochs + 1), "loss": h["loss"], "accuracy": h["accuracy"],
                            "test_loss": h["val_loss"], "test_accuracy": h["val_accuracy"]})
    return model, history, timer.seconds


# -- provenance ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _git_commit() -> dict[str, Any] | None:
    """The checkout's commit when this process first asked (the code it runs)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        return {"commit": commit.stdout.strip(), "src_dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every run."""
    import keras
    import numpy as np
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {"hwlib": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "keras_backend": keras.backend.backend(), "numpy": np.__version__, "python": sys.version.split()[0],
            "platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "device": f"GPU ({len(gpus)})" if gpus else "CPU",
            "malloc": "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "libc"}


# -- runs ----------------------------------------------------------------------------------------
@dataclass
class Run:
    """A stored run: its experiment, history, final metrics, provenance and weights."""

    experiment: Experiment
    key: str
    entry: Entry
    trained: bool = False  # trained by this call (not found in the store)
    metrics = property(lambda self: self.entry.metrics)
    provenance = property(lambda self: self.entry.provenance)
    data_fingerprint = property(lambda self: self.entry.config["data_fingerprint"])

    @property
    def history(self) -> Any:
        import pandas as pd

        return pd.read_csv(self.entry.history_path)

    def load_model(self) -> Any:
        """The trained Keras model: built from the config, weights from the store."""
        from hwlib.models import build_experiment

        path = self.entry.weights_path
        if path is None:
            raise StoreError(f"Run {self.key} ({self.experiment.name}) was stored without weights. Train it "
                             f"with weights: `hwlib train {self.experiment.name} --force`.")
        model = build_experiment(self.experiment)
        try:
            model.load_weights(path)
            return model
        except Exception as exc:  # h5py/keras raise many kinds on a damaged file
            raise StoreError(f"The weights file {path} cannot be read ({type(exc).__name__}). Delete "
                             f"{self.entry.path} and train the run again.") from None


def load_data(exp: Experiment, data_dir: str | os.PathLike | None = None):
    """The dataset of ``exp``, scaled and subset as its settings say."""
    from hwlib import data as hwdata

    ds = hwdata.load(exp.dataset, data_dir, scale=exp.train.input_scale)
    t = exp.train
    if t.n_train is None and t.n_test is None:
        return ds
    return ds.subset(t.n_train, t.n_test, seed=t.data_seed)


def key_for(exp: Experiment, data_fingerprint: str, engine: Engine = DEFAULT_ENGINE) -> str:
    """The store key of ``exp`` trained by ``engine`` on the data ``data_fingerprint``."""
    return run_key(exp.config_dict(), data_fingerprint, TRAIN_CODE_VERSION, engine.key_settings())


def _stored(exp: Experiment, key: str, store: RunStore, weights: bool,
            log: Callable[[str], None] | None) -> Run | None:
    entry = store.get(key, need_weights=weights)
    if entry is None:
        return None
    if log:
        log(f"{exp.name}: stored run {key} found in {store.root}")
    return Run(exp, key, entry)


def find(exp: Experiment, store: RunStore | str | os.PathLike | None = None, *, weights: bool = True,
         data_dir: str | os.PathLike | None = None, engine: Engine = DEFAULT_ENGINE,
         log: Callable[[str], None] | None = None) -> Run | None:
    """The stored run of ``exp`` (with weights if ``weights``), or ``None``: never trains."""
    from hwlib import data as hwdata

    store = store if isinstance(store, RunStore) else RunStore(store)
    identity = hwdata.identify(exp.dataset, data_dir)  # the data's fingerprint, without loading it
    identity.check_subset(exp.dataset, exp.train.n_train, exp.train.n_test)
    return _stored(exp, key_for(exp, identity.fingerprint, engine), store, weights, log)


def run(exp: Experiment, store: RunStore | str | os.PathLike | None = None, *, force: bool = False,
        weights: bool = True, data_dir: str | os.PathLike | None = None,
        log: Callable[[str], None] | None = None, engine: Engine = DEFAULT_ENGINE,
        train: bool = True) -> Run:
    """The run of ``exp``: stored, or trained (under the key's lock) and stored with its weights if ``weights``;
    on a miss with ``train=False`` or ``$HWLIB_NO_TRAIN=1``, a :class:`StoreError`."""
    _git_commit()  # record the commit of the code this process runs, before it trains
    store = store if isinstance(store, RunStore) else RunStore(store)
    data = load_data(exp, data_dir)
    key = key_for(exp, data.fingerprint, engine)
    if not force:
        found = _stored(exp, key, store, weights, log)
        if found is not None:
            return found
    if not train or os.environ.get("HWLIB_NO_TRAIN") == "1":
        raise StoreError(f"{exp.name} (key {key}) is not in the run store {store.root}, and training is off "
                         "(train=False or HWLIB_NO_TRAIN=1). "
                         f"Train it with `hwlib train {exp.name}` (or run the notebook with train=True).")
    on_wait = (lambda: log(f"{exp.name}: run {key} is being trained by another process; "
                           "waiting for it")) if log else None
    with store.lock(key, on_wait=on_wait), catch_interrupts() as interrupts:  # lock fails fast on an unwritable store
        if not force:  # trained by another process while this one waited?
            entry = store.get(key, need_weights=weights)
            if entry is not None:
                if log:
                    log(f"{exp.name}: stored run {key} found in {store.root} (trained by another "
                        "process meanwhile)")
                return Run(exp, key, entry)
        tmp = store.begin(key)
        try:
            if log:
                log(f"{exp.name}: training run {key} ({exp.train.epochs} epochs, "
                    f"{len(data.y_train)} training images)")
            t0 = time.perf_counter()
            model, history, seconds = fit(exp, data, engine, log, check=interrupts.check)
            wall = time.perf_counter() - t0
            _write_entry(tmp, exp, key, data, model, history, seconds, wall, weights, engine)
            interrupts.check()  # a Ctrl-C while the entry was written: no entry
            entry = store.commit(key, tmp)
        except BaseException:
            store.abort(tmp)
            raise
    return Run(exp, key, entry, trained=True)


def _write_entry(tmp: Path, exp: Experiment, key: str, data: Any, model: Any, history: Any,
                 seconds: list[float], wall: float, weights: bool, engine: Engine) -> None:
    last = history.iloc[-1]
    config = {"key": key, "name": exp.name, "experiment": exp.to_dict(),
              "data_fingerprint": data.fingerprint, "train_code_version": TRAIN_CODE_VERSION,
              "runtime": engine.key_settings()}
    metrics = {"test_loss": float(last["test_loss"]), "test_accuracy": float(last["test_accuracy"]),
               "train_loss": float(last["loss"]), "train_accuracy": float(last["accuracy"]),
               "epochs": int(exp.train.epochs), "n_train": int(len(data.y_train)),
               "n_test": int(len(data.y_test)), "params": int(model.count_params())}
    provenance = {**environment(), "git": _git_commit(), "data_source": str(data.source),
                  "engine": dataclasses.asdict(engine), "threads": dict(THREADS), "wall_seconds": round(wall, 3),
                  "epoch_seconds": [round(s, 3) for s in seconds],
                  "epochs_per_second": round(len(seconds) / sum(seconds), 5),
                  "train_images_per_second": round(len(data.y_train) * len(seconds) / sum(seconds), 1),
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    _dump(tmp / "config.json", config)
    _dump(tmp / "metrics.json", metrics)
    _dump(tmp / "provenance.json", provenance)
    buf = io.StringIO()
    history.to_csv(buf, index=False, float_format="%.9g")
    (tmp / "history.csv").write_text(buf.getvalue())
    if weights:
        from hwlib.models import build_experiment

        bare = build_experiment(exp)  # without optimizer state: a third of the size
        bare.set_weights(model.get_weights())
        bare.save_weights(tmp / WEIGHTS)


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")
