"""The ``hwlib`` command line. Errors print one paragraph, never a traceback; exit codes: 0 success,
2 bad command line or config, 3 data, 4 run store, 5 Dask cluster, 130 interrupted (Ctrl-C)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from hwlib import __version__
from hwlib.book import CHAPTERS
from hwlib.config import DATASET_SHAPES
from hwlib.errors import HwlibError
from hwlib.experiments import DEFAULT_VARIANT, PROFILES, SWEEPS, VARIANT_HELP

EPILOG = """\
environment:
  HWLIB_DATA_DIR   folder holding mnist.npz / cifar10.npz (or the CIFAR-10 python batches)
  HWLIB_STORE      the run store folder (default: results/)

examples:
  hwlib data check
  hwlib list
  hwlib train mnist-base
  hwlib train mnist-base --set epochs=2 --set n_train=5000
  hwlib sweep mnist
  hwlib sweep mnist --seeds 5 --scheduler local:2
  hwlib reproduce --profile quick
"""


def _print(msg: str) -> None:
    print(msg, flush=True)


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="PATH", help="run store folder (default: $HWLIB_STORE, else results/)")
    p.add_argument("--data-dir", metavar="PATH",
                   help="folder holding the datasets (default: $HWLIB_DATA_DIR, ./data, keras cache)")


def _train_args(p: argparse.ArgumentParser) -> None:
    _store_args(p)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="change a setting (repeatable): epochs, n_train, n_test, learning_rate (lr), "
                        "batch_size, seed, kernel, stride, padding, filters, l2, l2_layers, or a "
                        "dotted path like model.convs.0.kernel; a changed setting is a run of its own")
    p.add_argument("--profile", choices=PROFILES, default="full",
                   help="full: the homework's settings (default); quick: small subsets, 2 epochs")
    p.add_argument("--force", action="store_true", help="retrain even if the run is stored")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    p.add_argument("--seeds", type=_positive("seeds"), default=1, metavar="N",
                   help="train every configuration with seeds 0..N-1 (seed 0 is the usual run; each "
                        "seed is a run of its own, stored ones are reused); with N > 1 the results "
                        "show mean ± sd and the 95%% confidence interval over the seeds")
    p.add_argument("--variant", default=DEFAULT_VARIANT, choices=tuple(VARIANT_HELP),
                   help="which reading of the homework: " + "; ".join(
                       f"{v}: {h}" for v, h in VARIANT_HELP.items()) + f" (default: {DEFAULT_VARIANT})")
    p.add_argument("--workers", type=_positive("worker processes"), metavar="N",
                   help="local training processes, each with one TensorFlow thread (default: one per "
                        "core, at most one per run; 1 trains here, one run after another)")
    p.add_argument("--scheduler", metavar="SPEC",
                   help="train on a Dask cluster instead: tcp://HOST:PORT (an existing scheduler; the "
                        "store and the data must be on a file system shared with the workers) or "
                        "local:N (N Dask worker processes on this machine)")


def _positive(what: str):
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"the number of {what} must be at least 1, got {n}")
        return n
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwlib", description="Regenerate the CNN homework (MNIST, CIFAR-10) from code.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"hwlib {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data = sub.add_parser("data", help="dataset commands")
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    check = data_sub.add_parser(
        "check", help="find MNIST and CIFAR-10 and print where, split sizes, class counts, pixel stats")
    check.add_argument("--data-dir", metavar="PATH", help="folder holding the datasets")
    check.add_argument("--dataset", choices=tuple(DATASET_SHAPES), action="append",
                       help="check only this dataset (repeatable; default: both)")

    lst = sub.add_parser("list", help="list every experiment of the homework with its settings")
    lst.add_argument("--profile", choices=PROFILES, default="full", help="full (default) or quick")
    lst.add_argument("--variant", default=DEFAULT_VARIANT, choices=tuple(VARIANT_HELP),
                     help=f"the reading of the homework (default: {DEFAULT_VARIANT})")

    train = sub.add_parser("train", help="train one experiment (returns at once if stored)")
    train.add_argument("experiment", help="experiment name, see `hwlib list`")
    _train_args(train)
    train.add_argument("--no-weights", action="store_true",
                       help="do not keep the trained model (metrics and history only)")

    sweep = sub.add_parser("sweep", help="run the Table 3 (mnist) or Table 6 (cifar10) sweep")
    sweep.add_argument("dataset", choices=tuple(SWEEPS), help="which sweep")
    _train_args(sweep)

    report = sub.add_parser(
        "report", help="execute the book's chapters whose inputs changed with papermill (from the run store, "
                       "training what is missing)")
    report.add_argument("--profile", choices=PROFILES, default="full",
                        help="full: the homework's settings (default); quick: small subsets, 2 epochs")
    report.add_argument("--variant", choices=tuple(VARIANT_HELP),
                        help="the reading of the homework the MNIST and CIFAR-10 chapters show "
                             f"(default: each chapter's own, {DEFAULT_VARIANT})")
    report.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter for every chapter (repeatable), e.g. -p epochs 2 or -p "
                             "seeds 3 (Reproduction and Gaps chapters only); "
                             "values are read as YAML (2, 0.5, null, true)")
    report.add_argument("--chapter", action="append", choices=CHAPTERS,
                        help="execute only this chapter (repeatable; default: all)")
    mode = report.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true",
                      help="execute every chapter, not only those whose recorded inputs changed")
    mode.add_argument("--check", action="store_true",
                      help="execute nothing: list the stale chapters and fail if there are any")

    repro = sub.add_parser("reproduce", help="train every experiment of the homework (skips stored runs)")
    _train_args(repro)
    repro.add_argument("--study", action="store_true",
                       help="the whole study the book uses: both variants, every seed and the "
                            "sensitivity runs; --variant, --seeds and --set do not apply")

    aud = sub.add_parser(
        "audit", help="retrain stored runs into a temporary store and check they are bit-identical")
    aud.add_argument("keys", nargs="*", metavar="KEY", help="run keys to audit (see results/runs/)")
    aud.add_argument("--sample", type=_positive("runs"), metavar="N",
                     help="audit the N stored runs that trained fastest (default without keys: 1)")
    _store_args(aud)

    store = sub.add_parser("store", help="run-store commands")
    store_sub = store.add_subparsers(dest="store_command", metavar="SUBCOMMAND", required=True)
    prune = store_sub.add_parser(
        "prune", help="list (and with --yes delete) stored runs of an older training-code version")
    prune.add_argument("--store", metavar="PATH", help="run store folder (default: $HWLIB_STORE, else results/)")
    prune.add_argument("--yes", action="store_true", help="delete them (without it: only list them)")
    return parser


def cmd_data_check(args: argparse.Namespace) -> int:
    from hwlib import data

    for name in args.dataset or data.DATASETS:
        _print(data.format_summary(data.summary(name, args.data_dir)))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from hwlib import experiments, tables

    exps = [experiments.prepare(name, args.profile, args.variant) for name in experiments.EXPERIMENTS]
    table = tables.experiment_table(exps)
    table["Part of the homework"] = [e.title for e in exps]
    _print(table.to_string(index=False))
    _print(f"\nprofile {args.profile}; variant {args.variant}: {VARIANT_HELP[args.variant]}. `hwlib train NAME` "
           "trains one and prints its run key (its folder in results/runs/).")
    return 0


def _with_seeds(name: str, args: argparse.Namespace) -> list:
    """Experiment ``name`` as the command line sets it, with seeds 0..N-1 (``--seeds N``)."""
    from hwlib import experiments
    from hwlib.config import parse_overrides
    from hwlib.errors import ConfigError

    exp = experiments.prepare(name, args.profile, args.variant).with_overrides(args.overrides)
    if args.seeds == 1:
        return [exp]
    if {"seed", "train.seed"} & set(parse_overrides(args.overrides)):
        raise ConfigError(f"--seeds {args.seeds} trains seeds 0..{args.seeds - 1}: leave out --set seed=...")
    return [exp.with_overrides({"seed": s}) for s in experiments.seed_list(args.seeds, "--seeds", at_least=1)]


def _jobs(args: argparse.Namespace) -> list:
    """``(experiment, keep weights, tier)`` of every run a `train`, `sweep` or `reproduce` asks for."""
    from hwlib import experiments
    from hwlib.errors import ConfigError

    if args.command == "reproduce" and args.study:
        if args.overrides or args.seeds != 1:
            raise ConfigError("--study trains the book's whole study as it is defined: leave out --set and --seeds.")
        return experiments.study(args.profile)
    names = {"train": lambda: [args.experiment], "sweep": lambda: experiments.SWEEPS[args.dataset],
             "reproduce": lambda: experiments.EXPERIMENTS}[args.command]()
    jobs = []
    for exp in (e for name in names for e in _with_seeds(name, args)):
        # weights only where the figures need them, unless `train` is told otherwise
        weights = not args.no_weights if args.command == "train" else experiments.keeps_weights(exp, args.seeds > 1)
        jobs.append((exp, weights, exp.train.seed if args.command == "reproduce" else 0))  # seed 0 first
    return jobs


def _run_many(jobs: list, args: argparse.Namespace, on_run=None) -> list:
    """Train (or find) each ``(experiment, weights, tier)``: here, or on ``--scheduler``."""
    from hwlib.executor import Task, run_all
    from hwlib.store import RunStore

    return run_all([Task(*job) for job in jobs], RunStore(args.store), scheduler=args.scheduler, workers=args.workers,
                   force=args.force, data_dir=args.data_dir, log=None if args.quiet else _print, on_run=on_run)


def _seed_tables(runs: list) -> None:
    """Print mean ± sd and the confidence interval over the seeds, one table per dataset."""
    from hwlib import tables

    by_dataset: dict = {}
    for r in runs:
        by_dataset.setdefault(r.experiment.dataset, {}).setdefault(r.experiment.name, []).append(r)
    for configs in by_dataset.values():
        _print("")
        _print(tables.sweep_seed_table(configs).to_string(index=False))


def _result_line(r, seed: bool = False) -> str:
    m = r.metrics
    name = f"{r.experiment.name} seed {r.experiment.train.seed}" if seed else r.experiment.name
    return (f"{name} [{r.key}]: test loss {m['test_loss']:.4f}, test accuracy "
            f"{100 * m['test_accuracy']:.2f}% (train {100 * m['train_accuracy']:.2f}%) -> "
            f"{r.entry.path}")


def cmd_train(args: argparse.Namespace) -> int:
    """`train`, `sweep` and `reproduce`: each run as it is found or trained, then the tables."""
    import time

    from hwlib import progress, tables

    t0 = time.monotonic()
    each = args.command != "sweep"
    runs = _run_many(_jobs(args), args, on_run=(lambda r: _print(_result_line(
        r, seed=args.seeds > 1 or args.command == "reproduce"))) if each else None)
    if args.seeds > 1:
        _seed_tables(runs)
    elif args.command == "sweep":
        _print("")
        _print(tables.sweep_table(runs).to_string(index=False))
    if args.command == "reproduce":
        trained = sum(r.trained for r in runs)
        _print(f"\n{len(runs)} runs ({len({r.key for r in runs})} distinct): {trained} trained, "
               f"{len(runs) - trained} from the store; {progress.duration(time.monotonic() - t0)} in all.")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from hwlib import audit
    from hwlib.errors import ConfigError
    from hwlib.store import RunStore

    store = RunStore(args.store)
    if args.keys and args.sample:
        raise ConfigError("Give run keys or --sample N, not both.")
    keys = args.keys or audit.quickest(store, args.sample or 1)
    if not keys:
        raise ConfigError(f"The store {store.root} holds no run of this training-code version to audit.")
    _print(f"Auditing {len(keys)} run(s): each is trained again into a temporary store and compared "
           "with its stored entry.")
    results = []
    for key in keys:
        a = audit.audit_one(store, key, args.data_dir)
        results.append(a)
        took = f" ({a.seconds:.0f} s)" if a.seconds else ""
        _print(f"{a.key}  {a.name}: {a.status}{took}" + (f" - {a.detail}" if a.detail else ""))
    bad = [a for a in results if a.status == "differs"]
    counts = ", ".join(f"{sum(a.status == s for a in results)} {s}" for s in audit.STATUSES
                       if any(a.status == s for a in results))
    _print(f"\n{counts}.")
    if bad:
        print(f"hwlib: error: {len(bad)} run(s) differ from their stored entries on this machine: the code "
              "at this commit does not reproduce them.", file=sys.stderr, flush=True)
        return 4
    return 0


def cmd_store(args: argparse.Namespace) -> int:
    from hwlib import store as hwstore
    from hwlib.train import TRAIN_CODE_VERSION

    s = hwstore.RunStore(args.store)
    old = s.superseded(TRAIN_CODE_VERSION)
    if not old:
        _print(f"Every run in {s.root} was trained by training-code version {TRAIN_CODE_VERSION}: nothing to prune.")
        return 0
    for key, name, version in old:
        _print(f"{'deleting' if args.yes else 'would delete'} {key}  {name}  (training-code version {version})")
    if args.yes:
        s.delete([key for key, _, _ in old])
        _print(f"Deleted {len(old)} run(s) of older training-code versions from {s.root}.")
    else:
        _print(f"\n{len(old)} run(s) of older training-code versions (this code: {TRAIN_CODE_VERSION}). "
               "Run `hwlib store prune --yes` to delete them.")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import yaml

    from hwlib import book, settings

    params = {"profile": args.profile}
    if args.variant:
        params["variant"] = args.variant
    if os.environ.get("HWLIB_REPO_URL"):  # where a chapter opened on Colab installs hwlib from
        params["repository"] = os.environ["HWLIB_REPO_URL"]
    for name, value in args.parameter:
        try:
            params[name] = yaml.safe_load(value)
        except yaml.YAMLError:  # not YAML: keep the text, and let the check below explain
            params[name] = value
    settings.check_parameters(params)  # a bad parameter stops here, before any notebook runs
    chapters = tuple(args.chapter) if args.chapter else book.CHAPTERS
    if not args.force:  # only what changed since the chapters were executed (book.stale_parts)
        chapters = book.stale_chapters(params, chapters, log=_print)
    if args.check and chapters:
        raise HwlibError(f"Stale chapter(s): {', '.join(chapters)}. `hwlib report` executes them "
                         "(commit them afterwards).")
    for path in () if args.check else book.execute_chapters(params, chapters, log=_print):
        _print(f"wrote {path}")
    return 0


COMMANDS = {"list": cmd_list, "report": cmd_report, "train": cmd_train, "sweep": cmd_train,
            "reproduce": cmd_train, "store": cmd_store, "audit": cmd_audit}


def main(argv: Sequence[str] | None = None) -> int:
    """The ``hwlib`` command (``argv``: its arguments, default ``sys.argv[1:]``)."""
    try:
        args = build_parser().parse_args(argv)
        handler = cmd_data_check if args.command == "data" else COMMANDS[args.command]
        return handler(args)
    except HwlibError as exc:
        print(f"hwlib: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hwlib: interrupted; nothing half-written was stored.", file=sys.stderr, flush=True)
        if argv is None:  # the command: no teardown under TensorFlow threads still running
            from hwlib.runtime import exit_now

            exit_now(130)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
