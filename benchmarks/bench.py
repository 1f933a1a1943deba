"""hwlib benchmarks (``make bench``): training throughput, speed levers, memory, report/book.

Every measured part runs in its own subprocess (``bench.py --worker ...``), so that each
starts from a fresh TensorFlow (thread settings and op determinism are per process) and
its peak RSS is read from ``os.wait4``. What is measured, on the datasets of
``$HWLIB_DATA_DIR`` (or the usual hwlib look-up):

* throughput: images/s of hwlib training (``hwlib.train.fit``, ``DEFAULT_ENGINE``) against
  plain Keras (the same model, ``model.fit(x, y, batch_size=32, validation_data=...)`` on
  NumPy arrays, no op determinism), for the MNIST and CIFAR-10 base nets. An epoch is
  training plus the test evaluation (what a user waits for); images/s = training images /
  epoch seconds, the median of ``--epochs`` epochs after one warm-up epoch;
* each speed lever on its own, with its ratio to plain Keras: op determinism (hwlib with
  the ``PLAIN_KERAS`` engine), ``steps_per_execution`` 1/10/50/200, ``tf.data`` feeding,
  an evaluation batch of 1000, ``jit_compile``, TensorFlow thread settings, TensorFlow's
  own kernels instead of oneDNN's (``TF_ENABLE_ONEDNN_OPTS=0``), and Keras 3
  on JAX (a separate process with ``KERAS_BACKEND=jax``; needs jax, see ``--install-jax``);
* equivalence: each lever's final test accuracy against its base (same seed), whether the
  training history is identical, and whether the default engine is bit-identical across
  two reruns in one process and across two processes;
* the engine levers again with two trainings side by side, as under hwlib's executor
  (:func:`bench_side_by_side`);
* study throughput: ``hwlib sweep`` against plain Keras one run after another, each timed as
  a whole process, on the full datasets with one epoch per run (:func:`bench_study`);
* memory: the RSS after each run of a tiny 7-configuration sweep in one process;
* optionally ``--book`` (``hwlib report`` + ``jupyter-book build`` with a warm store, each
  rerun once, on a temporary copy of book/) and ``--full-reproduction`` (``hwlib
  reproduce --study``, what ``make reproduce`` trains, into an empty temporary store: the
  whole study, hours).

The table is printed and everything written to ``benchmarks/results.json``. Timings are
only comparable within one run on one machine: see the recorded load average.

    python benchmarks/bench.py                          # everything but --book/--full-reproduction
    python benchmarks/bench.py --n-train 500 --epochs 2 --quick   # a smoke run (a minute)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results.json"
DEFAULT_JAX_SITE = ROOT / ".venv" / "jax-site"  # jax installed apart: it must not touch the venv's pins
BASE_NETS = {"mnist": "mnist-base", "cifar10": "cifar10-base"}
FULL_SIZES = {"mnist": (60000, 10000), "cifar10": (50000, 10000)}
SPE_SETTINGS = (1, 10, 50, 200, "epoch")  # "epoch": one execution per epoch (all its steps)
README = ROOT / "benchmarks" / "README.md"
TABLE_START, TABLE_END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


# =======================================================================================
# Worker side: one measured part, in its own process
# =======================================================================================
def _rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _experiment(spec: dict[str, Any]):
    from hwlib import experiments as E

    overrides: dict[str, Any] = {"epochs": spec["epochs"]}
    for name in ("n_train", "n_test"):
        if spec.get(name) is not None:
            overrides[name] = spec[name]
    return E.get(BASE_NETS[spec["dataset"]]).with_overrides(overrides)


def _dataset(exp):
    from hwlib import data as hwdata

    ds = hwdata.load(exp.dataset)
    t = exp.train
    return ds if t.n_train is None and t.n_test is None else ds.subset(t.n_train, t.n_test, seed=t.data_seed)


def _weights_sha(model) -> str:
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(w.tobytes())
    return h.hexdigest()[:16]


def _timer():
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t0)

    return Timer()


def _summary(label: str, seconds: list[float], n_train: int, history: dict[str, list[float]], model,
             wall: float) -> dict[str, Any]:
    measured = seconds[1:] or seconds  # the first epoch is the warm-up (tracing, compiling)
    median = statistics.median(measured)
    return {
        "label": label, "n_train": n_train, "epoch_seconds": [round(s, 3) for s in seconds],
        "median_epoch_s": round(median, 3), "images_per_s": round(n_train / median, 1),
        "best_images_per_s": round(n_train / min(measured), 1),  # the least disturbed epoch
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
        "final_test_accuracy": float(history["test_accuracy"][-1]),
        "weights_sha256": _weights_sha(model), "wall_s": round(wall, 2), "rss_after_mb": round(_rss_mb(), 1),
    }


def _plain_keras(exp, data, steps_per_execution: int = 1, jit_compile: Any = "auto") -> tuple[Any, dict, list]:
    """The plain-Keras baseline, written out: what a user of Keras would type."""
    import keras

    from hwlib.models import build_experiment

    keras.utils.set_random_seed(exp.train.seed)
    model = build_experiment(exp)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=exp.train.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    timer = _timer()
    h = model.fit(data.x_train, data.y_train, batch_size=exp.train.batch_size, epochs=exp.train.epochs,
                  validation_data=(data.x_test, data.y_test), verbose=0, callbacks=[timer]).history
    history = {"loss": h["loss"], "accuracy": h["accuracy"], "test_loss": h["val_loss"],
               "test_accuracy": h["val_accuracy"]}
    return model, history, timer.seconds


def _hwlib_fit(exp, data, engine) -> tuple[Any, dict, list]:
    from hwlib.train import fit

    model, hist, seconds = fit(exp, data, engine)
    return model, {k: hist[k].tolist() for k in ("loss", "accuracy", "test_loss", "test_accuracy")}, seconds


def worker_fit(spec: dict[str, Any]) -> dict[str, Any]:
    """kind: plain | hwlib | threads | jax. Runs one or more fits in this process."""
    kind = spec["kind"]
    if kind in ("plain", "jax"):  # plain Keras: TensorFlow's default threads, not hwlib's one
        _default_threads()
    if kind == "hwlib" and "inter_op" in spec:  # a worker's share of the cores, before TensorFlow starts
        from hwlib import runtime

        runtime.use_inter_op_threads(spec["inter_op"])
    if kind == "threads":  # before anything else touches TensorFlow
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(spec["intra"])
        tf.config.threading.set_inter_op_parallelism_threads(spec["inter"])
    exp = _experiment(spec)
    data = _dataset(exp)
    results = []
    for variant in spec["variants"]:
        t0 = time.perf_counter()
        if kind in ("plain", "threads"):
            model, history, seconds = _plain_keras(exp, data)
        elif kind == "jax":
            model, history, seconds = _plain_keras(exp, data, variant["steps_per_execution"], jit_compile=True)
        elif kind == "hwlib":
            import math

            from hwlib.train import Engine

            engine = dict(variant["engine"])
            if variant.get("setting") == "epoch":  # steps_per_execution = the epoch's steps
                engine["steps_per_execution"] = math.ceil(len(data.y_train) / exp.train.batch_size)
            model, history, seconds = _hwlib_fit(exp, data, Engine(**engine))
        else:
            raise SystemExit(f"unknown worker kind {kind!r}")
        results.append({**variant, **_summary(variant["label"], seconds, len(data.y_train), history, model,
                                              time.perf_counter() - t0)})
    import keras

    out: dict[str, Any] = {"results": results, "keras_backend": keras.backend.backend(),
                           "tensorflow_imported": "tensorflow" in sys.modules}
    if kind == "threads":
        import tensorflow as tf

        out["threads"] = {"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                          "inter": tf.config.threading.get_inter_op_parallelism_threads()}
    if kind == "jax":
        import jax

        out["jax"] = jax.__version__
        out["jax_devices"] = [str(d) for d in jax.devices()]
    return out


def worker_determinism(spec: dict[str, Any]) -> dict[str, Any]:
    """The default engine twice in this process: history and weights must be identical."""
    from hwlib.train import DEFAULT_ENGINE, fit

    exp = _experiment(spec)
    data = _dataset(exp)
    runs = []
    for _ in range(2):
        model, hist, _ = fit(exp, data, DEFAULT_ENGINE)
        runs.append({"weights_sha256": _weights_sha(model),
                     "history_sha256": hashlib.sha256(hist.to_csv(index=False).encode()).hexdigest()[:16],
                     "final_test_accuracy": float(hist["test_accuracy"].iloc[-1])})
    return {"runs": runs, "identical_in_process": runs[0] == runs[1]}


def worker_sweep_rss(spec: dict[str, Any]) -> dict[str, Any]:
    """The 7 MNIST sweep configurations, tiny, in one process (``passes`` times, each run
    trained afresh): RSS after each run. ``hwlib.train.seed_everything`` clears the Keras
    session before each run; a leak shows as a steady climb."""
    import keras  # noqa: F401 - loads TensorFlow: the "before" figure includes it

    from hwlib import experiments as E
    from hwlib.train import load_data, run

    overrides = {k: spec[k] for k in ("epochs", "n_train", "n_test") if spec.get(k) is not None}
    series = []
    with tempfile.TemporaryDirectory(prefix="hwlib-bench-store-") as store:
        load_data(E.sweep("mnist")[0].with_overrides(overrides))  # the dataset, cached for the process
        start = _rss_mb()
        for _ in range(spec.get("passes", 1)):
            for exp in E.sweep("mnist"):
                t0 = time.perf_counter()
                run(exp.with_overrides(overrides), store, weights=False, force=True)
                series.append({"experiment": exp.name, "rss_mb": round(_rss_mb(), 1),
                               "seconds": round(time.perf_counter() - t0, 2)})
    rss = [s["rss_mb"] for s in series]
    return {"rss_before_mb": round(start, 1), "series": series, "settings": overrides,
            "growth_after_first_mb": round(rss[-1] - rss[0], 1),
            "max_step_after_first_mb": round(max((b - a for a, b in zip(rss, rss[1:])), default=0.0), 1)}


def _study_experiments(spec: dict[str, Any]) -> list[Any]:
    from hwlib import experiments as E

    overrides = {k: spec[k] for k in ("epochs", "n_train", "n_test") if spec.get(k) is not None}
    return [exp.with_overrides(overrides) for exp in E.sweep(spec["dataset"])]


def _default_threads() -> None:
    """Undo hwlib's thread settings for this process (``import hwlib`` sets the variables;
    TensorFlow reads them when it starts): plain Keras runs with TensorFlow's defaults."""
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.pop(name, None)


def worker_study_plain(spec: dict[str, Any]) -> dict[str, Any]:
    """The same sweep as plain Keras would run it: `model.fit` one configuration after
    another in one process, TensorFlow's default threads, NumPy arrays, batch 32."""
    _default_threads()
    exps = _study_experiments(spec)
    data = _dataset(exps[0])
    import keras

    t0 = time.perf_counter()
    accuracies = []
    for exp in exps:
        model, history, _ = _plain_keras(exp, data)
        accuracies.append(round(100 * history["test_accuracy"][-1], 2))
        keras.backend.clear_session()
    import tensorflow as tf

    return {"wall_s": round(time.perf_counter() - t0, 2), "runs": len(exps), "test_accuracy": accuracies,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()}


WORKERS = {"fit": worker_fit, "determinism": worker_determinism, "sweep-rss": worker_sweep_rss,
           "study-plain": worker_study_plain}


# =======================================================================================
# Parent side: run the parts, collect, print, write JSON
# =======================================================================================
class Bench:
    def __init__(self, args: argparse.Namespace):
        from hwlib import allocator

        self.args = args
        self.logdir = Path(tempfile.mkdtemp(prefix="hwlib-bench-logs-"))
        # Plain Keras runs with the C library's malloc, as a script would; hwlib's trainings with
        # the allocator its commands and workers preload (jemalloc when found: hwlib.allocator).
        os.environ.pop("LD_PRELOAD", None)
        self.hwlib_env = allocator.environment()
        lib = allocator.library()
        self.malloc = Path(lib).name if lib else "system"
        self.parts: list[dict[str, Any]] = []

    def log(self, msg: str) -> None:
        print(msg, flush=True)

    def _spawn(self, runs: list[tuple[str, list[str]]], env: dict[str, str] | None = None,
               cwd: Path | None = None, timeout: float | None = None) -> list[tuple[int, float, float, Path]]:
        """Start every ``(name, argv)`` at once and wait for all; for each, in order: (exit
        code, wall seconds, peak RSS in MB, log file)."""
        started = []
        for i, (name, argv) in enumerate(runs):
            log = self.logdir / f"{len(self.parts) + i:02d}-{name}.log"
            out = open(log, "w")
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env or os.environ.copy(),
                                    cwd=cwd or ROOT, start_new_session=True)
            started.append((proc, out, log, time.perf_counter()))
        deadline = None if timeout is None else time.monotonic() + timeout
        done: dict[int, tuple[int, float, float, Path]] = {}
        while len(done) < len(started):
            for i, (proc, out, log, t0) in enumerate(started):
                if i in done:
                    continue
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if not pid and deadline is not None and time.monotonic() > deadline:
                    os.killpg(proc.pid, 9)
                    pid, status, usage = os.wait4(proc.pid, 0)
                if pid:
                    out.close()
                    # ru_maxrss: kB on Linux, the largest of the process and its waited children
                    done[i] = (os.waitstatus_to_exitcode(status), time.perf_counter() - t0, usage.ru_maxrss / 1024, log)
            if len(done) < len(started):
                time.sleep(0.2)
        return [done[i] for i in range(len(started))]

    def run_parts(self, runs: list[tuple[str, list[str], Path | None]], env: dict[str, str] | None = None,
                  cwd: Path | None = None, timeout: float | None = None) -> list[dict[str, Any]]:
        """Run every ``(name, argv, result file or None)`` at the same time; one entry each."""
        self.log(f"[{time.strftime('%H:%M:%S')}] {', '.join(name for name, _, _ in runs)} ...")
        entries = []
        spawned = self._spawn([(name, argv) for name, argv, _ in runs], env, cwd, timeout)
        for (name, _, result_file), (code, wall, peak, log) in zip(runs, spawned):
            entry: dict[str, Any] = {"part": name, "exit_code": code, "wall_s": round(wall, 2),
                                     "peak_rss_mb": round(peak, 1), "loadavg_after": list(os.getloadavg())}
            if code != 0:
                tail = log.read_text(errors="replace")[-2500:]
                entry["error"] = tail
                self.log(f"    {name} FAILED (exit {code}); log {log}:\n{tail}")
            elif result_file is not None:
                entry["result"] = json.loads(result_file.read_text())
            self.log(f"    {name + ': ' if len(runs) > 1 else ''}{wall:.1f} s, peak RSS {peak:.0f} MB")
            self.parts.append(entry)
            entries.append(entry)
        return entries

    def part(self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
             result_file: Path | None = None, timeout: float | None = None) -> dict[str, Any]:
        return self.run_parts([(name, argv, result_file)], env, cwd, timeout)[0]

    def _worker_run(self, name: str, kind: str, spec: dict[str, Any]) -> tuple[str, list[str], Path]:
        result = self.logdir / f"{name}.json"
        return name, [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--spec", json.dumps(spec),
                      "--result", str(result)], result

    def worker(self, name: str, kind: str, spec: dict[str, Any], env: dict[str, str] | None = None) -> dict | None:
        return self.run_parts([self._worker_run(name, kind, spec)], env=env)[0].get("result")

    def workers_side_by_side(self, name: str, kind: str, specs: list[dict[str, Any]],
                             env: dict[str, str] | None = None) -> list[dict | None]:
        """Run one worker per spec, all at the same time (as hwlib's executor runs its
        trainings), each with its own log and peak RSS; return their results."""
        runs = [self._worker_run(f"{name}-{i + 1}", kind, spec) for i, spec in enumerate(specs)]
        return [e.get("result") for e in self.run_parts(runs, env=env)]

    # -----------------------------------------------------------------------------------
    def sizes(self, dataset: str) -> dict[str, Any]:
        n_train, n_test = self.args.n_train, self.args.n_test
        if n_train is not None and n_test is None:  # keep the evaluation's share of an epoch
            full_train, full_test = FULL_SIZES[dataset]
            n_test = max(10, round(n_train * full_test / full_train))
        return {"dataset": dataset, "n_train": n_train, "n_test": n_test, "epochs": 1 + self.args.epochs}

    def jax_env(self) -> tuple[dict[str, str] | None, str]:
        env = os.environ.copy()
        env["KERAS_BACKEND"] = "jax"
        site = Path(self.args.jax_site)
        if site.is_dir():
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
        probe = [sys.executable, "-c",
                 "import jax, keras; assert keras.backend.backend() == 'jax'; print(jax.__version__)"]
        ok = subprocess.run(probe, env=env, capture_output=True, text=True)
        if ok.returncode != 0 and self.args.install_jax:
            self.log(f"installing jax into {site} (about 600 MB) ...")
            pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(site), "--no-deps",
                                  "jax", "jaxlib", "scipy"], capture_output=True, text=True)
            if pip.returncode != 0:
                return None, f"pip install jax failed: {pip.stderr.strip()[-300:]}"
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
            ok = subprocess.run(probe, env=env, capture_output=True, text=True)
        if ok.returncode != 0:
            return None, ("jax is not importable (run with --install-jax, or pip install jax into "
                          f"{site} with --target): {ok.stderr.strip()[-200:]}")
        return env, ok.stdout.strip()


def engine_dict(**changes: Any) -> dict[str, Any]:
    from hwlib.train import PLAIN_KERAS, Engine

    return asdict(Engine(**{**asdict(PLAIN_KERAS), **changes}))


def lever_variants(quick: bool) -> list[dict[str, Any]]:
    """hwlib.fit variants: PLAIN_KERAS with one setting changed (op determinism is on in all)."""
    spe = (1, 50) if quick else SPE_SETTINGS
    out = [{"lever": "steps_per_execution", "setting": str(k), "label": f"hwlib fit, steps_per_execution={k}",
            "engine": engine_dict(steps_per_execution=1 if k == "epoch" else k)} for k in spe]
    out.append({"lever": "pipeline", "setting": "tfdata", "label": "hwlib fit, tf.data feeding",
                "engine": engine_dict(pipeline="tfdata")})
    out.append({"lever": "eval_batch_size", "setting": "1000", "label": "hwlib fit, eval batch 1000",
                "engine": engine_dict(eval_batch_size=1000)})
    if not quick:
        out.append({"lever": "jit_compile", "setting": "True", "label": "hwlib fit, jit_compile=True",
                    "engine": engine_dict(jit_compile=True)})
    return out


def side_by_side_variants(quick: bool) -> list[dict[str, Any]]:
    """DEFAULT_ENGINE, then DEFAULT_ENGINE with one setting changed: the engine levers
    re-measured as hwlib's executor runs them (two trainings side by side)."""
    from hwlib.train import DEFAULT_ENGINE

    base = asdict(DEFAULT_ENGINE)
    out = [{"lever": "default", "setting": "DEFAULT_ENGINE", "engine": base,
            "label": f"DEFAULT_ENGINE (steps_per_execution={base['steps_per_execution']}, "
                     f"eval batch {base['eval_batch_size']}, {base['pipeline']})"}]
    default_spe = base["steps_per_execution"]
    settings = (50 if default_spe != 50 else 200,) if quick else (10, 50, 200, "epoch")
    for k in (k for k in settings if k != default_spe):
        out.append({"lever": "steps_per_execution", "setting": str(k), "label": f"steps_per_execution={k}",
                    "engine": {**base, "steps_per_execution": 1 if k == "epoch" else k}})
    out.append({"lever": "eval_batch_size", "setting": "32", "label": "eval batch 32",
                "engine": {**base, "eval_batch_size": 32}})
    if not quick:
        out.append({"lever": "jit_compile", "setting": "True", "label": "jit_compile=True",
                    "engine": {**base, "jit_compile": True}})
    return out


def bench_side_by_side(b: Bench, args: argparse.Namespace, dataset: str) -> list[dict[str, Any]]:
    """Each engine lever of :func:`side_by_side_variants` timed as hwlib's executor runs it on
    two cores: two processes train the same variants in the same order at the same time (the
    executor's workers all use one engine; each process with the inter-op threads a worker of
    two gets, :func:`hwlib.runtime.inter_op_threads`), DEFAULT_ENGINE first and again last, then an
    unmeasured repeat so that neither process trains its last measured variant alone. A
    variant's ratio is its img/s over DEFAULT_ENGINE's in the same process (the mean of its
    first and last measurement, which cancels a drift of the machine's load); the two
    processes' ratios are reported with their mean."""
    variants = side_by_side_variants(args.quick)
    again = {**variants[0], "label": "DEFAULT_ENGINE again"}
    filler = {**variants[0], "label": "filler"}
    from hwlib.executor import usable_cores
    from hwlib.runtime import inter_op_threads

    spec = {**b.sizes(dataset), "kind": "hwlib", "variants": [*variants, again, filler],
            "inter_op": inter_op_threads(2, usable_cores())}
    got = b.workers_side_by_side(f"side-by-side-{dataset}", "fit", [spec, spec], env=b.hwlib_env)
    if not all(got):
        return []
    per_process = [{r["label"]: r for r in g["results"]} for g in got]
    base_label = variants[0]["label"]
    rows = []
    bases = [statistics.mean((p[base_label]["images_per_s"], p[again["label"]]["images_per_s"])) for p in per_process]
    drift = [round(p[again["label"]]["images_per_s"] / p[base_label]["images_per_s"], 3) for p in per_process]
    for v in variants:
        runs = [p[v["label"]] for p in per_process]
        ratios = [r["images_per_s"] / base for r, base in zip(runs, bases)]
        base = per_process[0][base_label]
        rows.append({"dataset": dataset, "lever": v["lever"], "setting": v["setting"], "label": v["label"],
                     "images_per_s": [r["images_per_s"] for r in runs],
                     "ratio_vs_default": [round(x, 3) for x in ratios],
                     "mean_ratio": round(statistics.mean(ratios), 3),
                     "default_drift": drift,
                     "final_test_accuracy": runs[0]["final_test_accuracy"],
                     "history_identical": runs[0]["history"] == base["history"],
                     "train_history_identical": (runs[0]["history"]["loss"] == base["history"]["loss"]
                                                 and runs[0]["history"]["accuracy"] == base["history"]["accuracy"])})
    return rows


def _version(*dists: str) -> str | None:
    from importlib import metadata

    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return None


def run_benchmarks(args: argparse.Namespace) -> dict[str, Any]:
    from hwlib import __version__
    from hwlib.train import DEFAULT_ENGINE, PLAIN_KERAS, cpu_model

    b = Bench(args)
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {
        "machine": {
            "cores": cores, "cpu": cpu_model(), "platform": platform.platform(),
            "python": sys.version.split()[0], "tensorflow": _version("tensorflow-cpu", "tensorflow"),
            "keras": _version("keras"), "numpy": _version("numpy"), "hwlib": __version__, "jax": None,
            "loadavg_start": list(os.getloadavg()), "malloc_hwlib": b.malloc,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "settings": {"measured_epochs": args.epochs, "warmup_epochs": 1, "n_train": args.n_train,
                     "n_test": args.n_test, "quick": args.quick, "datasets": args.datasets,
                     "lever_datasets": args.lever_datasets, "default_engine": asdict(DEFAULT_ENGINE),
                     "plain_engine": asdict(PLAIN_KERAS),
                     "data_dir": os.environ.get("HWLIB_DATA_DIR"),
                     "images_per_s": "training images / epoch seconds (training + test evaluation), "
                                     "median of the measured epochs after one warm-up epoch"},
        "throughput": [], "levers": [], "side_by_side": [], "equivalence": {}, "sweep_rss": None, "book": None,
        "full_reproduction": None, "parts": b.parts,
    }
    plain: dict[str, dict[str, Any]] = {}

    # -- headline: plain Keras vs hwlib (DEFAULT_ENGINE), each base net, interleaved pairs ------
    out["throughput_pairs"] = []
    for ds in args.datasets:
        spec = b.sizes(ds)
        sides = {"plain": {**spec, "kind": "plain",
                           "variants": [{"label": "plain Keras (model.fit on NumPy, batch 32)"}]},
                 "hwlib": {**spec, "kind": "hwlib",
                           "variants": [{"label": "hwlib fit, DEFAULT_ENGINE", "engine": asdict(DEFAULT_ENGINE)}]}}
        pairs, load = [], [list(os.getloadavg())]
        for i in range(args.pairs):
            order = ("plain", "hwlib") if i % 2 == 0 else ("hwlib", "plain")
            got = {}
            for side in order:
                r = b.worker(f"{side}-{ds}-{i + 1}", "fit", sides[side], env=b.hwlib_env if side == "hwlib" else None)
                got[side] = r["results"][0] if r else None
            load.append(list(os.getloadavg()))
            if got["plain"] and got["hwlib"]:
                pairs.append((got["plain"]["images_per_s"], got["hwlib"]["images_per_s"]))
                if i == 0:
                    plain[ds] = got["plain"]
                    out["throughput"] += [{"dataset": ds, "config": side, **got[side]} for side in ("plain", "hwlib")]
        out["throughput_pairs"].append({"dataset": ds, "loadavg": load,
                                        "pairs": [{"plain_images_per_s": p, "hwlib_images_per_s": h}
                                                  for p, h in pairs],
                                        **pair_ratios(pairs)})

    # -- levers, one at a time ----------------------------------------------------------------
    for ds in args.lever_datasets:
        spec = b.sizes(ds)
        r = b.worker(f"levers-{ds}", "fit", {**spec, "kind": "hwlib", "variants": lever_variants(args.quick)})
        base = None
        for res in (r or {}).get("results", []):
            if res["lever"] == "steps_per_execution" and res["setting"] == "1":
                base = res  # PLAIN_KERAS through hwlib: plain + op determinism
                out["levers"].append({"dataset": ds, **res, "lever": "op determinism", "setting": "on",
                                      "label": "hwlib fit, PLAIN_KERAS engine (op determinism on)",
                                      "base": "plain"})
            out["levers"].append({"dataset": ds, **res, "base": "hwlib fit, PLAIN_KERAS engine"})
        for res in out["levers"]:
            if res["dataset"] == ds and res["base"] != "plain" and base is not None:
                res["_base"] = base
        for setting in args.threads if not args.quick else args.threads[:1]:
            intra, inter = (int(v.replace("cores", str(cores))) for v in setting.split(":"))
            label = f"plain Keras, intra_op={intra}, inter_op={inter}"
            r = b.worker(f"threads-{intra}x{inter}-{ds}", "fit",
                         {**spec, "kind": "threads", "intra": intra, "inter": inter, "variants": [{"label": label}]})
            if r:
                out["levers"].append({"dataset": ds, **r["results"][0], "lever": "threads",
                                      "setting": f"intra={intra}, inter={inter}", "base": "plain",
                                      "applied": r["threads"]})
        if not args.quick:  # TensorFlow's own kernels instead of oneDNN's (other numerics)
            r = b.worker(f"onednn-off-{ds}", "fit", {**spec, "kind": "plain", "variants": [
                {"label": "plain Keras, TF_ENABLE_ONEDNN_OPTS=0"}]}, env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"})
            if r:
                out["levers"].append({"dataset": ds, **r["results"][0], "lever": "oneDNN off",
                                      "setting": "TF_ENABLE_ONEDNN_OPTS=0", "base": "plain"})
        if not args.quick and b.malloc != "system":  # the allocator hwlib's trainings preload, alone
            r = b.worker(f"malloc-{ds}", "fit", {**spec, "kind": "plain", "variants": [
                {"label": f"plain Keras, {b.malloc} preloaded"}]}, env=b.hwlib_env)
            if r:
                out["levers"].append({"dataset": ds, **r["results"][0], "lever": "allocator",
                                      "setting": b.malloc, "base": "plain"})
        if args.no_jax or args.quick:
            out["equivalence"].setdefault("jax", "skipped (--no-jax or --quick)")
            continue
        env, info = b.jax_env()
        if env is None:
            out["equivalence"]["jax"] = f"skipped: {info}"
            b.log(f"    JAX skipped: {info}")
            continue
        out["machine"]["jax"] = info
        variants = [{"label": f"Keras on JAX, plain model.fit, steps_per_execution={k}", "steps_per_execution": k}
                    for k in (1, 50)]
        r = b.worker(f"jax-{ds}", "fit", {**spec, "kind": "jax", "variants": variants}, env=env)
        for res in (r or {}).get("results", []):
            out["levers"].append({"dataset": ds, **res, "lever": "JAX backend (jit)",
                                  "setting": f"steps_per_execution={res['steps_per_execution']}", "base": "plain",
                                  "tensorflow_imported": r["tensorflow_imported"]})

    # -- engine levers again, two trainings side by side (as hwlib's executor runs them) ----------
    out["side_by_side"] = [row for ds in args.lever_datasets for row in bench_side_by_side(b, args, ds)]

    # -- ratios and result equivalence -------------------------------------------------------
    for row in out["throughput"]:
        p = plain.get(row["dataset"])
        row["ratio_vs_plain"] = round(row["images_per_s"] / p["images_per_s"], 2) if p else None
    tol = args.acc_tolerance_pp
    for row in out["levers"]:
        p = plain.get(row["dataset"])
        row["ratio_vs_plain"] = round(row["images_per_s"] / p["images_per_s"], 2) if p else None
        base = row.pop("_base", None) if row["base"] != "plain" else p
        if base is not None:
            row["ratio_vs_base"] = round(row["images_per_s"] / base["images_per_s"], 2)
            row["delta_test_acc_pp"] = round(100 * (row["final_test_accuracy"] - base["final_test_accuracy"]), 3)
            row["acc_within_tolerance"] = abs(row["delta_test_acc_pp"]) <= tol
            row["train_history_identical"] = (row["history"]["loss"] == base["history"]["loss"]
                                              and row["history"]["accuracy"] == base["history"]["accuracy"])

    # -- determinism of the default engine: twice in a process, in two processes -----------------
    for ds in args.datasets:
        spec = {**b.sizes(ds), "epochs": 2}
        spec["n_train"] = min(spec["n_train"] or 10**9, args.determinism_n_train)
        spec["n_test"] = min(spec["n_test"] or 10**9, max(10, spec["n_train"] // 5))
        got = [b.worker(f"determinism-{ds}-{i}", "determinism", spec, env=b.hwlib_env)
               for i in range(1 if args.quick else 2)]
        got = [g for g in got if g]
        hashes = {(r["weights_sha256"], r["history_sha256"]) for g in got for r in g["runs"]}
        out["equivalence"][f"default_engine_{ds}"] = {
            "settings": spec, "processes": len(got),
            "identical_in_process": all(g["identical_in_process"] for g in got) if got else None,
            "identical_across_processes": len(hashes) == 1 if len(got) > 1 else None,
            "weights_sha256": sorted({h[0] for h in hashes}),
        }

    # -- study throughput: hwlib's executor vs plain Keras one run after another, interleaved --
    out["study"] = [bench_study(b, args, ds) for ds in args.study_datasets]

    # -- memory across a 7-run sweep ----------------------------------------------------------
    sweep = {"epochs": 1, "n_train": args.sweep_n_train, "n_test": max(10, args.sweep_n_train // 2),
             "passes": args.sweep_passes}
    r = b.worker("sweep-rss", "sweep-rss", sweep)
    out["sweep_rss"] = r

    # -- report + book (warm store), each rerun once ----------------------------------------------
    if args.book:
        out["book"] = bench_book(b, args)
    if args.full_reproduction:
        with tempfile.TemporaryDirectory(prefix="hwlib-bench-reproduce-") as store:
            e = b.part("reproduce", [str(Path(sys.executable).with_name("hwlib")), "reproduce", "--study",
                                     "--quiet", "--store", store])
            out["full_reproduction"] = {"wall_s": e["wall_s"], "peak_rss_mb": e["peak_rss_mb"],
                                        "exit_code": e["exit_code"], "runs": len(list(Path(store, "runs").glob("*")))}
    out["machine"]["loadavg_end"] = list(os.getloadavg())
    out["machine"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    out["logs"] = str(b.logdir)
    return out


# The study sweeps at full size (every training and test image, as the study trains them),
# one epoch per run instead of 10 (MNIST) or 15 (CIFAR-10): the per-run costs (starting
# TensorFlow, loading the data, tracing, writing the store) then weigh several times more than
# in the real study, so the measured ratio is, if anything, below the study's.
STUDY_SIZES = {"mnist": {"epochs": 1}, "cifar10": {"epochs": 1}}


def pair_ratios(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """For interleaved pairs ``(a, b)`` the ratios ``b / a``, their median, min and max: each
    pair ran back to back, so contention hits both sides alike. A speed-up of hwlib is
    (hwlib seconds, plain seconds) or (plain images/s, hwlib images/s)."""
    import statistics

    if not pairs:
        return {"ratios": [], "median": None, "min": None, "max": None}
    ratios = [b / a for a, b in pairs]
    return {"ratios": [round(r, 3) for r in ratios], "median": round(statistics.median(ratios), 3),
            "min": round(min(ratios), 3), "max": round(max(ratios), 3)}


def hwlib_sweep_argv(dataset: str, store: str, spec: dict[str, Any]) -> list[str]:
    """The command a user types for the sweep (``hwlib sweep DATASET``), with the bench's
    shortening as ``--set`` overrides, into the store ``store``."""
    argv = [sys.executable, "-c", "import sys; from hwlib.cli import main; sys.exit(main())",
            "sweep", dataset, "--store", store, "--quiet"]
    for name in ("epochs", "n_train", "n_test"):
        if spec.get(name) is not None:
            argv += ["--set", f"{name}={spec[name]}"]
    return argv


def bench_study(b: Bench, args: argparse.Namespace, dataset: str) -> dict[str, Any]:
    """The sweep of ``dataset`` (one epoch per run: :data:`STUDY_SIZES`) as a user waits for
    it: ``hwlib sweep`` into an empty store (A, hwlib's default executor: local workers, one
    TensorFlow thread each) against a script training plain Keras ``model.fit`` one run
    after another (B, TensorFlow's default threads). Both are timed as whole processes, from
    start to exit, so each pays its own start-up (TensorFlow import, data load). The pairs
    run ABBA... (the order alternates so a drift in the machine's load favours neither side);
    the speed-up is the median of the pairs' B/A."""
    spec = {"dataset": dataset, **STUDY_SIZES[dataset]}
    if args.n_train is not None:  # a smoke run on small data
        spec.update(n_train=args.n_train, n_test=b.sizes(dataset)["n_test"])
    if args.quick:
        spec.update(epochs=1)
    pairs, load, plain_inside = [], [list(os.getloadavg())], []
    for i in range(args.study_pairs):
        order = ("hwlib", "plain") if i % 2 == 0 else ("plain", "hwlib")
        times = {}
        for side in order:
            name = f"study-{dataset}-{side}-{i + 1}"
            if side == "hwlib":
                store = tempfile.mkdtemp(prefix="hwlib-bench-study-")
                try:
                    entry = b.part(name, hwlib_sweep_argv(dataset, store, spec), env=b.hwlib_env)
                finally:
                    shutil.rmtree(store, ignore_errors=True)
            else:
                r = b.worker(name, "study-plain", spec)
                entry = b.parts[-1]
                if r:
                    plain_inside.append(r["wall_s"])
            times[side] = entry["wall_s"] if entry["exit_code"] == 0 else float("nan")
        pairs.append((times["hwlib"], times["plain"]))
        load.append(list(os.getloadavg()))
    return {"dataset": dataset, "settings": spec, "runs": len(_study_names(dataset)),
            "timed": "whole process (start to exit)", "pairs": [{"hwlib_s": a, "plain_s": p} for a, p in pairs],
            "plain_training_only_s": plain_inside, "loadavg": load, **pair_ratios(pairs)}


def _study_names(dataset: str) -> tuple[str, ...]:
    from hwlib.experiments import SWEEPS

    return SWEEPS[dataset]


def bench_book(b: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """`hwlib report` and `jupyter-book build` on a temporary copy of book/ (the checkout's
    notebooks are not touched), with the store warm; then each again, with nothing to do."""
    store = Path(args.store or os.environ.get("HWLIB_STORE") or ROOT / "results").resolve()
    tmp = Path(tempfile.mkdtemp(prefix="hwlib-bench-book-"))
    book = tmp / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "tmp*.ipynb"))
    env = dict(os.environ, HWLIB_STORE=str(store), HWLIB_NO_TRAIN="1")  # warm store: never train here
    report = [sys.executable, "-c",
              "import pathlib, sys; import hwlib.book as r; r.book_dir = lambda: pathlib.Path(sys.argv[1]); "
              "from hwlib.cli import main; sys.exit(main(['report']))", str(book)]
    jb = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(book), "-n", "--keep-going"]
    out: dict[str, Any] = {"store": str(store), "copy": str(book)}
    for name, argv in (("report", report), ("report-rerun", report), ("book-build", jb), ("book-rebuild", jb)):
        e = b.part(name, argv, env=env)
        out[name] = {"wall_s": e["wall_s"], "peak_rss_mb": e["peak_rss_mb"], "exit_code": e["exit_code"]}
    if not args.keep_book:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# =======================================================================================
# Printing
# =======================================================================================
def _fmt(v: Any, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def print_tables(out: dict[str, Any]) -> None:
    m = out["machine"]
    print()
    print(f"machine: {m['cores']} cores, {m['cpu']}; TF {m['tensorflow']}, Keras {m['keras']}, "
          f"NumPy {m['numpy']}, JAX {m['jax'] or '-'}; load average {m['loadavg_start'][0]:.2f} at start, "
          f"{m.get('loadavg_end', [0])[0]:.2f} at end; hwlib's trainings with "
          f"{_malloc_words(m.get('malloc_hwlib', 'system'))}")
    s = out["settings"]
    print(f"img/s: {s['images_per_s']} ({s['measured_epochs']} measured epochs; n_train "
          f"{s['n_train'] or 'all'}); best: the fastest measured epoch; x plain / x base: ratios of img/s")
    rss = {p["part"]: p["peak_rss_mb"] for p in out["parts"]}
    head = (f"{'dataset':<8} {'configuration':<58} {'img/s':>7} {'best':>7} {'x plain':>8} {'x base':>7} "
            f"{'test acc':>9} {'d pp':>7}  {'same hist':>9}")
    print("\nThroughput: hwlib vs plain Keras")
    print(head)
    for r in out["throughput"]:
        print(f"{r['dataset']:<8} {r['label']:<58} {r['images_per_s']:>7.0f} {r['best_images_per_s']:>7.0f} "
              f"{_fmt(r['ratio_vs_plain'], '.2f'):>8} {'':>7} {100 * r['final_test_accuracy']:>8.2f}%")
    for tp in out.get("throughput_pairs", []):
        print(f"  {tp['dataset']}: hwlib / plain img/s over {len(tp['pairs'])} interleaved pairs: median "
              f"x{tp['median']:.2f} (min {tp['min']:.2f}, max {tp['max']:.2f}); load "
              f"{tp['loadavg'][0][0]:.2f}-{tp['loadavg'][-1][0]:.2f}")
    print("\nSpeed levers, one at a time (x base: against plain Keras, or against hwlib fit with the "
          "PLAIN_KERAS engine for engine levers)")
    print(head)
    for r in out["levers"]:
        same = {True: "yes", False: "no"}.get(r.get("train_history_identical"), "-")
        print(f"{r['dataset']:<8} {r['label'][:58]:<58} {r['images_per_s']:>7.0f} {r['best_images_per_s']:>7.0f} "
              f"{_fmt(r['ratio_vs_plain'], '.2f'):>8} "
              f"{_fmt(r.get('ratio_vs_base'), '.2f'):>7} {100 * r['final_test_accuracy']:>8.2f}% "
              f"{_fmt(r.get('delta_test_acc_pp'), '+.2f'):>7}  {same:>9}")
    if out.get("side_by_side"):
        print("\nEngine levers with two trainings side by side (hwlib's executor on 2 cores); x default: img/s "
              "over DEFAULT_ENGINE's in the same process, for each of the two processes")
        for r in out["side_by_side"]:
            print(f"{r['dataset']:<8} {r['label'][:58]:<58} "
                  f"{' / '.join(f'{v:.0f}' for v in r['images_per_s']):>13} img/s  x default "
                  f"{' / '.join(f'{v:.2f}' for v in r['ratio_vs_default'])} (mean {r['mean_ratio']:.2f})  "
                  f"same history: {'yes' if r['history_identical'] else 'no'}")
    if "jax" in out["equivalence"]:
        print(f"  JAX: {out['equivalence']['jax']}")
    print("\nDefault engine reruns (bit-identical weights and history):")
    for k, v in out["equivalence"].items():
        if k.startswith("default_engine_"):
            print(f"  {k[15:]:<8} in one process: {v['identical_in_process']}, across {v['processes']} "
                  f"processes: {v['identical_across_processes']}  ({v['settings']['n_train']} images, 2 epochs)")
    if out.get("study"):
        print("\nStudy throughput: `hwlib sweep` into an empty store (A) vs plain Keras one run after another "
              "in one script (B), each timed as a whole process; x = B/A per interleaved pair")
        for st in out["study"]:
            times = "; ".join(f"{p['hwlib_s']:.0f} s vs {p['plain_s']:.0f} s" for p in st["pairs"])
            print(f"  {st['dataset']:<8} {st['runs']} runs ({study_size(st['settings'])}): "
                  f"median x{st['median']:.2f} (min {st['min']:.2f}, "
                  f"max {st['max']:.2f}); {times}; load {st['loadavg'][0][0]:.2f}-{st['loadavg'][-1][0]:.2f}")
    sw = out.get("sweep_rss")
    if sw:
        series = ", ".join(f"{s['rss_mb']:.0f}" for s in sw["series"])
        print(f"\nRSS after each run of a {len(sw['series'])}-run sweep in one process (MB): {series}  (before: "
              f"{sw['rss_before_mb']:.0f}; growth after run 1: {sw['growth_after_first_mb']:+.0f} MB)")
    if out.get("book"):
        bk = out["book"]
        print("\nReport and book (warm store):")
        for k in ("report", "report-rerun", "book-build", "book-rebuild"):
            print(f"  {k:<13} {bk[k]['wall_s']:>8.1f} s  peak RSS {bk[k]['peak_rss_mb']:>6.0f} MB  "
                  f"exit {bk[k]['exit_code']}")
    if out.get("full_reproduction"):
        fr = out["full_reproduction"]
        print(f"\nhwlib reproduce into an empty store: {fr['wall_s']:.0f} s, peak RSS {fr['peak_rss_mb']:.0f} MB, "
              f"{fr['runs']} runs, exit {fr['exit_code']}")
    print("\nPeak RSS per part (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))


def study_size(settings: dict[str, Any]) -> str:
    """``"1 epoch on all images"``, ``"2 epochs on 12000 images"``."""
    epochs = settings["epochs"]
    images = "all" if settings.get("n_train") is None else settings["n_train"]
    return f"{epochs} epoch{'s' if epochs != 1 else ''} on {images} images"


def _malloc_words(malloc: str) -> str:
    return "the C library's malloc" if malloc == "system" else f"{malloc} preloaded"


def readme_table(out: dict[str, Any]) -> str:
    """The one results table of benchmarks/README.md, rendered from a results.json: the
    headline ratios (interleaved pairs) against the issue's targets, then every lever."""
    m = out["machine"]
    lines = [f"Measured {m['started'][:10]} on {m['cores']} cores ({m['cpu']}), TensorFlow {m['tensorflow']}, "
             f"Keras {m['keras']}; load average {m['loadavg_start'][0]:.2f} at the start, "
             f"{m.get('loadavg_end', [float('nan')])[0]:.2f} at the end; hwlib's trainings with "
             f"{_malloc_words(m.get('malloc_hwlib', 'system'))}, plain Keras's with the C library's. "
             "Ratios: the median over interleaved A/B pairs (min–max); > 1 means hwlib is faster.", "",
             "| measurement | hwlib | plain Keras | ratio (min–max) | target |", "| --- | --- | --- | --- | --- |"]
    targets = {"throughput": 1.6, "study": {"mnist": 2.5, "cifar10": 2.0}}
    for tp in out.get("throughput_pairs", []):
        if not tp["pairs"]:
            continue
        h = statistics.median(p["hwlib_images_per_s"] for p in tp["pairs"])
        pl = statistics.median(p["plain_images_per_s"] for p in tp["pairs"])
        lines.append(f"| per epoch, {tp['dataset']} base net ({len(tp['pairs'])} pairs) | {h:.0f} img/s | "
                     f"{pl:.0f} img/s | ×{tp['median']:.2f} ({tp['min']:.2f}–{tp['max']:.2f}) | "
                     f"≥ {targets['throughput']} |")
    for st in out.get("study") or []:
        s = st["settings"]
        h = statistics.median(p["hwlib_s"] for p in st["pairs"])
        pl = statistics.median(p["plain_s"] for p in st["pairs"])
        lines.append(f"| study: {st['dataset']} sweep, {st['runs']} runs × {study_size(s)}, whole command "
                     f"({len(st['pairs'])} pairs) | {h:.0f} s | {pl:.0f} s | ×{st['median']:.2f} "
                     f"({st['min']:.2f}–{st['max']:.2f}) | ≥ {targets['study'].get(st['dataset'], '-')} |")
    fr = out.get("full_reproduction")
    if fr and fr.get("exit_code") == 0:
        from hwlib.progress import duration

        lines.append(f"| the whole study, `hwlib reproduce --study` into an empty store ({fr['runs']} runs) | "
                     f"{duration(fr['wall_s'])} | – | – | ≤ 2.5 h |")
    lines += ["", "| lever (one at a time, one process) | img/s | × its base | × plain Keras | same history |",
              "| --- | --- | --- | --- | --- |"]
    for r in out.get("levers", []):
        same = {True: "yes", False: "no"}.get(r.get("train_history_identical"), "–")
        lines.append(f"| {r['dataset']}: {r['label']} | {r['images_per_s']:.0f} | "
                     f"{_fmt(r.get('ratio_vs_base'), '.2f')} | {_fmt(r.get('ratio_vs_plain'), '.2f')} | {same} |")
    if out.get("side_by_side"):
        lines += ["", "| engine lever, two trainings side by side | img/s (each process) | × DEFAULT_ENGINE (mean) "
                  "| same history |", "| --- | --- | --- | --- |"]
        for r in out["side_by_side"]:
            lines.append(f"| {r['dataset']}: {r['label']} | {' / '.join(f'{v:.0f}' for v in r['images_per_s'])} | "
                         f"{' / '.join(f'{v:.2f}' for v in r['ratio_vs_default'])} ({r['mean_ratio']:.2f}) | "
                         f"{'yes' if r['history_identical'] else 'no'} |")
    return "\n".join(lines)


def write_readme_table(out: dict[str, Any], path: Path = README) -> None:
    """Replace the table between the README's markers with :func:`readme_table`."""
    text = path.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    path.write_text(text[:start] + "\n" + readme_table(out) + "\n" + text[end:])


# =======================================================================================
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3, help="measured epochs, after one warm-up epoch (default 3)")
    p.add_argument("--n-train", type=int, default=None,
                   help="training images per run (default: all); shrinks n_test in proportion unless --n-test")
    p.add_argument("--n-test", type=int, default=None, help="test images per run (default: all, or in proportion)")
    p.add_argument("--datasets", default="mnist,cifar10", help="headline datasets (default mnist,cifar10)")
    p.add_argument("--lever-datasets", default="mnist", help="datasets for the lever runs (default mnist; '' for none)")
    p.add_argument("--threads", default="1:1,cores:1",
                   help="intra:inter thread settings to try ('cores' = CPU count; default 1:1,cores:1)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: fewer levers (no jit, one thread setting, no JAX), one determinism process")
    p.add_argument("--no-jax", action="store_true", help="skip the JAX backend")
    p.add_argument("--install-jax", action="store_true",
                   help="pip install jax into --jax-site if it is missing (about 600 MB)")
    p.add_argument("--jax-site", default=str(DEFAULT_JAX_SITE), help="folder holding jax (pip --target)")
    p.add_argument("--determinism-n-train", type=int, default=10000,
                   help="training images of the default-engine rerun check (default 10000)")
    p.add_argument("--sweep-n-train", type=int, default=1000, help="training images per sweep run (default 1000)")
    p.add_argument("--sweep-passes", type=int, default=1,
                   help="times the 7-run sweep is repeated in the RSS process (default 1: 7 runs)")
    p.add_argument("--acc-tolerance-pp", type=float, default=1.0,
                   help="a lever's final test accuracy counts as equal within this many points (default 1)")
    p.add_argument("--study-datasets", default="mnist,cifar10",
                   help="sweeps timed as a study, hwlib vs plain Keras (default mnist,cifar10; '' for none)")
    p.add_argument("--study-pairs", type=int, default=3, help="interleaved hwlib/plain pairs per study (default 3)")
    p.add_argument("--pairs", type=int, default=3,
                   help="interleaved plain/hwlib pairs of the per-epoch throughput (default 3)")
    p.add_argument("--book", action="store_true", help="also time hwlib report + jupyter-book build (minutes)")
    p.add_argument("--keep-book", action="store_true", help="keep the temporary book copy of --book")
    p.add_argument("--store", help="the warm store for --book (default $HWLIB_STORE or results/)")
    p.add_argument("--full-reproduction", action="store_true",
                   help="also time hwlib reproduce --study (the whole study) into an empty store (hours)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"JSON results (default {DEFAULT_OUT.relative_to(ROOT)})")
    p.add_argument("--show", action="store_true",
                   help="print the tables of the results already in --out (measures nothing)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.datasets = [d for d in args.datasets.split(",") if d]
    args.lever_datasets = [d for d in args.lever_datasets.split(",") if d]
    args.study_datasets = [d for d in args.study_datasets.split(",") if d]
    args.threads = [t for t in args.threads.split(",") if t]
    for d in args.datasets + args.lever_datasets:
        if d not in BASE_NETS:
            p.error(f"unknown dataset {d!r}: use mnist, cifar10")
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](json.loads(args.spec))
        Path(args.result).write_text(json.dumps(result, indent=1))
        return 0
    if args.show:
        print_tables(json.loads(Path(args.out).read_text()))
        return 0
    from hwlib.errors import HwlibError

    try:
        out = run_benchmarks(args)
    except HwlibError as exc:  # e.g. a bad HWLIB_MALLOC
        print(f"bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print_tables(out)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    if Path(args.out).resolve() == DEFAULT_OUT.resolve():  # the committed results: keep the README's table in step
        write_readme_table(out)
        print(f"wrote the table of {README.relative_to(ROOT)}")
    failed = [p["part"] for p in out["parts"] if p["exit_code"] != 0]
    if failed:
        print(f"failed parts: {', '.join(failed)} (logs in {out['logs']})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
