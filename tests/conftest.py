"""Shared fixtures: tiny synthetic datasets in the real file format, isolated stores."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

SHAPES = {"mnist": (28, 28), "cifar10": (32, 32, 3)}


def make_tiny(name: str, n_train: int = 200, n_test: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """Learnable synthetic images: class k is a bright bar at row band k, plus noise."""
    rng = np.random.default_rng(seed)
    shape = SHAPES[name]
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        y = np.arange(n) % 10
        rng.shuffle(y)
        x = rng.integers(0, 60, size=(n, *shape), dtype=np.uint8)
        rows = shape[0] // 10
        for i, label in enumerate(y):
            x[i, label * rows:(label + 1) * rows] = 230
        out[f"x_{split}"], out[f"y_{split}"] = x, y.astype(np.uint8)
    return out


def write_tiny(folder: Path, **kwargs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in SHAPES:
        np.savez_compressed(folder / f"{name}.npz", **make_tiny(name, **kwargs))
    return folder


def tiny_command_env(tiny_dir: Path, base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of an ``hwlib`` command run as a subprocess on the tiny data: ``base``
    (default: this process's environment) with the tiny data folder, non-strict checks, no
    download, and ``extra``."""
    return {**(os.environ if base is None else base), "HWLIB_DATA_DIR": str(tiny_dir),
            "HWLIB_DATA_STRICT": "0", "HWLIB_NO_DOWNLOAD": "1", **extra}


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory) -> Path:
    """hwlib's cache (:func:`hwlib.data.cache_dir`) in a folder of this test session, for
    this process and the commands it starts: tests neither read nor fill the user's."""
    folder = tmp_path_factory.mktemp("hwlib-cache")
    os.environ["HWLIB_CACHE_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A folder with tiny mnist.npz and cifar10.npz (non-canonical sizes)."""
    return write_tiny(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture
def tiny_env(tiny_dir, monkeypatch, tmp_path) -> Path:
    """Point hwlib at the tiny data (non-strict) and at a fresh store; returns the store."""
    from hwlib import data

    store = tmp_path / "store"
    monkeypatch.setenv("HWLIB_DATA_DIR", str(tiny_dir))
    monkeypatch.setenv("HWLIB_DATA_STRICT", "0")
    monkeypatch.setenv("HWLIB_NO_DOWNLOAD", "1")
    monkeypatch.setenv("HWLIB_STORE", str(store))
    data.clear_cache()
    yield store
    data.clear_cache()


IN_CI = os.environ.get("CI") == "true"


def unless(available: bool, reason: str) -> pytest.MarkDecorator:
    """Skip when something a test needs is missing here, but never under ``CI=true``: there
    the test runs anyway and fails on what is missing (a CI run may not pass by skipping)."""
    return pytest.mark.skipif(not available and not IN_CI, reason=reason)


def real_data_dir() -> str | None:
    d = os.environ.get("HWLIB_DATA_DIR")
    return d if d and (Path(d) / "mnist.npz").exists() else None


needs_real_data = unless(real_data_dir() is not None, "set HWLIB_DATA_DIR to the real datasets")


def deliver_sigint() -> None:
    """``preexec_fn`` for a child that a test interrupts: undo an inherited "ignore SIGINT"
    (a shell gives its background jobs one, e.g. `nohup make test &`), so the child's Python
    turns the signal into a KeyboardInterrupt as it does at a terminal."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def sigint_delivered():
    """This process turns SIGINT into a KeyboardInterrupt during the test, even when it was
    started with SIGINT ignored (see :func:`deliver_sigint`)."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
