"""Run many trainings: on local worker processes (every core), or as tasks on a Dask cluster.

:func:`run_all` takes a list of :class:`Task` (an experiment, and whether to keep its
weights) and returns their :class:`~hwlib.train.Run` objects, in order. Runs already in
the store are read, not trained; the others are trained

* ``scheduler=None`` (the default): on ``workers`` local processes, by default one per
  core (:func:`default_workers`), each training one run at a time with one intra-op
  thread (:mod:`hwlib.runtime`), so a run is bit-identical to the same run trained
  alone by ``hwlib train``, and with its share of the cores as inter-op threads
  (:func:`hwlib.runtime.inter_op_threads`: one each when the workers fill the cores).
  The workers take the runs by tier (a study's priorities, :attr:`Task.tier`), then
  longest first (estimated from stored epoch timings, :func:`schedule`), so no worker
  is left training a long run alone at the end. Each
  epoch of each run is reported as it ends, with an overall progress line and the time
  left after each run (:mod:`hwlib.progress`).
  With one worker (or one run), the run trains in this process;
* ``scheduler="tcp://HOST:PORT"`` (or ``HOST:PORT``): on the workers of an existing Dask
  scheduler;
* ``scheduler="local:N"``: on a ``distributed.LocalCluster`` of ``N`` worker processes
  (one thread each) started here and stopped afterwards (``"local"``: one per CPU).
  The tasks go to the cluster longest first too (as Dask priorities).

On a cluster every task trains one (config, seed) into the *shared* run store: the worker
calls ``hwlib.train.run(exp, store, weights=..., data_dir=...)`` and returns only the key
and the metrics; the client then reads the entries from the store. The store path (and
the data folder) must therefore be the same path on every worker (a shared file system),
and the workers need the same hwlib (the code version is checked).

Two workers never train the same key at once (the store's per-key lock, see
:meth:`hwlib.store.RunStore.lock`); the same experiment listed twice is trained once. A
worker that dies mid-task (killed, out of memory) loses nothing but time: the scheduler
reruns its task on another worker, and the dead worker's temporary folder is removed by
the next write (:meth:`~hwlib.store.RunStore.clean_stale`). A task that raises an
unexpected exception is retried ``retries`` times; an :class:`~hwlib.errors.HwlibError`
(bad config, missing data, damaged entry) is not retried but raised here, as it would be
locally.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwlib import allocator
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


# ---------------------------------------------------------------------------------------
# The worker side
# ---------------------------------------------------------------------------------------
def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_workers(n_runs: int) -> int:
    """Local training processes for ``n_runs`` runs: one per core this process may use (each
    splits an operation over one thread: two processes on two cores finish two runs 1.4-1.8x
    sooner than one after another), at most one per run, and at most one per
    :data:`WORKER_MEMORY` of free memory."""
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


# ---------------------------------------------------------------------------------------
# The client side
# ---------------------------------------------------------------------------------------
def _import_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - a dependency of hwlib
        raise ClusterError("--scheduler needs Dask: pip install 'dask[distributed]'.") from None
    return distributed


class _Connection:
    """A client (and, for ``local:N``, the cluster it started), closed on exit."""

    def __init__(self, scheduler: Scheduler, timeout: float):
        self.scheduler, self.timeout = scheduler, timeout
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self):
        import logging

        distributed = _import_distributed()
        try:
            if self.scheduler.kind == "local":
                self.cluster = distributed.LocalCluster(
                    n_workers=self.scheduler.workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR)
                self.client = distributed.Client(self.cluster, timeout=self.timeout)
            else:
                self.client = distributed.Client(self.scheduler.address, timeout=self.timeout)
        except (OSError, TimeoutError) as exc:
            self.__exit__(None, None, None)
            if self.scheduler.kind == "local":
                raise ClusterError(
                    f"Could not start a local Dask cluster of {self.scheduler.workers} worker "
                    f"processes ({type(exc).__name__}: {exc}).") from None
            raise ClusterError(
                f"Cannot reach the Dask scheduler at {self.scheduler.address} within "
                f"{self.timeout:g} s ({type(exc).__name__}). Start one (`dask scheduler`, then "
                "`dask worker ADDRESS` on each machine) or check the address; --scheduler "
                "local:N starts workers on this machine instead.") from None
        return self.client

    def __exit__(self, *exc_info) -> None:
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing a half-started cluster: nothing more to do
                    pass


def connect(scheduler: str | Scheduler, timeout: float | None = None) -> _Connection:
    """``with connect("local:2") as client: ...``: a Dask client, closed (with its local
    cluster) on exit; a scheduler that cannot be reached is a :class:`ClusterError`."""
    s = scheduler if isinstance(scheduler, Scheduler) else parse_scheduler(scheduler)
    return _Connection(s, CONNECT_TIMEOUT if timeout is None else timeout)


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


# Local worker processes. Each is a fresh interpreter (spawn: no TensorFlow state to
# inherit) that takes (index, task) pairs from a task queue until it gets None, and sends
# ("line", text), ("done", index, result) or ("error", index, exception) to a result queue.
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


def _die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux): a worker must not
    train on, orphaned, after its command was killed (its half-written run is then removed
    by the next write to the store)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _worker(todo: Any, results: Any, store: str, force: bool, data_dir: str | None, parent: int,
            inter_op: int) -> None:
    import signal

    from hwlib import runtime

    global _BUSY
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    signal.signal(signal.SIGINT, _worker_interrupted)
    runtime.use_inter_op_threads(inter_op)  # its share of the cores, before TensorFlow starts
    _import_tensorflow()
    while True:
        item = todo.get()
        if item is None:
            _exit_now(results)
        index, task = item
        exp = task.experiment
        what, own = f"{_describe(exp)} [{exp.key()[:6]}]", f"{exp.name}: "

        def send(line: str, what: str = what, own: str = own) -> None:
            results.put(("line", f"{what}: {line[len(own):] if line.startswith(own) else line}"))

        _BUSY = True
        try:
            out = train_task(exp, store, task.weights, force, data_dir, {}, log=send)
        except BaseException as exc:  # reported to the parent, which decides
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's Ctrl-C must not cut the report
            results.put(("error", index, exc if isinstance(exc, Exception) else RuntimeError(repr(exc))))
            _exit_now(results, 1)  # an interrupted run may leave TensorFlow's threads running
        finally:
            _BUSY = False
        results.put(("done", index, out))


def _import_tensorflow() -> None:
    """Import TensorFlow, Keras and pandas (about 3 s) before the first task, in the main thread.
    Not in a thread beside the run's own imports: two threads importing modules that import
    each other's packages make Python raise a ``_DeadlockError`` (seen: pandas, through
    ``importlib.resources``, against TensorFlow's import), which failed a run."""
    from hwlib.runtime import start_tensorflow

    try:
        start_tensorflow()  # with Keras, without TensorFlow's start-up notices
        import pandas  # noqa: F401
    except Exception:  # the run imports them again, and reports what fails
        pass


def _exit_now(results: Any, code: int = 0) -> None:
    """End this worker once its messages are sent (:func:`hwlib.runtime.exit_now`: the
    command would otherwise wait for its teardown, and after an interrupted or failed run a
    teardown under TensorFlow's threads can crash)."""
    from hwlib.runtime import exit_now

    results.close()
    results.join_thread()  # every message is in the pipe
    exit_now(code)


def schedule(tasks: Sequence[Task], estimates: Sequence[float]) -> list[int]:
    """The order the workers take ``tasks`` in: by tier, then the longest estimated run
    first, equal estimates by their networks' cost (:func:`hwlib.progress.longest_first`)."""
    from hwlib.progress import longest_first, training_cost

    return longest_first(estimates, [t.tier for t in tasks], [training_cost(t.experiment) for t in tasks])


def fill_queue(todo: Any, tasks: Sequence[Task], estimates: Sequence[float], n_workers: int) -> None:
    """Put ``(index, task)`` on the workers' queue in :func:`schedule` order, then one
    ``None`` per worker (stop)."""
    for i in schedule(tasks, estimates):
        todo.put((i, tasks[i]))
    for _ in range(n_workers):
        todo.put(None)


def _run_pool(tasks: list[Task], store: RunStore, n_workers: int, force: bool,
              data_dir: str | os.PathLike | None, log: Callable[[str], None] | None,
              finished: Callable[[int, Any], None], bar: Any) -> None:
    import multiprocessing
    import queue as queue_module

    from hwlib.runtime import inter_op_threads

    ctx = multiprocessing.get_context("spawn")
    todo, results = ctx.Queue(), ctx.Queue()
    fill_queue(todo, tasks, bar.estimates, n_workers)
    inter_op = inter_op_threads(n_workers, usable_cores())
    procs = [ctx.Process(target=_worker, args=(todo, results, _absolute(store.root), force, _absolute(data_dir),
                                               os.getpid(), inter_op),
                         name=f"hwlib-worker-{i + 1}", daemon=True) for i in range(n_workers)]
    with allocator.preloaded():  # the workers inherit it: jemalloc, when the machine has it
        for p in procs:
            p.start()
    left = len(tasks)
    try:
        while left:
            try:
                message = results.get(timeout=1.0)
            except queue_module.Empty:
                dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
                if dead:
                    raise StoreError(
                        f"A training process ({dead[0].name}) died (exit code {dead[0].exitcode}: killed, "
                        "or out of memory). Every stored run is complete; run the command again to train "
                        "what is missing, with fewer --workers if memory is short.") from None
                continue
            kind = message[0]
            if kind == "line":
                if log:
                    log(message[1])
                continue
            index, out = message[1], message[2]
            if kind == "error":
                raise out
            if "error" in out:
                raise out["error"]
            left -= 1
            finished(index, _stored_run(tasks[index], out, store))
            bar.finished(index, _describe(tasks[index].experiment))
    except BaseException:
        _stop(procs, store)
        raise
    finally:
        for q in (todo, results):  # never wait at exit for data nobody will read
            q.cancel_join_thread()
            q.close()
    for p in procs:
        p.join()


def _stop(procs: list[Any], store: RunStore) -> None:
    """Stop the workers now (Ctrl-C or an error) and return when every one has exited: each
    is interrupted (its run leaves no entry and removes its temporary folder), and killed if
    it lingers past :data:`STOP_GRACE`; the folder of a killed one is then removed here. A
    further Ctrl-C meanwhile is ignored (at most :data:`STOP_GRACE` seconds), so the command
    never returns while a worker still writes to the store."""
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
