"""The TensorFlow runtime of every training process: threads, determinism, seeds, interrupts."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

from hwlib.errors import ConfigError

INTER_OP_MAX = 2  # the networks have at most two heavy operations that can run at once
THREADS = {"intra_op": 1, "inter_op": INTER_OP_MAX}  # a local worker lowers inter_op to its share of the cores
RESULT_THREADS = {"intra_op": THREADS["intra_op"]}  # what decides a run's results: the same on any number of cores
_ENV_BEFORE_TF = "tensorflow" not in sys.modules  # whether the thread variables were set before TensorFlow
_DETERMINISM_ON = False
_THREAD_RNG = threading.local()


def thread_environment() -> dict[str, str]:
    """The environment variables TensorFlow reads its :data:`THREADS` from when it starts."""
    return {"TF_NUM_INTRAOP_THREADS": str(THREADS["intra_op"]), "TF_NUM_INTEROP_THREADS": str(THREADS["inter_op"])}


def inter_op_threads(trainings: int, cores: int) -> int:
    """The inter-op threads of each of ``trainings`` processes on ``cores`` cores: 1 to :data:`INTER_OP_MAX`."""
    return max(1, min(INTER_OP_MAX, cores // max(1, trainings)))


def _not_retracing(record: Any) -> bool:
    return "triggered tf.function retracing" not in record.getMessage()


def configure() -> None:
    """Start this process's TensorFlow with :data:`THREADS`, or check the intra-op pool it runs with."""
    import keras  # noqa: F401
    import tensorflow as tf

    tf.get_logger().addFilter(_not_retracing)
    threading_api = tf.config.threading
    try:
        threading_api.set_intra_op_parallelism_threads(THREADS["intra_op"])
        threading_api.set_inter_op_parallelism_threads(THREADS["inter_op"])
    except RuntimeError:  # already running: check it
        pass
    else:
        tf.config.list_logical_devices("CPU")  # start it now, with these pools
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


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; deterministic TF ops, :data:`THREADS`."""
    global _DETERMINISM_ON
    configure()
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    if not _DETERMINISM_ON:
        tf.config.experimental.enable_op_determinism()
        _DETERMINISM_ON = True
    keras.utils.set_random_seed(seed)


class _SeedDraws:
    """Keras' ``random``: inside :func:`private_seed_draws` the thread's own generator, elsewhere the global one."""

    def __getattr__(self, name: str) -> Any:
        rng = getattr(_THREAD_RNG, "rng", None)
        return getattr(rng if rng is not None else random, name)


def keras_seed_module() -> Any:
    """Keras' private module whose ``python_random`` draws initializer seeds, or a clear error."""
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
    """Inside, this thread draws Keras' initializer seeds from ``random.Random(seed)``, not the global ``random``."""
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
    """What :func:`catch_interrupts` saw (``seen``); :meth:`check` raises KeyboardInterrupt if a SIGINT was."""

    seen = False

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt


@contextlib.contextmanager
def catch_interrupts() -> Iterator[Interrupts]:
    """Inside, a first SIGINT is recorded (and passed on) and raised only by :meth:`Interrupts.check`."""
    state = Interrupts()
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (signal.SIG_IGN, None):
        yield state
        return

    def handler(signum: int, frame: Any) -> None:
        if not state.seen and callable(previous):
            with contextlib.suppress(KeyboardInterrupt):  # raised by the next check instead
                previous(signum, frame)
        state.seen = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def exit_now(code: int) -> NoReturn:
    """End this process with ``code`` now, output flushed, without the teardown TensorFlow's threads can crash."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # on import: TensorFlow's C++ info messages stay out of the output
os.environ.update(thread_environment())  # and its threads are set before anything starts it
