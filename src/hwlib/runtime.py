"""The TensorFlow runtime every training process runs in: threads, determinism, seeds.

The number of threads TensorFlow splits an operation over changes the order of floating-point
sums, and so a run's history. Every process that trains therefore runs with the one thread
configuration :data:`THREADS`, whatever the machine's core count: one intra-op thread (the part
that decides results, :data:`RESULT_THREADS`, in every run's key, :func:`hwlib.train.key_for`)
and up to :data:`INTER_OP_MAX` inter-op threads, which run independent operations at the same
time, each on its one thread, and leave results unchanged. A run is then bit-identical on 1 core
or 16; several trainings share a machine's cores (:mod:`hwlib.executor`), each worker with its
share of them as inter-op threads (:func:`inter_op_threads`).

``import hwlib`` sets ``TF_NUM_INTRAOP_THREADS``/``TF_NUM_INTEROP_THREADS`` before TensorFlow
starts; :func:`configure` also sets them through ``tf.config`` and refuses to train in a process
whose TensorFlow already runs with another intra-op pool. :func:`seed_everything` seeds Python,
NumPy, TensorFlow and Keras with deterministic ops; :func:`private_seed_draws` gives the calling
thread its own stream of the seeds Keras draws for its initializers. :func:`catch_interrupts`
turns Ctrl-C into an exception at safe points only.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from hwlib.errors import ConfigError

# The networks' graphs have at most two heavy operations that can run at once (a convolution's
# weight and input gradients).
INTER_OP_MAX = 2
# The threads of this process: a training alone runs INTER_OP_MAX inter-op threads; a worker
# among others runs its share of the cores (inter_op_threads, use_inter_op_threads).
THREADS = {"intra_op": 1, "inter_op": INTER_OP_MAX}
# What of THREADS decides a run's results (in every key): the threads each operation is split over.
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
    ``cores`` cores: the cores shared out, at least one, at most :data:`INTER_OP_MAX` (a
    training alone on two cores gets two; two workers on two cores get one each)."""
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


def _not_retracing(record: Any) -> bool:
    """A logging filter: drops TensorFlow's warning that a function "triggered tf.function
    retracing", which it gives in a process that trains more than five new models."""
    return "triggered tf.function retracing" not in record.getMessage()


def configure() -> None:
    """Make this process's TensorFlow use :data:`THREADS`, or raise :class:`ConfigError`.

    Before TensorFlow's runtime starts, the pools are set; afterwards the intra-op pool is
    checked (the environment variables set by ``import hwlib`` already fixed it, unless
    TensorFlow started before hwlib was imported with another value). Another inter-op
    pool size is accepted: it does not change results (:data:`RESULT_THREADS`). TensorFlow is
    imported and its runtime started here; its retracing warnings for new models are dropped.
    """
    import keras  # noqa: F401
    import tensorflow as tf

    tf.get_logger().addFilter(_not_retracing)  # once: a filter already there is not added again
    threading_api = tf.config.threading
    try:
        threading_api.set_intra_op_parallelism_threads(THREADS["intra_op"])
        threading_api.set_inter_op_parallelism_threads(THREADS["inter_op"])
    except RuntimeError:  # the runtime is already up: check what it runs with
        pass
    else:
        tf.config.list_logical_devices("CPU")  # start the runtime now, with these pools
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
    configure()
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
    before each execution of its steps, after every epoch, and before its run is stored), never
    half-way through TensorFlow's or Keras's own Python code.

    A second SIGINT is ignored within the block, so that it cannot cut short the clean-up the
    first one started (Ctrl-C reaches a worker twice: from the terminal, then from its command).
    The handler installed before still sees the first signal; an exception it raises is deferred
    too. Off the main thread and where SIGINT is ignored, nothing is changed.
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
    interpreter: for a process whose work is done (an interrupted command once its clean-up is
    over, a worker) while TensorFlow's own threads may still run, under which a teardown can
    crash."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
