"""The content-addressed run store.

A trained run lives in ``<store>/runs/<key>/`` where ``key`` hashes the experiment
config, the data fingerprint, the training-code version and the engine and thread
settings that change a history (:func:`run_key`). An entry holds::

    config.json       the experiment (dict form), its key, data fingerprint, code version
    history.csv       per epoch: loss, accuracy, test_loss, test_accuracy
    metrics.json      final test (and train) loss and accuracy
    provenance.json   versions, platform, device, wall time, epochs/s, git commit
    model.weights.h5  the trained weights (only for runs whose figures need it)
    MANIFEST.json     sha256 of every other file: a hand-edited entry is detected

Writes are atomic: an entry is assembled in a temporary folder beside ``runs/`` and
renamed into place, so a run killed mid-training leaves no entry (only a temporary
folder, removed by the next write) and the next run trains it cleanly.

Several processes (cluster workers) may share one store: :meth:`RunStore.lock` holds a
per-key ``flock`` on ``<store>/.locks/<key>`` while a run is trained, so two processes
never train the same key at once (the second one waits, then finds the first one's
entry). The lock files live outside ``runs/`` and are removed on release.

The store is the checkout's ``results/`` by default; ``$HWLIB_STORE`` or an explicit path moves it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
    fcntl = None  # type: ignore[assignment]

from hwlib.config import short_hash
from hwlib.errors import StoreError

DEFAULT_STORE = "results"
FILES = ("config.json", "history.csv", "metrics.json", "provenance.json")
WEIGHTS = "model.weights.h5"
MANIFEST = "MANIFEST.json"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 24 * 3600
NEW_TMP_SECONDS = 60  # a temporary folder without its .pid yet: being created (see begin)
PID_FILE = ".pid"  # in a temporary folder: the process filling it (see clean_stale)
LOCKS = ".locks"  # <store>/.locks/<key>: per-key training locks (see RunStore.lock)
_HELD: set[tuple[str, str]] = set()  # (lock folder, key) held by this process
READ_LOG = "HWLIB_READ_LOG"  # a file RunStore.get appends each key it looks up to (set by hwlib.book)


def run_key(config: dict[str, Any], data_fingerprint: str, code_version: str,
            runtime: dict[str, Any]) -> str:
    """The store key of a run: a hash of what decides its result (the experiment config,
    the data, the training-code version, and the engine and thread settings that change a
    history)."""
    return short_hash({"config": config, "data": data_fingerprint, "code": code_version,
                       "runtime": runtime}, n=16)


def project_root() -> Path | None:
    """The checkout hwlib runs from (editable install), or None for an installed copy."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").exists() and (root / "book").is_dir() else None


def default_root() -> Path:
    """``$HWLIB_STORE``; else ``results/`` of the checkout (wherever the command runs from,
    a notebook in ``book/`` included); else ``./results``."""
    if os.environ.get("HWLIB_STORE"):
        return Path(os.environ["HWLIB_STORE"])
    root = project_root()
    return root / DEFAULT_STORE if root is not None else Path(DEFAULT_STORE)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class Entry:
    """A complete, verified store entry (read-only view)."""

    def __init__(self, path: Path):
        self.path = path
        self.key = path.name

    def read_json(self, name: str) -> dict[str, Any]:
        return json.loads((self.path / name).read_text())

    @property
    def config(self) -> dict[str, Any]:
        return self.read_json("config.json")

    @property
    def metrics(self) -> dict[str, Any]:
        return self.read_json("metrics.json")

    @property
    def provenance(self) -> dict[str, Any]:
        return self.read_json("provenance.json")

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def weights_path(self) -> Path | None:
        p = self.path / WEIGHTS
        return p if p.exists() else None


class RunStore:
    """The run store rooted at ``root`` (default ``$HWLIB_STORE`` or ``results/``)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.runs = self.root / "runs"

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # -- reading ---------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        return self.runs / key

    def get(self, key: str, need_weights: bool = False) -> Entry | None:
        """The verified entry for ``key``, or ``None`` if absent (or lacking weights when
        ``need_weights``). A damaged entry raises :class:`StoreError`. With ``$HWLIB_READ_LOG``
        set, ``key`` is appended to that file (what a chapter reads, :mod:`hwlib.book`)."""
        if os.environ.get(READ_LOG):
            with open(os.environ[READ_LOG], "a") as log:
                log.write(key + "\n")
        path = self.path(key)
        if not path.is_dir():
            if path.exists():
                raise StoreError(f"The store entry {path} is not a folder. Delete it and the run "
                                 "is trained again from its config.")
            return None
        self.verify(key)
        if need_weights and not (path / WEIGHTS).exists():
            return None
        return Entry(path)

    def verify(self, key: str) -> None:
        """Check every file of an entry against its manifest."""
        path = self.path(key)
        fix = (f"Delete the folder {path} (or retrain with --force) and the run is trained "
               "again from its config.")
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"The store entry {path} has no readable {MANIFEST} ({exc}). {fix}") from None
        if not isinstance(manifest, dict):
            raise StoreError(f"The store entry {path} has no readable {MANIFEST} (it holds "
                             f"{type(manifest).__name__}, not file names and checksums). {fix}")
        on_disk = {p.name for p in path.iterdir()} - {MANIFEST}
        for name in sorted(set(manifest) | on_disk):
            if name not in manifest:
                raise StoreError(f"The store entry {path} holds {name}, which its manifest does not list. {fix}")
            if name not in on_disk:
                raise StoreError(f"The store entry {path} lacks {name}, listed in its manifest. {fix}")
            if _sha256(path / name) != manifest[name]:
                raise StoreError(
                    f"The store entry {path}: {name} does not match its checksum (edited by hand or "
                    f"damaged). {fix}"
                )

    def keys(self) -> list[str]:
        if not self.runs.is_dir():
            return []
        return sorted(p.name for p in self.runs.iterdir() if p.is_dir() and not p.name.startswith(TMP_PREFIX))

    def superseded(self, code_version: str) -> list[tuple[str, str, str]]:
        """``(key, name, version)`` of every entry trained by another training-code version
        (such runs are never found again: the version is part of the key)."""
        out = []
        for key in self.keys():
            try:
                config = json.loads((self.path(key) / "config.json").read_text())
                version, name = str(config.get("train_code_version")), str(config.get("name", "?"))
            except (OSError, ValueError, AttributeError):
                version, name = "unreadable", "?"
            if version != code_version:
                out.append((key, name, version))
        return out

    def delete(self, keys: list[str]) -> None:
        """Remove the entries ``keys`` (each one whole: renamed aside, then deleted)."""
        for key in keys:
            path = self.path(key)
            if not path.is_dir():
                continue
            aside = self.runs / f"{TMP_PREFIX}{key}-deleted"
            os.rename(path, aside)
            shutil.rmtree(aside)

    # -- writing ---------------------------------------------------------------------------
    def _check_writable(self) -> None:
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the run store at {self.runs} ({exc.strerror}). Point --store or "
                "HWLIB_STORE at a folder you can write to."
            ) from None
        if not os.access(self.runs, os.W_OK | os.X_OK):
            raise StoreError(
                f"The run store {self.runs} is not writable. Point --store or HWLIB_STORE at a "
                "folder you can write to, or fix its permissions."
            )

    def lock_path(self, key: str) -> Path:
        return self.root / LOCKS / key

    @contextlib.contextmanager
    def lock(self, key: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the training lock of ``key`` (blocking): one trainer per key at a time.

        An exclusive ``flock`` on ``<store>/.locks/<key>``, released when the holder ends or
        dies (the kernel drops it), so a killed worker never blocks the key. ``on_wait`` is
        called once if another process holds it. The file is removed on release; a waiter
        that locked a removed file (its inode is no longer the path's) locks afresh.
        Callers re-check the store after acquiring it.
        """
        self._check_writable()
        path = self.lock_path(key)
        try:
            path.parent.mkdir(exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the lock folder {path.parent} ({exc.strerror}).") from None
        if fcntl is None:  # pragma: no cover
            yield
            return
        waited = False
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if on_wait is not None and not waited:
                        on_wait()
                    waited = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
                st = os.fstat(fd)
                try:
                    current = os.stat(path)
                except FileNotFoundError:
                    current = None
            except BaseException:
                os.close(fd)
                raise
            if current is not None and (current.st_dev, current.st_ino) == (st.st_dev, st.st_ino):
                break
            os.close(fd)  # the holder removed this file as we waited on it: lock the new one
        held = (str(path.parent), key)
        _HELD.add(held)
        try:
            yield
        finally:
            _HELD.discard(held)
            with contextlib.suppress(OSError):
                path.unlink()  # before unlocking: a waiter on this inode then locks afresh
            os.close(fd)

    def _lock_free(self, key: str) -> bool:
        """Whether no process holds the lock of ``key`` right now (a non-blocking probe)."""
        if fcntl is None:  # pragma: no cover
            return True
        try:
            fd = os.open(self.lock_path(key), os.O_RDWR)
        except OSError:
            return True  # no lock file: nobody holds it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        finally:
            os.close(fd)  # closing drops a lock we took
        return True

    def begin(self, key: str) -> Path:
        """A fresh temporary folder in which to assemble the entry ``key``.

        Checked before training starts, so an unwritable store fails in a second, not after
        an hour of training.
        """
        self._check_writable()
        self.clean_stale()
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{key}-", dir=self.runs))
            (tmp / PID_FILE).write_text(f"{os.getpid()} {socket.gethostname()}")
        except OSError as exc:
            raise StoreError(f"Cannot write in the run store {self.runs} ({exc.strerror}).") from None
        return tmp

    def commit(self, key: str, tmp: Path) -> Entry:
        """Seal ``tmp`` with a manifest and rename it to the entry ``key`` atomically."""
        (tmp / PID_FILE).unlink(missing_ok=True)
        missing = [name for name in FILES if not (tmp / name).exists()]
        if missing:
            raise StoreError(f"Refusing to store run {key}: {', '.join(missing)} missing.")
        manifest = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        os.chmod(tmp, 0o755)
        final = self.path(key)
        if final.exists():
            shutil.rmtree(final)  # --force, or an entry without weights being completed
        try:
            os.rename(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"Could not move the finished run into {final} ({exc.strerror}).") from None
        return Entry(final)

    def abort(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)

    def clean_stale(self) -> list[Path]:
        """Remove temporary folders left by runs that were killed (their process is gone).

        A folder's ``.pid`` names its process and host. On this host the process is looked
        up; a folder of another host (a cluster worker elsewhere, same shared store) is
        stale when nobody holds its key's lock, or when this process holds it (then the
        folder's owner cannot be training it). A folder without its ``.pid`` is being created
        by another process (:meth:`begin` writes it next) unless it is a minute old. Older than
        a day: stale whatever the owner.
        """
        removed = []
        if not self.runs.is_dir():
            return removed
        here = socket.gethostname()
        for p in self.runs.iterdir():
            if not (p.is_dir() and p.name.startswith(TMP_PREFIX)):
                continue
            pid, host = _read_owner(p)
            try:
                age = time.time() - p.stat().st_mtime
            except OSError:  # removed meanwhile by another process
                continue
            if pid is None:
                alive = age < NEW_TMP_SECONDS
            elif host is None or host == here:
                alive = _pid_alive(pid)
            else:
                key = p.name[len(TMP_PREFIX):].rsplit("-", 1)[0]
                alive = (str(self.root / LOCKS), key) not in _HELD and not self._lock_free(key)
            if not alive or age > STALE_TMP_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        return removed


def _read_owner(tmp: Path) -> tuple[int | None, str | None]:
    """The pid and host written in a temporary folder's ``.pid`` (``"pid host"``; older
    folders hold the pid alone)."""
    try:
        parts = (tmp / PID_FILE).read_text().split(maxsplit=1)
        return int(parts[0]), (parts[1].strip() if len(parts) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None, None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
