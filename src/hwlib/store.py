"""The content-addressed run store.

A trained run lives in ``<store>/runs/<key>/`` where ``key`` hashes the experiment
config, the data fingerprint and the training-code version (:func:`run_key`). An entry
holds::

    config.json       the experiment (dict form), its key, data fingerprint, code version
    history.csv       per epoch: loss, accuracy, test_loss, test_accuracy
    metrics.json      final test (and train) loss and accuracy
    provenance.json   versions, platform, device, wall time, epochs/s, git commit
    model.weights.h5  the trained weights (only for runs whose figures need it)
    MANIFEST.json     sha256 of every other file: a hand-edited entry is detected

Writes are atomic: an entry is assembled in a temporary folder beside ``runs/`` and
renamed into place, so a run killed mid-training leaves no entry (only a temporary
folder, removed by the next write) and the next run trains it cleanly.

The store is the checkout's ``results/`` by default; ``$HWLIB_STORE`` or an explicit path moves it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from hwlib.config import short_hash
from hwlib.errors import StoreError

DEFAULT_STORE = "results"
FILES = ("config.json", "history.csv", "metrics.json", "provenance.json")
WEIGHTS = "model.weights.h5"
MANIFEST = "MANIFEST.json"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 24 * 3600
PID_FILE = ".pid"  # in a temporary folder: the process filling it (see clean_stale)


def run_key(config: dict[str, Any], data_fingerprint: str, code_version: str) -> str:
    """The store key of a run: a hash of what decides its result."""
    return short_hash({"config": config, "data": data_fingerprint, "code": code_version}, n=16)


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
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
        ``need_weights``). A damaged entry raises :class:`StoreError`."""
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

    def entries(self) -> Iterator[Entry]:
        for key in self.keys():
            yield Entry(self.path(key))

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

    def begin(self, key: str) -> Path:
        """A fresh temporary folder in which to assemble the entry ``key``.

        Checked before training starts, so an unwritable store fails in a second, not after
        an hour of training.
        """
        self._check_writable()
        self.clean_stale()
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{key}-", dir=self.runs))
            (tmp / PID_FILE).write_text(str(os.getpid()))
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
        """Remove temporary folders left by runs that were killed (their process is gone)."""
        removed = []
        if not self.runs.is_dir():
            return removed
        for p in self.runs.iterdir():
            if not (p.is_dir() and p.name.startswith(TMP_PREFIX)):
                continue
            owner = _read_pid(p)
            alive = owner is not None and _pid_alive(owner)
            old = time.time() - p.stat().st_mtime > STALE_TMP_SECONDS
            if not alive or old:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        return removed


def _read_pid(tmp: Path) -> int | None:
    try:
        return int((tmp / PID_FILE).read_text())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
