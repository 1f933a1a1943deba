"""The memory allocator training processes run with: jemalloc, when the machine has it.

TensorFlow allocates and frees every batch's tensors at every step, from several threads;
jemalloc serves that faster than the C library's malloc (measured on this project's
2-core machine: the 7-run MNIST sweep 8 % sooner, benchmarks/README.md). An allocator
decides where a buffer lives, never what is computed in it (TensorFlow aligns its tensor
buffers itself), and a run trained with jemalloc is bit-identical to the same run trained
without (tests/test_allocator.py): so the allocator is not part of a run's key, and each
run records the one it ran with (``malloc`` in its provenance) next to its timings.

An allocator replaces ``malloc`` only when it is loaded before the program starts
(``LD_PRELOAD``): an ``hwlib`` command restarts itself once with it
(:func:`restart_with_allocator`) and starts its worker processes with it
(:func:`preloaded`). ``HWLIB_MALLOC`` chooses: ``jemalloc`` (the default: used when found,
else the C library's malloc), ``system`` (the C library's malloc), or the path of a malloc
library to preload.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from hwlib.errors import ConfigError

VARIABLE = "HWLIB_MALLOC"
JEMALLOC = "libjemalloc.so.2"  # Debian/Ubuntu's libjemalloc2, conda-forge's jemalloc
# Set in a command restarted with the allocator: it never restarts twice (e.g. when the
# dynamic loader refused to preload the library).
_RESTARTED = "HWLIB_MALLOC_RESTARTED"


def _search_dirs() -> list[Path]:
    """Where jemalloc is looked for: this Python's prefix (a conda environment), then the
    system's library folders."""
    prefixes = [Path(sys.prefix), *(Path(p) for p in [os.environ.get("CONDA_PREFIX")] if p)]
    dirs = [p / "lib" for p in prefixes]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    for base in ("/usr/local/lib", "/usr/lib", "/lib", "/usr/lib64", "/lib64"):
        dirs += [Path(base, multiarch)] if multiarch else []
        dirs.append(Path(base))
    return dirs


def library(env: dict[str, str] | os._Environ | None = None) -> str | None:
    """The malloc library training processes preload (a path), or ``None`` for the C
    library's malloc, as ``HWLIB_MALLOC`` in ``env`` (default: this process's) says."""
    env = os.environ if env is None else env
    setting = env.get(VARIABLE, "").strip() or "jemalloc"
    if setting == "system":
        return None
    if setting == "jemalloc":
        return next((str(d / JEMALLOC) for d in _search_dirs() if (d / JEMALLOC).is_file()), None)
    path = Path(setting).expanduser()
    if not path.is_absolute() or not path.is_file():
        raise ConfigError(
            f"{VARIABLE}={setting!r} is not the absolute path of a file. Set it to 'jemalloc' "
            f"(the default: used when found, e.g. Debian's libjemalloc2), 'system' (the C library's "
            f"malloc) or the absolute path of a malloc library, e.g. /usr/lib/x86_64-linux-gnu/{JEMALLOC}.")
    return str(path.resolve())


def _preload_list(env: dict[str, str] | os._Environ) -> list[str]:
    return env.get("LD_PRELOAD", "").replace(":", " ").split()


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: this process's environment) that preloads :func:`library`
    in the processes started with it (unchanged when that is the C library's malloc)."""
    env = dict(os.environ if env is None else env)
    lib = library(env)
    if lib and lib not in _preload_list(env):
        env["LD_PRELOAD"] = " ".join([lib, *_preload_list(env)])
    return env


def in_use() -> str:
    """The malloc this process runs with: the file name of a preloaded library that is
    mapped into it (e.g. ``libjemalloc.so.2``), else ``"system"``."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:  # not Linux
        return "system"
    for lib in _preload_list(os.environ):
        real = os.path.realpath(lib)
        if real in maps or lib in maps:
            return Path(lib).name
    return "system"


@contextlib.contextmanager
def preloaded() -> Iterator[None]:
    """This process's environment preloading :func:`library` for the processes started
    inside the block (such as spawned workers, which inherit it), restored after."""
    before = os.environ.get("LD_PRELOAD")
    preload = environment().get("LD_PRELOAD")
    if preload:
        os.environ["LD_PRELOAD"] = preload
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LD_PRELOAD", None)
        else:
            os.environ["LD_PRELOAD"] = before


def restart_with_allocator(argv: list[str]) -> None:
    """Restart this ``hwlib`` command, with arguments ``argv``, in a Python that preloads
    :func:`library` and imports this same hwlib, unless it runs with the library already,
    there is none, or it was restarted once. Returns only when it does not restart."""
    if os.environ.get(_RESTARTED) or not sys.platform.startswith("linux"):
        return
    lib = library()
    if lib is None or in_use() == Path(lib).name:
        return
    env = environment()
    env[_RESTARTED] = "1"
    here = str(Path(__file__).resolve().parents[1])
    code = f"import sys; sys.path.insert(0, {here!r}); from hwlib.cli import main; sys.exit(main())"
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError):  # then run on with the C library's malloc
        os.execve(sys.executable, [sys.executable, "-P", "-c", code, *argv], env)
