"""hwlib benchmarks (``make bench``): hwlib against plain Keras, timed as interleaved pairs.

* per epoch: images/s of ``hwlib.train.fit`` (``DEFAULT_ENGINE``) against plain Keras (the same
  model, ``model.fit`` on NumPy arrays with the config's batch size, TensorFlow's default
  threads, no op determinism), MNIST and CIFAR-10 base nets. An epoch is training plus the test
  evaluation; images/s = training images / the median epoch after one warm-up epoch;
* the study: ``hwlib sweep DATASET`` into an empty store (its default executor) against a
  script training the same runs with plain Keras one after another, each timed as a whole
  process (start to exit), on the full datasets with one epoch per run.

Every measured side runs in its own process (``bench.py --worker ...``). The two sides of a
pair run back to back, the order alternating from pair to pair, so a drift of the machine's load
favours neither; a ratio is plain Keras's time over hwlib's (> 1: hwlib is faster). The tables
are printed and everything is written to ``benchmarks/results.json``; ``--show`` prints them again.

    python benchmarks/bench.py                                   # the full measurement
    python benchmarks/bench.py --n-train 500 --epochs 1 --pairs 1 --study-pairs 1   # a smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results.json"
BASE_NETS = {"mnist": "mnist-base", "cifar10": "cifar10-base"}


# -- one measured side, in its own process ------------------------------------------------------
def _plain_keras_threads() -> None:
    """TensorFlow's default threads for plain Keras (``import hwlib`` set its own; TensorFlow
    reads the variables when it starts)."""
    import hwlib  # noqa: F401 - sets the variables first

    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.pop(name, None)


def _plain_keras(exp: Any, data: Any) -> list[float]:
    """Train ``exp`` as plain Keras does (what a user of Keras would type); the epoch seconds."""
    import keras

    from hwlib.models import build_experiment

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.t0)

    seconds: list[float] = []
    keras.utils.set_random_seed(exp.train.seed)
    model = build_experiment(exp)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=exp.train.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, batch_size=exp.train.batch_size, epochs=exp.train.epochs,
              validation_data=(data.x_test, data.y_test), verbose=0, callbacks=[Timer()])
    keras.backend.clear_session()
    return seconds


def worker_fit(spec: dict[str, Any]) -> dict[str, Any]:
    """One side of a per-epoch pair: the base net of ``spec["dataset"]``, plain or hwlib."""
    if spec["side"] == "plain":
        _plain_keras_threads()
    from hwlib import experiments as E
    from hwlib.train import DEFAULT_ENGINE, fit, load_data

    exp = E.get(BASE_NETS[spec["dataset"]]).with_overrides(spec["overrides"])
    data = load_data(exp)
    seconds = _plain_keras(exp, data) if spec["side"] == "plain" else fit(exp, data, DEFAULT_ENGINE)[2]
    median = statistics.median(seconds[1:] or seconds)  # the first epoch warms up (tracing)
    return {"epoch_seconds": [round(s, 3) for s in seconds], "images_per_s": round(len(data.y_train) / median, 1)}


def worker_study_plain(spec: dict[str, Any]) -> dict[str, Any]:
    """The plain-Keras side of a study pair: the runs ``hwlib sweep`` trains, one after another."""
    _plain_keras_threads()
    from hwlib import experiments as E
    from hwlib.train import load_data

    t0 = time.perf_counter()
    for name in E.SWEEPS[spec["dataset"]]:
        exp = E.prepare(name, variant=spec["variant"]).with_overrides(spec["overrides"])
        _plain_keras(exp, load_data(exp))
    return {"training_s": round(time.perf_counter() - t0, 2)}


WORKERS = {"fit": worker_fit, "study-plain": worker_study_plain}


# -- the parent: pairs of processes -------------------------------------------------------------
def run_part(parts: list[dict[str, Any]], name: str, argv: list[str], result: Path | None = None,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv`` as the part ``name``: its exit code, wall and peak RSS (appended to ``parts``)."""
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
    log = Path(tempfile.gettempdir()) / f"hwlib-bench-{os.getpid()}-{name}.log"
    with open(log, "w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    part = {"part": name, "exit_code": os.waitstatus_to_exitcode(status), "wall_s": round(time.perf_counter() - t0, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "loadavg_after": list(os.getloadavg())}
    if part["exit_code"] != 0:
        part["error"] = log.read_text(errors="replace")[-2500:]
        print(f"    FAILED (exit {part['exit_code']}), log {log}:\n{part['error']}", flush=True)
    elif result is not None:
        part["result"] = json.loads(result.read_text())
    parts.append(part)
    return part


def run_worker(parts: list[dict[str, Any]], name: str, kind: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    result = Path(tempfile.gettempdir()) / f"hwlib-bench-{os.getpid()}-{name}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--spec", json.dumps(spec),
            "--result", str(result)]
    return run_part(parts, name, argv, result).get("result")


def pair_ratios(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """For interleaved pairs ``(a, b)`` the ratios ``b / a``, their median, min and max (a speed-up
    of hwlib is (hwlib seconds, plain seconds) or (plain images/s, hwlib images/s))."""
    if not pairs:
        return {"ratios": [], "median": None, "min": None, "max": None}
    ratios = [b / a for a, b in pairs]
    return {"ratios": [round(r, 3) for r in ratios], "median": round(statistics.median(ratios), 3),
            "min": round(min(ratios), 3), "max": round(max(ratios), 3)}


def sizes(args: argparse.Namespace, dataset: str) -> dict[str, int]:
    """``--n-train``/``--n-test`` as overrides; the test set shrinks in proportion unless given."""
    from hwlib.data import EXPECTED

    out = {}
    if args.n_train is not None:
        full = EXPECTED[dataset]
        out = {"n_train": args.n_train,
               "n_test": args.n_test or max(10, round(args.n_train * full["test"] / full["train"]))}
    return out


def bench_epochs(args: argparse.Namespace, dataset: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-epoch images/s of the base net, plain Keras against hwlib, as ``--pairs`` pairs."""
    spec = {"dataset": dataset, "overrides": {"epochs": 1 + args.epochs, **sizes(args, dataset)}}
    pairs, load = [], [list(os.getloadavg())]
    for i in range(args.pairs):
        got = {side: run_worker(parts, f"{side}-{dataset}-{i + 1}", "fit", {**spec, "side": side})
               for side in (("plain", "hwlib") if i % 2 == 0 else ("hwlib", "plain"))}
        load.append(list(os.getloadavg()))
        if got["plain"] and got["hwlib"]:
            pairs.append((got["plain"]["images_per_s"], got["hwlib"]["images_per_s"]))
    return {"dataset": dataset, "settings": spec["overrides"], "loadavg": load,
            "pairs": [{"plain_images_per_s": p, "hwlib_images_per_s": h} for p, h in pairs], **pair_ratios(pairs)}


def bench_study(args: argparse.Namespace, dataset: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The sweep of ``dataset``, one epoch per run: ``hwlib sweep`` against plain Keras (or, with
    ``--baseline``, against ``hwlib sweep`` of an earlier commit), as ``--study-pairs`` pairs of
    whole processes."""
    from hwlib.experiments import DEFAULT_VARIANT, SWEEPS

    overrides = {"epochs": 1, **sizes(args, dataset)}
    spec = {"dataset": dataset, "variant": DEFAULT_VARIANT, "overrides": overrides}
    pairs, load = [], [list(os.getloadavg())]
    for i in range(args.study_pairs):
        times = {}
        for side in ("hwlib", "plain") if i % 2 == 0 else ("plain", "hwlib"):
            name = f"study-{dataset}-{side}-{i + 1}"
            if side == "plain" and not args.baseline:
                run_worker(parts, name, "study-plain", spec)
            else:  # hwlib sweep; the baseline side imports hwlib from the earlier commit's worktree
                store = tempfile.mkdtemp(prefix="hwlib-bench-study-")
                argv = [sys.executable, "-c", "import sys; from hwlib.cli import main; sys.exit(main())", "sweep",
                        dataset, "--variant", DEFAULT_VARIANT, "--store", store, "--quiet",
                        *[a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]]
                old = side == "plain"
                run_part(parts, name, argv, env={**os.environ, "PYTHONPATH": f"{args.baseline}/src"} if old else None)
                shutil.rmtree(store, ignore_errors=True)
            times[side] = parts[-1]["wall_s"] if parts[-1]["exit_code"] == 0 else float("nan")
        pairs.append((times["hwlib"], times["plain"]))
        load.append(list(os.getloadavg()))
    return {"dataset": dataset, "settings": overrides, "variant": DEFAULT_VARIANT, "runs": len(SWEEPS[dataset]),
            "timed": "whole process (start to exit)", "loadavg": load,
            "pairs": [{"hwlib_s": a, "plain_s": p} for a, p in pairs], **pair_ratios(pairs)}


def print_tables(out: dict[str, Any]) -> None:
    m = out["machine"]
    print(f"\nmachine: {m['cores']} cores, {m['cpu']}; TF {m['tensorflow']}, Keras {m['keras']}; measured "
          f"{m.get('started', '?')[:16]}; load average {m['loadavg_start'][0]:.2f} at the start, "
          f"{m.get('loadavg_end', [float('nan')])[0]:.2f} at the end")
    other = out["settings"].get("study_against", "plain Keras")
    print(f"ratios: the other side's time (per epoch: plain Keras; study: {other}) over hwlib's, median of the "
          "interleaved pairs (min-max); > 1: hwlib is faster")
    for tp in out.get("throughput_pairs") or []:
        if tp["pairs"]:
            h = statistics.median(p["hwlib_images_per_s"] for p in tp["pairs"])
            pl = statistics.median(p["plain_images_per_s"] for p in tp["pairs"])
            print(f"  per epoch, {tp['dataset']} base net ({len(tp['pairs'])} pairs): hwlib {h:.0f} img/s, plain "
                  f"Keras {pl:.0f} img/s: x{tp['median']:.2f} ({tp['min']:.2f}-{tp['max']:.2f})")
    for st in out.get("study") or []:
        if st["pairs"]:
            h = statistics.median(p["hwlib_s"] for p in st["pairs"])
            pl = statistics.median(p["plain_s"] for p in st["pairs"])
            s = st["settings"]
            print(f"  study: {st['dataset']} sweep, {st['runs']} runs x {s['epochs']} epoch(s) on "
                  f"{s.get('n_train', 'all')} images ({len(st['pairs'])} pairs): hwlib sweep {h:.0f} s, {other} "
                  f"{pl:.0f} s: x{st['median']:.2f} ({st['min']:.2f}-{st['max']:.2f})")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3, help="measured epochs per side, after a warm-up epoch (default 3)")
    p.add_argument("--n-train", type=int, help="training images per run (default: all)")
    p.add_argument("--n-test", type=int, help="test images per run (default: all, or in proportion to --n-train)")
    p.add_argument("--datasets", default="mnist,cifar10", help="base nets timed per epoch ('' for none)")
    p.add_argument("--pairs", type=int, default=3, help="interleaved pairs per base net (default 3)")
    p.add_argument("--study-datasets", default="mnist,cifar10", help="sweeps timed as a study ('' for none)")
    p.add_argument("--study-pairs", type=int, default=3, help="interleaved pairs per sweep (default 3)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="the JSON results (default benchmarks/results.json)")
    p.add_argument("--show", action="store_true", help="print the tables of --out (measures nothing)")
    p.add_argument("--baseline", metavar="REV", help="time the study against `hwlib sweep` of git revision REV "
                   "instead of plain Keras (its ratio: REV's time over this checkout's)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.datasets = [d for d in args.datasets.split(",") if d]
    args.study_datasets = [d for d in args.study_datasets.split(",") if d]
    for d in args.datasets + args.study_datasets:
        if d not in BASE_NETS:
            p.error(f"unknown dataset {d!r}: use mnist, cifar10")
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    if args.worker:
        Path(args.result).write_text(json.dumps(WORKERS[args.worker](json.loads(args.spec))))
        return 0
    if args.show:
        print_tables(json.loads(Path(args.out).read_text()))
        return 0
    from importlib.metadata import version

    from hwlib.train import DEFAULT_ENGINE, cpu_model

    parts: list[dict[str, Any]] = []
    if args.baseline:  # a worktree of REV, removed at the end
        rev, args.baseline = args.baseline, tempfile.mkdtemp(prefix="hwlib-bench-baseline-")
        subprocess.run(["git", "worktree", "add", "--detach", args.baseline, rev], cwd=ROOT, check=True)
    out: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "cpu": cpu_model(), "platform": platform.platform(),
                    "python": sys.version.split()[0], "tensorflow": version("tensorflow-cpu"),
                    "keras": version("keras"), "numpy": version("numpy"), "hwlib": version("hwlib"),
                    "loadavg_start": list(os.getloadavg()), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "settings": {"measured_epochs": args.epochs, "warmup_epochs": 1, "n_train": args.n_train,
                     "n_test": args.n_test, "default_engine": dataclasses.asdict(DEFAULT_ENGINE),
                     "study_against": f"hwlib at {rev}" if args.baseline else "plain Keras"},
    }
    out["throughput_pairs"] = [bench_epochs(args, ds, parts) for ds in args.datasets]
    out["study"] = [bench_study(args, ds, parts) for ds in args.study_datasets]
    if args.baseline:
        subprocess.run(["git", "worktree", "remove", "--force", args.baseline], cwd=ROOT, check=True)
    out["machine"].update(loadavg_end=list(os.getloadavg()), finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    out["parts"] = parts
    print_tables(out)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    failed = [p["part"] for p in parts if p["exit_code"] != 0]
    if failed:
        print(f"failed parts: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
