"""The TensorFlow runtime every training process runs in: threads, determinism, seeds.

A run's history depends on more than its config: the number of threads TensorFlow splits
an operation over changes the order of floating-point sums (measured on CIFAR-10: 29.26 %
vs 27.96 % test accuracy after one epoch). So every process that trains runs with the one
thread configuration :data:`THREADS`, whatever the machine's core count: one intra-op
thread (each operation computed by one thread: the part of the configuration that decides
results, :data:`RESULT_THREADS`, in every run's key, :func:`hwlib.train.key_for`) and up to
two inter-op threads (two independent operations, such as a layer's weight and input
gradients, computed at the same time, each by its one thread: the same results, tested
bit-identical against one inter-op thread, on one core and on two). A run is then
bit-identical on 1 core or 16; a run alone uses two cores, and the cores of a machine run
separate trainings (:mod:`hwlib.executor`), each worker with its share of the cores as
inter-op threads (:func:`inter_op_threads`).

``import hwlib`` sets ``TF_NUM_INTRAOP_THREADS``/``TF_NUM_INTEROP_THREADS`` before
TensorFlow starts; :func:`configure` also sets them through ``tf.config`` and refuses to
train in a process whose TensorFlow already runs with other thread pools.

:func:`seed_everything` seeds Python, NumPy, TensorFlow and Keras with deterministic
ops; :func:`private_seed_draws` gives the calling thread its own stream of the seeds
Keras draws for its initializers.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from hwlib.errors import ConfigError

# At most two inter-op threads: the networks' graphs have at most two heavy operations that can
# run at once (a convolution's weight and input gradients). Measured on 2 cores, a CIFAR-10
# epoch alone: x1.36 over one.
INTER_OP_MAX = 2
# The threads of this process: a training alone runs INTER_OP_MAX inter-op threads; a worker
# among others on the machine's cores runs its share (inter_op_threads, use_inter_op_threads).
THREADS = {"intra_op": 1, "inter_op": INTER_OP_MAX}
# What of THREADS decides a run's results (in every key): the threads each operation is split
# over. The inter-op threads only decide which independent operations run at the same time.
RESULT_THREADS = {"intra_op": THREADS["intra_op"]}


def thread_environment() -> dict[str, int]:
    """TensorFlow's thread variables for :data:`THREADS`."""
    return {"TF_NUM_INTRAOP_THREADS": THREADS["intra_op"], "TF_NUM_INTEROP_THREADS": THREADS["inter_op"]}


def set_thread_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """Put the thread variables of :data:`THREADS` into ``env`` (default: this process's
    environment, read by TensorFlow when it starts); returns ``env``."""
    env = os.environ if env is None else env
    for name, value in thread_environment().items():
        env[name] = str(value)
    return env


def inter_op_threads(trainings: int, cores: int) -> int:
    """The inter-op threads of each of ``trainings`` processes that train at once on
    ``cores`` cores: the cores shared out, at least one, at most :data:`INTER_OP_MAX`.

    A training alone on two cores gets two; two workers on two cores get one each. Measured
    here (2 cores, whole sweeps into an empty store, 3 interleaved pairs): two workers with
    one inter-op thread each trained the MNIST sweep x1.07 sooner than with two each (pairs
    1.03-1.11), the CIFAR-10 sweep as soon (x1.01, 0.99-1.14): beside another training, a
    second inter-op thread competes with it for the same cores."""
    return max(1, min(INTER_OP_MAX, cores // max(1, trainings)))


def use_inter_op_threads(n: int) -> None:
    """Give this process ``n`` inter-op threads (the results stay the same,
    :data:`RESULT_THREADS`). Call it before TensorFlow starts: a worker does, first."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"The number of inter-op threads must be a whole number >= 1, got {n!r}.")
    if "tensorflow" in sys.modules:  # imported: its runtime may have started with other pools
        import tensorflow as tf

        try:
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError:
            raise ConfigError(
                f"Cannot give this process {n} inter-op threads: its TensorFlow already runs. "
                "Choose the threads before TensorFlow starts (before the first training).") from None
    THREADS["inter_op"] = n
    set_thread_environment()


# TensorFlow's start-up notices, which it writes to stderr whatever TF_CPP_MIN_LOG_LEVEL says
# (TensorFlow 2.21 logs them before its logging is set up): a pair when it is imported, a pair
# when its runtime starts, in every process that trains.
START_NOTICES = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
                 "] oneDNN custom operations are on.")


@contextlib.contextmanager
def without_start_notices() -> Iterator[None]:
    """Inside, what is written to this process's standard error (file descriptor 2, where
    TensorFlow's C++ code writes) is held back; at the end it is written out without the lines
    of :data:`START_NOTICES`, everything else as it was."""
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not any(notice in line for notice in START_NOTICES))
            if kept and sys.stderr is not None:
                sys.stderr.write(kept)
                sys.stderr.flush()


def start_tensorflow() -> Any:
    """Import TensorFlow and Keras (once), their start-up notices left out of standard error
    (:func:`without_start_notices`); returns the ``tensorflow`` module."""
    if "tensorflow" not in sys.modules:
        with without_start_notices():
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    import tensorflow as tf

    return tf


class _NewModelRetracing:
    """A logging filter: drops TensorFlow's warning that a function "triggered tf.function
    retracing". Every run builds a new model whose training step Keras traces once; TensorFlow
    counts those as retracings of one function and warns after five, in every worker that
    trains several runs, although nothing is traced again for the same model."""

    def filter(self, record: Any) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def _drop_new_model_retracing_warnings(tf: Any) -> None:
    logger = tf.get_logger()
    if not any(isinstance(f, _NewModelRetracing) for f in logger.filters):
        logger.addFilter(_NewModelRetracing())


def configure() -> None:
    """Make this process's TensorFlow use :data:`THREADS`, or raise :class:`ConfigError`.

    Before TensorFlow's runtime starts, the pools are set; afterwards the intra-op pool is
    checked (the environment variables set by ``import hwlib`` already fixed it, unless
    TensorFlow started before hwlib was imported with another value). Another inter-op
    pool size is accepted: it does not change results (:data:`RESULT_THREADS`). TensorFlow is
    imported and its runtime started here, without their start-up notices
    (:func:`start_tensorflow`), and its retracing warnings for new models are dropped.
    """
    tf = start_tensorflow()
    _drop_new_model_retracing_warnings(tf)
    threading_api = tf.config.threading
    try:
        threading_api.set_intra_op_parallelism_threads(THREADS["intra_op"])
        threading_api.set_inter_op_parallelism_threads(THREADS["inter_op"])
    except RuntimeError:  # the runtime is already up: check what it runs with
        pass
    else:
        with without_start_notices():  # start the runtime now, with these pools
            tf.config.list_logical_devices("CPU")
        return
    got, want = threading_api.get_intra_op_parallelism_threads(), RESULT_THREADS["intra_op"]
    set_by_hwlib = os.environ.get("TF_NUM_INTRAOP_THREADS") == str(want) and _ENV_BEFORE_TF
    if got == want or (got == 0 and set_by_hwlib):  # 0: TensorFlow's "from the environment"
        return
    raise ConfigError(
        f"TensorFlow in this process already runs with {got or 'its default number of'} intra-op "
        f"threads, but every hwlib run trains with {want} (the thread configuration is part of what "
        "a run is). Import hwlib before TensorFlow (or set "
        + " ".join(f"{k}={v}" for k, v in thread_environment().items())
        + " before starting Python), then train again in a fresh process."
    )


# Whether hwlib set the thread variables before TensorFlow was imported (hwlib/__init__).
_ENV_BEFORE_TF = True


def note_import_order(tensorflow_already_imported: bool) -> None:
    global _ENV_BEFORE_TF
    _ENV_BEFORE_TF = not tensorflow_already_imported


_DETERMINISM_ON = False


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, with deterministic TF ops and the thread
    configuration :data:`THREADS`."""
    global _DETERMINISM_ON
    configure()  # first: it imports TensorFlow without its start-up notices
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    if not _DETERMINISM_ON:
        tf.config.experimental.enable_op_determinism()
        _DETERMINISM_ON = True
    keras.utils.set_random_seed(seed)


_THREAD_RNG = threading.local()


class _SeedDraws:
    """Stands in for the ``random`` module inside Keras' ``seed_generator``: within
    :func:`private_seed_draws` the calling thread draws from its own generator, elsewhere
    (and in every other thread) from the global one, as before."""

    def __getattr__(self, name: str) -> Any:
        rng = getattr(_THREAD_RNG, "rng", None)
        return getattr(rng if rng is not None else random, name)


def keras_seed_module() -> Any:
    """Keras' private module whose ``python_random`` draws initializer seeds; a clear error
    if a Keras upgrade moved it (the pinned Keras has it)."""
    import keras

    try:
        from keras.src.random import seed_generator
    except ImportError:
        seed_generator = None
    if seed_generator is None or not hasattr(seed_generator, "python_random"):
        raise RuntimeError(
            f"Keras {keras.__version__} no longer has keras.src.random.seed_generator.python_random, "
            "which hwlib replaces so that each training thread draws its own initializer seeds. "
            "Install the pinned Keras (pip install -c constraints.txt -e .), or port "
            "hwlib.runtime.private_seed_draws to this Keras version."
        )
    return seed_generator


@contextlib.contextmanager
def private_seed_draws(seed: int) -> Iterator[None]:
    """Keras draws the seed of every unseeded initializer from Python's global ``random``,
    which other threads of the process also use (a Dask worker's event loop, a kernel's
    heartbeat): the initial weights would depend on their timing. Inside, this thread's
    draws come from ``random.Random(seed)``, the sequence that ``random.seed(seed)`` gives a
    single-threaded process (the initializers are the only draws during a fit), so the
    weights are the same as before, in any process."""
    seed_generator = keras_seed_module()
    if not isinstance(seed_generator.python_random, _SeedDraws):
        seed_generator.python_random = _SeedDraws()
    previous = getattr(_THREAD_RNG, "rng", None)
    _THREAD_RNG.rng = random.Random(seed)
    try:
        yield
    finally:
        _THREAD_RNG.rng = previous


class Interrupts:
    """What :func:`catch_interrupts` saw: ``seen`` turns true at the first SIGINT."""

    def __init__(self) -> None:
        self.seen = False

    def check(self) -> None:
        """Raise :class:`KeyboardInterrupt` if an interrupt was seen: the one place where a
        Ctrl-C inside :func:`catch_interrupts` becomes an exception."""
        if self.seen:
            raise KeyboardInterrupt


@contextlib.contextmanager
def catch_interrupts() -> Iterator[Interrupts]:
    """Inside, a SIGINT (Ctrl-C) is recorded, not raised where the program happens to be:
    :meth:`Interrupts.check` raises it, at points where stopping is safe (a training checks
    before each execution of its steps, after every epoch, and before its run is stored).

    Python raises a ``KeyboardInterrupt`` at whatever bytecode runs when the signal comes:
    inside TensorFlow's and Keras's own Python code too (half-way through making an epoch's
    iterator or tracing a step, or in a finalizer, where it is printed as "Exception
    ignored" and lost), which can leave their state half-made. Checked at safe points, the
    training stops within one execution of its steps (about a second at most).

    A second SIGINT after the first is ignored within the block: it would cut short the
    clean-up the first one started (the removal of the run's temporary folder). That is
    what happens when Ctrl-C reaches a worker twice: once from the terminal, to the whole
    process group, then from its command stopping it. The handler that was installed before
    still sees the first signal (a worker marks itself as stopping); an exception it raises
    is deferred too. Off the main thread (signals are delivered to the main thread only) and
    where SIGINT is ignored, nothing is changed.
    """
    state = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):
        yield state
        return

    def handler(signum: int, frame: Any) -> None:
        if state.seen:  # being handled: let its clean-up finish
            return
        state.seen = True
        if callable(previous):
            with contextlib.suppress(KeyboardInterrupt):  # raised by the next check instead
                previous(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def exit_now(code: int) -> None:
    """End this process with ``code`` now, its output flushed, without tearing down its
    interpreter. For a process whose work is done (an interrupted command once its clean-up
    is over, a worker once its reports are sent) while TensorFlow's own threads may still
    run, such as an input pipeline's prefetch stopped mid-epoch: a teardown under them can
    crash, and the process then ends by a segmentation fault instead of with ``code`` (seen
    once in CI, after jemalloc became the allocator). It also skips the second or more that
    a teardown of TensorFlow takes."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
