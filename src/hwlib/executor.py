"""Train many runs (:func:`run_all`) on local worker processes or a Dask cluster (Linux only), each worker
one run at a time with hwlib's threads (:mod:`hwlib.runtime`): bit-identical to the run trained alone."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from unittest import mock

from hwlib import progress, runtime
from hwlib.config import Experiment, short_hash
from hwlib.errors import ClusterError, ConfigError, HwlibError, StoreError
from hwlib.store import RunStore

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler
WORKER_MEMORY = 3 * 2**30  # memory one local training process may need
STOP_GRACE = 10.0  # seconds a stopped local worker gets to clean up before it is killed
FORWARDED_ENV = ("HWLIB_DATA_STRICT", "HWLIB_NO_DOWNLOAD", "HWLIB_NO_TRAIN")  # sent with every cluster task
_ONE_TRAINING = threading.Lock()  # Keras' session and the seeds are per process: one training at a time
_LINES: Any = None  # in a local worker: the queue its log lines go to
_STATE = "idle"  # in a local worker: "idle", "training", or "stopping" (its run is being cleaned up)


@dataclass(frozen=True)
class Task:
    """One training: an experiment, whether to keep its weights, and its ``tier`` (lower tiers start first)."""

    experiment: Experiment
    weights: bool = True
    tier: int = 0


def _describe(exp: Experiment) -> str:
    return f"{exp.name} seed {exp.train.seed}"


def run_all(tasks: Sequence[Task], store: RunStore | str | os.PathLike | None = None, *,
            scheduler: str | None = None, workers: int | None = None,
            force: bool = False, data_dir: str | os.PathLike | None = None,
            log: Callable[[str], None] | None = None, on_run: Callable[[Any], None] | None = None) -> list[Any]:
    """The runs of ``tasks``, in order: found in the store, or trained in :func:`schedule`'s order on
    ``workers`` local processes (default: one per core and :data:`WORKER_MEMORY` of free memory) or a
    Dask ``scheduler``. A config trains once (weights kept if any task asks); ``on_run`` gets each run."""
    from hwlib.train import Run, find

    store = store if isinstance(store, RunStore) else RunStore(store)
    scheduler = None if scheduler is None else parse_scheduler(scheduler)  # a bad spec fails first
    if workers is not None and (type(workers) is not int or workers < 1):
        raise ConfigError(f"The number of worker processes must be a whole number >= 1, got {workers!r}.")
    log = log or (lambda line: None)
    users: dict[str, list[int]] = {}  # the tasks of each config
    for i, t in enumerate(tasks):
        users.setdefault(short_hash(t.experiment.config_dict()), []).append(i)
    runs: list[Any] = [None] * len(tasks)

    def finished(r: Any) -> None:
        for n, i in enumerate(users[short_hash(r.experiment.config_dict())]):
            runs[i] = r if n == 0 else Run(tasks[i].experiment, r.key, r.entry, trained=False)
            if on_run:
                on_run(runs[i])

    todo = []
    for same in users.values():
        t = replace(tasks[same[0]], weights=any(tasks[i].weights for i in same))
        found = None if force else find(t.experiment, store, weights=t.weights, data_dir=data_dir, log=log)
        if found is None:
            todo.append(t)
        else:
            finished(found)
    if not todo:
        return runs
    rates = progress.stored_rates(store.get(k) for k in store.keys())
    estimates = [progress.estimate_seconds(t.experiment, rates) for t in todo]
    start, done = time.monotonic(), []

    def trained(j: int, r: Any) -> None:
        finished(r)
        done.append(estimates[j])
        log(progress.line(done, estimates, time.monotonic() - start, _describe(todo[j].experiment)))

    if scheduler:
        _run_on_cluster(todo, estimates, store, scheduler, force, data_dir, log, trained)
    else:
        _train_locally(todo, estimates, store, workers, force, data_dir, log, trained)
    return runs


def schedule(tasks: Sequence[Task], estimates: Sequence[float]) -> list[int]:
    """The order the workers take ``tasks`` in: by tier, then the longest estimate first, equal
    estimates by their networks' cost (:func:`hwlib.progress.training_cost`), then as listed."""
    costs = [progress.training_cost(t.experiment) for t in tasks]
    return sorted(range(len(tasks)), key=lambda i: (tasks[i].tier, -estimates[i], -costs[i]))


def _train_locally(tasks: list[Task], estimates: list[float], store: RunStore, workers: int | None, force: bool,
                   data_dir: str | os.PathLike | None, log: Callable[[str], None],
                   trained: Callable[[int, Any], None]) -> None:
    """Train ``tasks`` on spawned worker processes, or here with one worker."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from hwlib.train import run

    cores = len(os.sched_getaffinity(0))
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    n_workers = min(workers or max(1, min(cores, free // WORKER_MEMORY)), len(tasks))
    log(f"{len(tasks)} run(s) to train on {n_workers} worker process(es), estimated "
        f"{progress.duration(max(max(estimates), sum(estimates) / n_workers))}")
    if n_workers == 1:
        for j in schedule(tasks, estimates):
            t = tasks[j]
            trained(j, run(t.experiment, store, force=force, weights=t.weights, data_dir=data_dir, log=log))
        return
    ctx = multiprocessing.get_context("spawn")
    lines = ctx.SimpleQueue()  # the workers' log lines, as they come
    before = set(multiprocessing.active_children())
    # Where installed, jemalloc speeds up the workers' large tensor allocations (the results are the same).
    jemalloc = ctypes.util.find_library("jemalloc") if "LD_PRELOAD" not in os.environ else None
    with mock.patch.dict(os.environ, {"LD_PRELOAD": jemalloc} if jemalloc else {}):  # submitting spawns them
        pool = ProcessPoolExecutor(n_workers, ctx, initializer=_start_worker,
                                   initargs=(lines, os.getpid(), runtime.inter_op_threads(n_workers, cores)))
        futures = {pool.submit(_work, tasks[i], str(store.root), force, data_dir): i
                   for i in schedule(tasks, estimates)}
    try:
        procs = [p for p in multiprocessing.active_children() if p not in before]
        pending = set(futures)
        while pending:
            ready, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            while not lines.empty():
                log(lines.get())
            # Watched here too: the pool can miss a worker spawned while it waited; a dead one's exit code reads late.
            broken = any(not f.cancelled() and isinstance(f.exception(), BrokenProcessPool) for f in ready)
            deadline = time.monotonic() + (STOP_GRACE if broken else 0)
            while not (dead := [c for p in procs if (c := p.exitcode) is not None]) and time.monotonic() < deadline:
                time.sleep(0.05)
            if dead or broken:  # the first failing code: the pool may have stopped the others since
                code = next((c for c in dead if c), dead[0] if dead else "unknown")
                raise StoreError(f"A training process died (exit code {code}: killed, or out of memory). "
                                 "Every stored run is complete; run the command again to train what is missing, "
                                 "with fewer --workers if memory is short.")
            for fut in ready:
                trained(futures[fut], fut.result())
    except BaseException:
        _stop([p for p in multiprocessing.active_children() if p not in before], store)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _worker_interrupted(signum: int, frame: Any) -> None:
    """A local worker's SIGINT handler: stop the run, once; idle, exit."""
    global _STATE
    if _STATE == "training":
        _STATE = "stopping"
        raise KeyboardInterrupt
    if _STATE == "idle":
        os._exit(130)


def _start_worker(lines: Any, parent: int, inter_op: int) -> None:
    """Set up a local worker process (the pool's initializer)."""
    global _LINES
    ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG: killed when its command dies
    if os.getppid() != parent:  # the command died before that took effect
        os._exit(1)
    signal.signal(signal.SIGINT, _worker_interrupted)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the command stops it with SIGINT: it cleans up first
    atexit.register(runtime.exit_now, 0)  # no interpreter teardown under TensorFlow's threads
    runtime.THREADS["inter_op"] = inter_op  # results stay the same; set before TensorFlow starts
    os.environ.update(runtime.thread_environment())
    _LINES = lines


def _work(task: Task, store: str, force: bool, data_dir: str | os.PathLike | None) -> Any:
    """Train (or find) ``task`` in a local worker, sending its log lines, labelled by run key, to the command."""
    from hwlib.data import identify
    from hwlib.train import key_for, run

    global _STATE
    exp = task.experiment
    label = f"{_describe(exp)} [{key_for(exp, identify(exp.dataset, data_dir).fingerprint)[:8]}]"
    _STATE = "training"
    try:
        return run(exp, store, force=force, weights=task.weights, data_dir=data_dir,
                   log=lambda line: _LINES.put(f"{label}: {line.removeprefix(exp.name + ': ')}"))
    except KeyboardInterrupt:
        runtime.exit_now(130)  # its run cleaned up; its command is stopping
    finally:
        _STATE = "idle"


def _stop(procs: list[Any], store: RunStore) -> None:
    """Stop local workers with SIGINT (their runs clean up), kill those alive after :data:`STOP_GRACE`, clean up."""
    with runtime.catch_interrupts():  # another Ctrl-C cannot cut this short
        for p in procs:
            if p.is_alive():
                with contextlib.suppress(OSError):
                    os.kill(p.pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        store.clean_stale()


# -- on a Dask cluster ---------------------------------------------------------------------------
def parse_scheduler(spec: str) -> str:
    """``tcp://HOST:PORT`` from ``tcp://HOST:PORT`` or ``HOST:PORT``, or ``local:N``; a :class:`ConfigError` else."""
    text = str(spec).strip()
    if text.startswith("local:"):
        n = text[6:]
        if not re.fullmatch(r"[0-9]+", n) or int(n) < 1:
            raise ConfigError(f"Cannot read the scheduler {spec!r}: local:N needs a number of worker "
                              "processes N >= 1, e.g. local:2.")
        return f"local:{int(n)}"
    m = re.fullmatch(r"(?:(tcp|tls)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})", text)
    if not m or not 0 < int(m.group(3)) < 65536:
        raise ConfigError(f"Cannot read the scheduler {spec!r}: use tcp://HOST:PORT (an existing Dask "
                          "scheduler; HOST:PORT also works) or local:N (start N local worker processes).")
    return f"{m.group(1) or 'tcp'}://{m.group(2)}:{m.group(3)}"


def train_task(exp: Experiment, store: str, weights: bool, force: bool, data_dir: str | None,
               env: dict[str, str]) -> dict[str, Any]:
    """Train (or find) ``exp`` on a Dask worker: ``{"key", "trained", "code_version", "log"}``."""
    import distributed

    from hwlib import train

    os.environ.update(env)
    lines: list[str] = []
    with _ONE_TRAINING:
        r = train.run(exp, store, force=force, weights=weights, data_dir=data_dir, log=lines.append)
    address = distributed.get_worker().address
    return {"key": r.key, "trained": r.trained, "code_version": train.TRAIN_CODE_VERSION,
            "log": [f"{address}: {line}" for line in lines if not line.startswith("epoch")]}


def _client(scheduler: str) -> Any:
    """A Dask client of ``scheduler`` (from :func:`parse_scheduler`); for ``local:N``, of a cluster it starts."""
    import distributed

    try:
        if scheduler.startswith("local:"):
            return distributed.Client(n_workers=int(scheduler[6:]), threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs="ERROR")
        return distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - whatever stops it, one paragraph
        if scheduler.startswith("local:"):
            raise ClusterError(f"Could not start {scheduler[6:]} local Dask workers ({type(exc).__name__}: {exc}). "
                               "Use --workers N for local worker processes without Dask.") from None
        raise ClusterError(f"Cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT:g} s "
                           f"({type(exc).__name__}). Start one (`dask scheduler`, then `dask worker ADDRESS` on each "
                           "machine) or check the address; --scheduler local:N starts workers here instead.") from None


def _run_on_cluster(tasks: list[Task], estimates: list[float], store: RunStore, scheduler: str, force: bool,
                    data_dir: str | os.PathLike | None, log: Callable[[str], None],
                    trained: Callable[[int, Any], None]) -> None:
    """Train ``tasks`` on a Dask cluster, each at its :func:`schedule` rank's priority."""
    import distributed

    root = str(store.root.expanduser().resolve())
    data_dir = data_dir or os.environ.get("HWLIB_DATA_DIR")
    data = os.path.realpath(os.path.expanduser(data_dir)) if data_dir else None
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    client = _client(scheduler)
    futures = {}
    try:
        info = client.scheduler_info()
        log(f"{len(tasks)} run(s) to train on the {len(info.get('workers', {}))} worker(s) of the Dask "
            f"scheduler {info.get('address', scheduler)}, into {root}")
        for rank, i in enumerate(schedule(tasks, estimates)):
            futures[client.submit(train_task, tasks[i].experiment, root, tasks[i].weights, force, data, env,
                                  pure=False, priority=len(tasks) - rank)] = i
        for fut in distributed.as_completed(list(futures)):
            trained(futures[fut], _cluster_run(fut, tasks[futures[fut]], store, log))
    except BaseException:
        client.cancel(list(futures))  # Ctrl-C or an error: nothing more is started
        raise
    finally:
        client.close()  # and the cluster it started


def _cluster_run(fut: Any, task: Task, store: RunStore, log: Callable[[str], None]) -> Any:
    """The run of a finished cluster task, read from the shared store; the task's log lines logged."""
    from hwlib.train import TRAIN_CODE_VERSION, Run

    try:
        out = fut.result()
    except HwlibError:  # a user's error, said by the worker
        raise
    except Exception as exc:  # an unexpected one, or its workers kept dying
        raise ClusterError(f"Training {_describe(task.experiment)} failed on the cluster: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}. Its store entry, if any, is complete "
                           "or absent; rerun to train what is missing.") from None
    for line in out["log"]:
        log(line)
    if out["code_version"] != TRAIN_CODE_VERSION:
        raise ClusterError(f"A worker runs training code version {out['code_version']!r}, this process "
                           f"{TRAIN_CODE_VERSION!r}: install the same hwlib on every worker.")
    entry = store.get(out["key"])
    if entry is None:
        raise StoreError(f"A worker stored {_describe(task.experiment)} as run {out['key']} in {store.root}, but "
                         "this machine does not see it there: the run store must be on a file system shared by the "
                         "workers and this machine (--store PATH).")
    return Run(task.experiment, out["key"], entry, trained=bool(out["trained"]))
