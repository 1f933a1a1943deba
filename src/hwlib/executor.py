"""Run many trainings: on local worker processes (every core), or as tasks on a Dask cluster.

:func:`run_all` takes a list of :class:`Task` (an experiment, and whether to keep its weights)
and returns their :class:`~hwlib.train.Run` objects, in order. Runs already in the store are
read, not trained; the others are trained

* ``scheduler=None`` (the default): on ``workers`` local processes (a
  :class:`~concurrent.futures.ProcessPoolExecutor`, by default one per core,
  :func:`default_workers`), each training one run at a time with hwlib's thread configuration
  (:mod:`hwlib.runtime`), so a run is bit-identical to the same run trained alone, and with its
  share of the cores as inter-op threads. The workers take the runs by tier, then longest first
  (:func:`schedule`). Each epoch of each run is reported as it ends, with a progress line and the
  time left after each run (:mod:`hwlib.progress`). With one worker (or one run), the run trains
  in this process;
* ``scheduler="tcp://HOST:PORT"`` (or ``HOST:PORT``): on the workers of an existing Dask scheduler;
* ``scheduler="local:N"``: on a ``distributed.LocalCluster`` of ``N`` worker processes started
  here and stopped afterwards (``"local"``: one per CPU).

On a cluster every task trains one (config, seed) into the *shared* run store and returns only
the key and the metrics; the store path (and the data folder) must be the same path on every
worker, and the workers need the same hwlib (the code version is checked). A dead worker's task
is rerun elsewhere; a task that raises an unexpected exception is retried ``retries`` times; an
:class:`~hwlib.errors.HwlibError` is raised here, as it would be locally.

Two processes never train the same key at once (the store's per-key lock,
:meth:`hwlib.store.RunStore.lock`); the same experiment listed twice is trained once.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwlib.config import Experiment
from hwlib.errors import ClusterError, ConfigError, HwlibError, StoreError
from hwlib.store import RunStore

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before giving up
# Memory one local training process may need (TensorFlow, CIFAR-10 as float32 twice over).
WORKER_MEMORY = 3 * 2**30
STOP_GRACE = 10.0  # seconds a local worker gets to clean up after Ctrl-C before it is killed
RETRIES = 2  # reruns of a task that raised an unexpected exception
# Settings that decide how a worker finds and checks the data, sent with every task (the
# client's values win over the worker's own environment).
FORWARDED_ENV = ("HWLIB_DATA_STRICT", "HWLIB_NO_DOWNLOAD", "HWLIB_NO_TRAIN")
# Keras' session and the global seeds are per process: a worker with several threads still
# trains one run at a time.
_ONE_TRAINING = threading.Lock()
SCHEDULER_HELP = ("tcp://HOST:PORT (an existing Dask scheduler; HOST:PORT also works) or "
                  "local:N (start N local worker processes; 'local': one per CPU)")


@dataclass(frozen=True)
class Task:
    """One training: an experiment (a config with its seed), keeping weights or not.
    ``tier``: runs of a lower tier are started first (within a tier, the longest first)."""

    experiment: Experiment
    weights: bool = True
    tier: int = 0


@dataclass(frozen=True)
class Scheduler:
    """A parsed ``--scheduler``: ``kind`` ``"tcp"`` (``address``) or ``"local"`` (``workers``)."""

    kind: str
    address: str = ""
    workers: int = 0

    def __str__(self) -> str:
        return self.address if self.kind == "tcp" else f"local:{self.workers}"


def parse_scheduler(spec: str) -> Scheduler:
    """Read ``tcp://HOST:PORT``, ``HOST:PORT``, ``local:N`` or ``local``; ConfigError otherwise."""
    text = str(spec).strip()
    bad = f"Cannot read the scheduler {spec!r}: use {SCHEDULER_HELP}."
    if text == "local":
        return Scheduler("local", workers=os.cpu_count() or 1)
    if text.startswith("local:"):
        n = text[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(f"Cannot read the scheduler {spec!r}: local:N needs a number of worker "
                              f"processes N >= 1, e.g. local:2.")
        return Scheduler("local", workers=int(n))
    m = re.fullmatch(r"(?:(tcp|tls)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})", text)
    if not m or not 0 < int(m.group(3)) < 65536:
        raise ConfigError(bad)
    return Scheduler("tcp", address=f"{m.group(1) or 'tcp'}://{m.group(2)}:{m.group(3)}")


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_workers(n_runs: int) -> int:
    """Local training processes for ``n_runs`` runs: one per core this process may use, at most
    one per run, and at most one per :data:`WORKER_MEMORY` of free memory."""
    cores = usable_cores()
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        by_memory = max(1, free // WORKER_MEMORY)
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        by_memory = cores
    return max(1, min(cores, n_runs, by_memory))


def check_workers(workers: Any) -> int | None:
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"The number of worker processes must be a whole number >= 1, got {workers!r}.")
    return workers


def train_task(exp: Experiment, store: str, weights: bool, force: bool, data_dir: str | None,
               env: dict[str, str], log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or find) ``exp`` in the store at ``store``: what a worker runs for one task.

    Returns ``{"key", "metrics", "trained", "worker", "pid", "seconds", "code_version",
    "log"}``, or ``{"error": HwlibError}`` for an error of the user's (not retried).
    """
    from hwlib import train

    os.environ.update(env)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    lines: list[str] = []

    def keep(line: str) -> None:
        lines.append(line)
        if log is not None:
            log(line)

    t0 = time.perf_counter()
    try:
        with _ONE_TRAINING:
            r = train.run(exp, store, force=force, weights=weights, data_dir=data_dir, log=keep)
    except HwlibError as exc:
        return {"error": exc, "log": lines}
    return {"key": r.key, "metrics": r.metrics, "trained": r.trained, "worker": _worker_address(),
            "pid": os.getpid(), "seconds": round(time.perf_counter() - t0, 3),
            "code_version": train.TRAIN_CODE_VERSION,
            "log": [line for line in lines if not line.startswith("epoch")]}


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _import_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - a dependency of hwlib
        raise ClusterError("--scheduler needs Dask: pip install 'dask[distributed]'.") from None
    return distributed


@contextlib.contextmanager
def connect(scheduler: str | Scheduler, timeout: float | None = None) -> Iterator[Any]:
    """``with connect("local:2") as client: ...``: a Dask client, closed (with its local
    cluster) on exit; a scheduler that cannot be reached is a :class:`ClusterError`."""
    import logging

    s = scheduler if isinstance(scheduler, Scheduler) else parse_scheduler(scheduler)
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    distributed = _import_distributed()
    opened: list[Any] = []
    try:
        try:
            if s.kind == "local":
                opened.append(distributed.LocalCluster(n_workers=s.workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            opened.append(distributed.Client(opened[0] if opened else s.address, timeout=timeout))
        except (OSError, TimeoutError) as exc:
            if s.kind == "local":
                raise ClusterError(f"Could not start a local Dask cluster of {s.workers} worker processes "
                                   f"({type(exc).__name__}: {exc}).") from None
            raise ClusterError(
                f"Cannot reach the Dask scheduler at {s.address} within {timeout:g} s ({type(exc).__name__}). "
                "Start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or check the "
                "address; --scheduler local:N starts workers on this machine instead.") from None
        yield opened[-1]
    finally:
        for thing in reversed(opened):
            with contextlib.suppress(Exception):  # closing a half-started cluster: nothing more to do
                thing.close()


def _absolute(path: str | os.PathLike | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _describe(exp: Experiment) -> str:
    return f"{exp.name} seed {exp.train.seed}"


def _unique(tasks: Sequence[Task]) -> tuple[list[Task], list[int]]:
    """Tasks with the same config merged (weights kept if any asks); the index of each
    original task in the merged list."""
    merged: list[Task] = []
    where: dict[str, int] = {}
    index = []
    for t in tasks:
        k = t.experiment.key()
        if k not in where:
            where[k] = len(merged)
            merged.append(t)
        elif t.weights and not merged[where[k]].weights:
            merged[where[k]] = Task(merged[where[k]].experiment, True)
        index.append(where[k])
    return merged, index


def run_all(tasks: Sequence[Task], store: RunStore | str | os.PathLike | None = None, *,
            scheduler: str | Scheduler | None = None, workers: int | None = None,
            force: bool = False, data_dir: str | os.PathLike | None = None,
            log: Callable[[str], None] | None = None, on_run: Callable[[Any], None] | None = None,
            retries: int = RETRIES, timeout: float | None = None) -> list[Any]:
    """Train (or find) every task; their runs, in the order of ``tasks``.

    ``scheduler``: ``None`` (local worker processes), ``tcp://HOST:PORT`` or ``local:N`` (see
    the module docstring); ``workers``: local processes (default :func:`default_workers`).
    ``force`` retrains; ``on_run`` is called with each run as soon as it is there;
    ``retries`` reruns a task that raised an unexpected exception on a worker; ``timeout``:
    seconds to reach the scheduler. Tasks with the same config are trained once (each gets
    a run with its own experiment, i.e. its name).
    """
    from hwlib.train import Run, find

    store = store if isinstance(store, RunStore) else RunStore(store)
    sched = None
    if scheduler is not None:  # a bad spec fails before anything is trained
        sched = scheduler if isinstance(scheduler, Scheduler) else parse_scheduler(scheduler)
    check_workers(workers)
    unique, index = _unique(tasks)
    users: dict[int, list[int]] = {}
    for i, u in enumerate(index):
        users.setdefault(u, []).append(i)
    runs: list[Any] = [None] * len(tasks)

    def finished(u: int, r: Any) -> None:
        for n, i in enumerate(users[u]):
            runs[i] = r if n == 0 else Run(tasks[i].experiment, r.key, r.entry, trained=False)
            if on_run:
                on_run(runs[i])

    if sched is not None:
        _run_on_cluster(unique, store, sched, force, data_dir, log, retries, timeout, finished)
        return runs
    missing = []
    for u, t in enumerate(unique):
        found = None if force else find(t.experiment, store, weights=t.weights, data_dir=data_dir, log=log)
        if found is None:
            missing.append(u)
        else:
            finished(u, found)
    if missing:
        _train_locally([unique[u] for u in missing], store, workers, force, data_dir, log,
                       lambda j, r: finished(missing[j], r))
    return runs


def _estimates(tasks: Sequence[Task], store: RunStore) -> list[float]:
    """Each task's estimated training seconds, from the epoch timings in the store."""
    from hwlib import progress

    rates = progress.stored_rates(store.get(k) for k in store.keys())
    return [progress.estimate_seconds(t.experiment, rates) for t in tasks]


def _train_locally(tasks: list[Task], store: RunStore, workers: int | None, force: bool,
                   data_dir: str | os.PathLike | None, log: Callable[[str], None] | None,
                   finished: Callable[[int, Any], None]) -> None:
    """Train ``tasks`` (none of them stored) on local worker processes, or here for one."""
    from hwlib import progress
    from hwlib.train import run

    n_workers = min(workers or default_workers(len(tasks)), len(tasks))
    estimates = _estimates(tasks, store)
    bar = progress.Progress(estimates, n_workers, log, order=schedule(tasks, estimates))
    if log:
        log(f"{len(tasks)} run(s) to train on {n_workers} worker process(es), "
            f"estimated {progress.duration(bar.total_estimate())}")
    if n_workers == 1:
        for j, t in enumerate(tasks):
            finished(j, run(t.experiment, store, force=force, weights=t.weights, data_dir=data_dir, log=log))
            bar.finished(j, _describe(t.experiment))
        return
    _run_pool(tasks, store, n_workers, force, data_dir, log, finished, bar)


def schedule(tasks: Sequence[Task], estimates: Sequence[float]) -> list[int]:
    """The order the workers take ``tasks`` in: by tier, then the longest estimated run
    first, equal estimates by their networks' cost (:func:`hwlib.progress.longest_first`)."""
    from hwlib.progress import longest_first, training_cost

    return longest_first(estimates, [t.tier for t in tasks], [training_cost(t.experiment) for t in tasks])


# A local worker: a fresh interpreter (spawn) that trains the tasks the pool gives it, one at a
# time, and sends its runs' log lines to the command as they come (_LINES).
_LINES: Any = None
_BUSY = False  # whether this worker is training now: a Ctrl-C then interrupts the run
_STOPPING = False  # whether a Ctrl-C interrupted the run: it is being cleaned up


def _worker_interrupted(signum: int, frame: Any) -> None:
    global _STOPPING
    if _STOPPING:  # Ctrl-C again (terminal, then the command): let the clean-up finish
        return
    if _BUSY:
        _STOPPING = True
        raise KeyboardInterrupt
    os._exit(130)  # idle: nothing to clean up


def _start_worker(lines: Any, parent: int, inter_op: int) -> None:
    """Set up a local worker process (the pool's initializer)."""
    import atexit
    import ctypes
    import signal

    from hwlib import runtime

    global _LINES
    try:  # the kernel kills this worker when its command dies: it never trains on, orphaned
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the command died before that took effect
        os._exit(1)
    signal.signal(signal.SIGINT, _worker_interrupted)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the command stops it with SIGINT: it cleans up first
    atexit.register(runtime.exit_now, 0)  # no interpreter teardown under TensorFlow's threads
    runtime.use_inter_op_threads(inter_op)  # its share of the cores, before TensorFlow starts
    _LINES = lines


def _work(task: Task, store: str, force: bool, data_dir: str | None) -> dict[str, Any]:
    """Train (or find) ``task`` in a local worker: :func:`train_task`, its lines sent as they come."""
    from hwlib.runtime import exit_now

    global _BUSY
    exp = task.experiment
    what, own = f"{_describe(exp)} [{exp.key()[:6]}]", f"{exp.name}: "
    _BUSY = True
    try:
        return train_task(exp, store, task.weights, force, data_dir, {},
                          log=lambda line: _LINES.put(f"{what}: {line.removeprefix(own)}"))
    except KeyboardInterrupt:
        exit_now(130)  # its run cleaned up; its command is stopping
        raise  # not reached
    finally:
        _BUSY = False


def _run_pool(tasks: list[Task], store: RunStore, n_workers: int, force: bool,
              data_dir: str | os.PathLike | None, log: Callable[[str], None] | None,
              finished: Callable[[int, Any], None], bar: Any) -> None:
    import multiprocessing
    import multiprocessing.connection
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from hwlib.runtime import inter_op_threads

    ctx = multiprocessing.get_context("spawn")
    lines = ctx.SimpleQueue()
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(n_workers, ctx, initializer=_start_worker,
                               initargs=(lines, os.getpid(), inter_op_threads(n_workers, usable_cores())))
    root, data = _absolute(store.root), _absolute(data_dir)
    workers: list[Any] = []

    def print_lines() -> None:
        while not lines.empty():
            line = lines.get()
            if log:
                log(line)

    def died() -> StoreError:
        """A worker died (killed, out of memory): every worker stopped, the error to raise."""
        dead = multiprocessing.connection.wait([p.sentinel for p in workers], timeout=0)
        _stop(workers, store)  # then every exit code is known
        code = next((p.exitcode for p in workers if p.sentinel in dead), "unknown")
        return StoreError(f"A training process died (exit code {code}: killed, or out of memory). Every stored "
                          "run is complete; run the command again to train what is missing, with fewer "
                          "--workers if memory is short.")

    try:
        futures = {pool.submit(_work, tasks[i], root, force, data): i for i in schedule(tasks, bar.estimates)}
        workers = [p for p in multiprocessing.active_children() if p not in before]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            print_lines()
            for fut in done:
                i = futures[fut]
                try:
                    out = fut.result()
                except BrokenProcessPool:
                    raise died() from None
                if "error" in out:
                    raise out["error"]
                finished(i, _stored_run(tasks[i], out, store))
                bar.finished(i, _describe(tasks[i].experiment))
            if pending and multiprocessing.connection.wait([p.sentinel for p in workers], timeout=0):
                raise died()  # seen here first: the pool may not watch a worker it started last
    except BaseException:
        _stop([p for p in multiprocessing.active_children() if p not in before], store)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _stop(procs: list[Any], store: RunStore) -> None:
    """Stop the workers now (Ctrl-C or an error) and return when every one has exited: each
    is interrupted (its run leaves no entry and removes its temporary folder), and killed if
    it lingers past :data:`STOP_GRACE`; the folder of a killed one is then removed here. A
    further Ctrl-C meanwhile is ignored, so the command never returns while a worker still
    writes to the store."""
    import signal

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        for p in procs:
            if p.is_alive() and p.pid:
                try:
                    os.kill(p.pid, signal.SIGINT)
                except OSError:
                    pass
        deadline = time.monotonic() + STOP_GRACE
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        store.clean_stale()  # the folders of killed workers (their processes are gone now)
    finally:
        if main:
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


def _run_on_cluster(tasks: list[Task], store: RunStore, scheduler: Scheduler, force: bool,
                    data_dir: str | os.PathLike | None, log: Callable[[str], None] | None,
                    retries: int, timeout: float | None, finished: Callable[[int, Any], None]) -> None:
    from hwlib import train

    root = _absolute(store.root)
    assert root is not None
    data_dir = _absolute(data_dir) or _absolute(os.environ.get("HWLIB_DATA_DIR") or None)
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    with connect(scheduler, timeout) as client:
        distributed = _import_distributed()
        info = client.scheduler_info()
        if log:
            log(f"Dask scheduler {info.get('address', scheduler)}: {len(info.get('workers', {}))} "
                f"worker(s); {len(tasks)} run(s) into {root}")
        futures = {}
        estimates = _estimates(tasks, store)
        for rank, i in enumerate(schedule(tasks, estimates)):  # the local workers' order
            exp = tasks[i].experiment
            key = f"hwlib-{exp.name}-seed{exp.train.seed}-{exp.key()}-{uuid.uuid4().hex[:8]}"
            fut = client.submit(train_task, exp, root, tasks[i].weights, force, data_dir, env,
                                key=key, pure=False, retries=retries, priority=len(tasks) - rank)
            futures[fut] = i
        try:
            for done, fut in enumerate(distributed.as_completed(list(futures)), start=1):
                i = futures[fut]
                out = _result(fut, tasks[i].experiment, retries)
                _check_version(out, train.TRAIN_CODE_VERSION)
                if log:
                    how = "trained" if out["trained"] else "found in the store"
                    log(f"[{done}/{len(tasks)}] {_describe(tasks[i].experiment)} [{out['key']}]: "
                        f"{how} on {out['worker']} ({out['seconds']:.1f} s), test accuracy "
                        f"{100 * out['metrics']['test_accuracy']:.2f}%")
                finished(i, _stored_run(tasks[i], out, store))
        except BaseException:
            client.cancel(list(futures))  # Ctrl-C or an error: nothing more is started
            raise


def _result(fut: Any, exp: Experiment, retries: int) -> dict[str, Any]:
    try:
        out = fut.result()
    except HwlibError:
        raise
    except Exception as exc:  # the task failed after its retries, or its workers kept dying
        raise ClusterError(
            f"Training {_describe(exp)} failed on the cluster: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''} (after {retries} retries or "
            "repeated worker deaths). Its store entry, if any, is complete or absent; rerun to "
            "train what is missing.") from None
    if "error" in out:
        raise out["error"]
    return out


def _check_version(out: dict[str, Any], ours: str) -> None:
    if out.get("code_version") != ours:
        raise ClusterError(
            f"A worker ({out.get('worker')}) runs training code version {out.get('code_version')!r}, "
            f"this process {ours!r}: install the same hwlib on every worker.")


def _stored_run(task: Task, out: dict[str, Any], store: RunStore) -> Any:
    from hwlib.train import Run

    entry = store.get(out["key"])
    if entry is None:
        raise StoreError(
            f"A worker stored {_describe(task.experiment)} as run {out['key']} in {store.root}, "
            "but this machine does not see it there: the run store must be on a file system "
            "shared by the workers and this machine (--store PATH).")
    return Run(task.experiment, out["key"], entry, trained=bool(out["trained"]))
