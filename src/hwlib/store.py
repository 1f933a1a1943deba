"""The run store (``results/``): one folder per run key with a checksummed manifest, written atomically
(a killed run leaves no entry), a lock per key while a run trains (docs/run-store.md)."""

from __future__ import annotations

import contextlib
import fcntl
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

from hwlib.config import short_hash
from hwlib.errors import StoreError

DEFAULT_STORE = "results"
FILES = ("config.json", "history.csv", "metrics.json", "provenance.json")
WEIGHTS = "model.weights.h5"
MANIFEST = "MANIFEST.json"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 24 * 3600
NEW_TMP_SECONDS = 60  # a temporary folder without its .pid yet is being created
PID_FILE = ".pid"  # in a temporary folder: "pid host" of the process filling it
LOCKS = ".locks"  # <store>/.locks/<key>: per-key training locks
_HELD: set[tuple[str, str]] = set()  # (lock folder, key) held by this process
READ_LOG = "HWLIB_READ_LOG"  # a file RunStore.get appends each key it looks up to (hwlib.book)


def run_key(config: dict[str, Any], data_fingerprint: str, code_version: str, runtime: dict[str, Any]) -> str:
    """A run's key: a hash of what decides it (config, data, training-code version, engine and threads)."""
    return short_hash({"config": config, "data": data_fingerprint, "code": code_version,
                       "runtime": runtime}, n=16)


def project_root() -> Path | None:
    """The checkout hwlib runs from (editable install), or None for an installed copy."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").exists() and (root / "book").is_dir() else None


def default_root() -> Path:
    """``$HWLIB_STORE``, else the checkout's ``results/``, else ``./results``."""
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
        self.path, self.key, self.history_path = path, path.name, path / "history.csv"

    config = property(lambda self: json.loads((self.path / "config.json").read_text()))
    metrics = property(lambda self: json.loads((self.path / "metrics.json").read_text()))
    provenance = property(lambda self: json.loads((self.path / "provenance.json").read_text()))

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

    def path(self, key: str) -> Path:
        return self.runs / key

    def get(self, key: str, need_weights: bool = False) -> Entry | None:
        """The verified entry ``key`` (``None`` if absent, or without weights when ``need_weights``)."""
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
                raise StoreError(f"The store entry {path}: {name} does not match its checksum (edited by hand or "
                                 f"damaged). {fix}")

    def keys(self) -> list[str]:
        if not self.runs.is_dir():
            return []
        return sorted(p.name for p in self.runs.iterdir() if p.is_dir() and not p.name.startswith(TMP_PREFIX))

    def superseded(self, code_version: str) -> list[tuple[str, str, str]]:
        """``(key, name, version)`` of every entry of another training-code version."""
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

    def _check_writable(self) -> None:
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the run store at {self.runs} ({exc.strerror}). Point --store or "
                             "HWLIB_STORE at a folder you can write to.") from None
        if not os.access(self.runs, os.W_OK | os.X_OK):
            raise StoreError(f"The run store {self.runs} is not writable. Point --store or HWLIB_STORE at a "
                             "folder you can write to, or fix its permissions.")

    def lock_path(self, key: str) -> Path:
        return self.root / LOCKS / key

    @contextlib.contextmanager
    def lock(self, key: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold ``key``'s training lock, a ``flock`` the kernel drops when its holder dies (``on_wait``: called once
        if another process holds it); callers re-check the store once they hold it."""
        self._check_writable()
        path = self.lock_path(key)
        try:
            path.parent.mkdir(exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"Cannot create the lock file {path} ({exc.strerror}).") from None
        held = (str(path.parent), key)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                fcntl.flock(fd, fcntl.LOCK_EX)
            _HELD.add(held)
            yield
        finally:
            _HELD.discard(held)
            os.close(fd)  # unlocks

    def _lock_free(self, key: str) -> bool:
        """Whether no process holds the lock of ``key`` right now."""
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
        """A fresh temporary folder for the entry ``key`` (made before training: an unwritable store fails at once)."""
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
        """Remove temporary folders of killed runs: on this host, those whose process is gone; of another host, those
        whose key's lock nobody else holds; without a ``.pid``, those over a minute old; any older than a day."""
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
    """The pid and host in a temporary folder's ``.pid``."""
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
        pass
    with contextlib.suppress(OSError, IndexError):  # a killed process its parent has not reaped yet is dead
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
