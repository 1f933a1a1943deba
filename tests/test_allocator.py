"""The allocator training processes run with (hwlib.allocator): jemalloc when found."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwlib import allocator
from hwlib.errors import ConfigError
from hwlib.store import RunStore

from conftest import tiny_command_env, unless

HWLIB = Path(sys.executable).parent / "hwlib"  # the console script
HAVE_JEMALLOC = allocator.library({}) is not None
needs_jemalloc = unless(HAVE_JEMALLOC, "jemalloc is not installed here (bash scripts/install-jemalloc.sh)")


def _env(**changes: str) -> dict[str, str]:
    """This process's environment without a preloaded library, with ``changes``."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "HWLIB_MALLOC", "HWLIB_MALLOC_RESTARTED")}
    return {**env, **changes}


def _fake_library(folder: Path, name: str = allocator.JEMALLOC) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"")
    return folder / name


# -- choosing the library ------------------------------------------------------------------
def test_system_means_the_c_library_malloc():
    assert allocator.library({"HWLIB_MALLOC": "system"}) is None
    assert "LD_PRELOAD" not in allocator.environment({"HWLIB_MALLOC": "system"})


@pytest.mark.parametrize("setting", ["tcmalloc", "libjemalloc.so.2", "/no/such/libjemalloc.so.2"])
def test_a_bad_setting_is_a_clear_error(setting):
    with pytest.raises(ConfigError) as e:
        allocator.library({"HWLIB_MALLOC": setting})
    message = str(e.value)
    assert f"HWLIB_MALLOC={setting!r}" in message and "'jemalloc'" in message and "'system'" in message


def test_a_path_is_preloaded_as_given(tmp_path):
    lib = _fake_library(tmp_path, "libmine.so")
    assert allocator.library({"HWLIB_MALLOC": str(lib)}) == str(lib)


def test_jemalloc_is_looked_for_in_the_python_prefix_first(tmp_path, monkeypatch):
    assert allocator._search_dirs()[0] == Path(sys.prefix) / "lib"  # a conda environment's own
    monkeypatch.setattr(allocator, "_search_dirs", lambda: [tmp_path / "prefix", tmp_path / "system"])
    assert allocator.library({}) is None  # not found: the C library's malloc
    system = _fake_library(tmp_path / "system")
    assert allocator.library({}) == allocator.library({"HWLIB_MALLOC": "jemalloc"}) == str(system)
    assert allocator.library({"HWLIB_MALLOC": "system"}) is None
    assert allocator.library({}) == str(system)
    prefix = _fake_library(tmp_path / "prefix")
    assert allocator.library({}) == str(prefix)


def test_the_environment_preloads_the_library_once(tmp_path):
    lib = _fake_library(tmp_path)
    env = allocator.environment({"HWLIB_MALLOC": str(lib), "LD_PRELOAD": "/other/libx.so"})
    assert env["LD_PRELOAD"] == f"{lib} /other/libx.so"
    assert allocator.environment(env)["LD_PRELOAD"] == env["LD_PRELOAD"]


def test_preloaded_restores_the_environment(tmp_path, monkeypatch):
    lib = _fake_library(tmp_path)
    monkeypatch.setenv("HWLIB_MALLOC", str(lib))
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    with allocator.preloaded():
        assert os.environ["LD_PRELOAD"] == str(lib)
    assert "LD_PRELOAD" not in os.environ
    monkeypatch.setenv("LD_PRELOAD", "/other/libx.so")
    with pytest.raises(RuntimeError), allocator.preloaded():
        assert os.environ["LD_PRELOAD"] == f"{lib} /other/libx.so"
        raise RuntimeError
    assert os.environ["LD_PRELOAD"] == "/other/libx.so"
    monkeypatch.setenv("HWLIB_MALLOC", "system")
    monkeypatch.delenv("LD_PRELOAD")
    with allocator.preloaded():
        assert "LD_PRELOAD" not in os.environ


# -- processes -----------------------------------------------------------------------------
def _malloc_of(cmd: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@needs_jemalloc
def test_a_process_started_with_the_environment_runs_with_jemalloc():
    cmd = [sys.executable, "-c", "from hwlib import allocator; print(allocator.in_use())"]
    assert _malloc_of(cmd, allocator.environment(_env())) == allocator.JEMALLOC
    assert _malloc_of(cmd, _env()) == "system"


def test_the_command_restarts_at_most_once(tmp_path):
    """A library the dynamic loader refuses (not an ELF file: ld.so says so and ignores it)
    does not make `hwlib` restart again and again: it runs on with the C library's malloc.
    (That it does restart with jemalloc: the training test below reads its provenance.)"""
    refused = _fake_library(tmp_path, "libempty.so")
    out = subprocess.run([HWLIB, "--version"], env=_env(HWLIB_MALLOC=str(refused)), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("hwlib "), out.stderr
    assert out.stderr.count("libempty.so") == 1, out.stderr  # ld.so's one warning: one restart


def test_a_bad_setting_stops_the_command_with_one_line():
    out = subprocess.run([HWLIB, "list"], env=_env(HWLIB_MALLOC="/no/such/lib.so"), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.startswith("hwlib: error: HWLIB_MALLOC='/no/such/lib.so'") and "Traceback" not in out.stderr


@needs_jemalloc
def test_a_run_trained_with_jemalloc_is_bit_identical(tmp_path, tiny_dir):
    """Why the allocator is not in a run's key: the same tiny CIFAR-10 run trained by the
    `hwlib` command with jemalloc and with the C library's malloc, to the bit; each run
    records what it ran with."""
    stores = {}
    for setting in ("jemalloc", "system"):
        stores[setting] = RunStore(tmp_path / setting)
        env = tiny_command_env(tiny_dir, _env(HWLIB_MALLOC=setting))
        out = subprocess.run([HWLIB, "train", "cifar10-base", "--store", str(tmp_path / setting), "--quiet",
                              "--set", "epochs=2", "--set", "n_train=120", "--set", "n_test=50"],
                             env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
    a, b = stores["jemalloc"], stores["system"]
    assert a.keys() == b.keys() and len(a.keys()) == 1
    key = a.keys()[0]
    for name in ("history.csv", "metrics.json", "model.weights.h5"):
        assert (a.path(key) / name).read_bytes() == (b.path(key) / name).read_bytes(), name
    assert a.get(key).provenance["malloc"] == allocator.JEMALLOC
    assert b.get(key).provenance["malloc"] == "system"
