"""Datasets: find, read, check and pre-process MNIST and CIFAR-10.

:func:`locate` finds a dataset on disk (or downloads it through keras),
:func:`load_raw` reads and validates the raw ``uint8`` arrays from any accepted format,
:func:`load` turns them into a :class:`Dataset` (float32 NHWC pixels divided by 255 or
raw 0..255, int32 labels) and caches it for the rest of the process,
:func:`identify` gives what a run's key needs of a dataset (its fingerprint) without
loading it, from a small cache on disk, and :func:`summary` gives the figures that
``hwlib data check`` prints.

Accepted formats:

* an ``.npz`` holding ``x_train``, ``y_train``, ``x_test``, ``y_test`` (the keras
  ``mnist.npz`` and the shared ``mnist.npz`` / ``cifar10.npz`` are all this);
* the canonical CIFAR-10 python batches, as the ``cifar-10-batches-py/`` folder or the
  ``cifar-10-python.tar.gz`` archive (read in place, never extracted).

Every problem a user can meet (nothing found, a damaged or incomplete file, wrong
arrays) is a :class:`~hwlib.errors.DataError` saying which file, what is wrong and how
to fix it.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import shutil
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from hwlib.config import INPUT_SCALES as SCALES
from hwlib.errors import DataError

DATASETS: tuple[str, ...] = ("mnist", "cifar10")
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "cifar10": (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
}
EXPECTED: dict[str, dict[str, Any]] = {
    "mnist": {"train": 60000, "test": 10000, "image_shape": (28, 28)},
    "cifar10": {"train": 50000, "test": 10000, "image_shape": (32, 32, 3)},
}
"""Canonical split sizes and raw image shape (as stored: MNIST has no channel axis)."""

SPLITS = ("train", "test")
_KEYS = ("x_train", "y_train", "x_test", "y_test")
_N_CLASSES = 10

_BATCH_FOLDER = "cifar-10-batches-py"
_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_BATCH = "test_batch"
_BATCHES = (*_TRAIN_BATCHES, _TEST_BATCH)
_CIFAR_ROW = 3 * 32 * 32  # one image per row: the red, green, then blue 32x32 plane

_FILES: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist.npz",),
    "cifar10": ("cifar10.npz", _BATCH_FOLDER, "cifar-10-python.tar.gz"),
}
"""What a data folder may hold, per dataset, in order of preference."""

_KERAS_CACHE_EXTRA: dict[str, tuple[str, ...]] = {
    "mnist": (),
    # where keras 3 (cifar10.load_data) and keras 2 leave CIFAR-10 in their cache
    "cifar10": (f"cifar-10-batches-py-target/{_BATCH_FOLDER}", "cifar-10-batches-py.tar.gz"),
}

_DOWNLOADS: dict[str, tuple[str, str]] = {
    "mnist": (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ),
    "cifar10": (
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    ),
}
"""Download origin and sha256 per dataset (the ones keras itself uses)."""

_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    zipfile.BadZipFile,
    zlib.error,
    pickle.UnpicklingError,
    tarfile.TarError,
)
"""What reading a damaged zip, tar or pickle can raise."""

_FIX_FILE = (
    "The file may be damaged or incompletely downloaded: delete it and download it "
    "again, or set HWLIB_DATA_DIR to a folder holding a good copy."
)
_FIX_STRICT = (
    "To accept a partial dataset on purpose, set HWLIB_DATA_STRICT=0 or pass strict=False."
)
_STATS_CHUNK = 2048  # images per chunk when summing pixels


@dataclass(frozen=True, eq=False)
class Dataset:
    """One dataset, ready for training: float32 NHWC images (in [0, 1], or 0..255 when
    loaded with ``scale="raw"``), int32 labels.

    The arrays are read-only, because :func:`load` shares them between callers.
    ``fingerprint`` identifies the raw data (the same for every file format); a subset
    keeps the fingerprint of the full data it was drawn from.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    fingerprint: str

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image, channels last: ``(28, 28, 1)`` or ``(32, 32, 3)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        """Number of classes (10 for both datasets)."""
        return len(self.class_names)

    def subset(
        self, n_train: int | None = None, n_test: int | None = None, seed: int = 0
    ) -> Dataset:
        """A stratified, deterministic subset: ``n_train``/``n_test`` images (None = all).

        Each class keeps its share of the split (see :func:`stratified_indices`); the
        same ``(n, seed)`` always picks the same images, in their original order.
        """
        picked: dict[str, np.ndarray] = {}
        for split, n in (("train", n_train), ("test", n_test)):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if n is None:
                picked[f"x_{split}"], picked[f"y_{split}"] = x, y
                continue
            pool = f"the {len(y)} {split} images of {self.name}"
            index = _stratified(y, n, seed, what=f"n_{split}", pool=pool)
            picked[f"x_{split}"] = _read_only(x[index])
            picked[f"y_{split}"] = _read_only(y[index])
        return replace(self, **picked)


def stratified_indices(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a stratified sample of ``n`` labels out of ``y``, in increasing order.

    Each class gets ``n * class_count / len(y)`` picks, rounded by the largest-remainder
    method so the total is exactly ``n``; within a class the picks are random but
    fixed by ``seed``. ``n`` must be at least the number of classes and at most ``len(y)``.
    """
    y = np.asarray(y)
    return _stratified(y, n, seed, what="n", pool=f"the {len(y)} labels given")


def locate(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Find dataset ``name`` on disk, downloading it through keras as a last resort.

    Look-up order: ``data_dir`` (a folder holding the dataset, or the dataset's own
    file or batch folder) → ``$HWLIB_DATA_DIR`` → ``./data/`` → the keras cache
    (``~/.keras/datasets``, or ``$KERAS_HOME/datasets``) → a download with
    ``keras.utils.get_file``, unless ``HWLIB_NO_DOWNLOAD=1``. A folder counts when it
    holds ``mnist.npz`` (MNIST) or ``cifar10.npz``, ``cifar-10-batches-py/`` or
    ``cifar-10-python.tar.gz`` (CIFAR-10). A named folder that lacks the dataset gives
    a warning, and the search goes on. Returns an absolute path.
    """
    _check_name(name)
    places: list[tuple[str, Path | None, tuple[str, ...]]] = []
    if data_dir is not None:
        given = Path(data_dir).expanduser()
        if given.is_file() or _is_batch_folder(given):
            return given.resolve()
        places.append(("data_dir argument", given, _FILES[name]))
    env_dir = os.environ.get("HWLIB_DATA_DIR")
    env_folder = Path(env_dir).expanduser() if env_dir else None
    places.append(("$HWLIB_DATA_DIR", env_folder, _FILES[name]))
    places.append(("./data", Path.cwd() / "data", _FILES[name]))
    keras_files = _FILES[name] + _KERAS_CACHE_EXTRA[name]
    places.append(("keras cache", _keras_home() / "datasets", keras_files))

    looked: list[str] = []
    skipped: list[str] = []  # folders the user named that did not hold the dataset
    for label, folder, names in places:
        if folder is None:
            looked.append(f"{label} (not set)")
            continue
        for candidate in (folder / file_name for file_name in names):
            looked.append(f"{candidate} ({label})")
            if _is_dataset_path(candidate):
                if skipped:
                    warnings.warn(
                        f"{name} was not found in {' nor in '.join(skipped)}; "
                        f"using {candidate} instead.",
                        stacklevel=2,
                    )
                return candidate.resolve()
        if label in ("data_dir argument", "$HWLIB_DATA_DIR"):
            missing = "" if folder.is_dir() else ", which is not an existing folder"
            skipped.append(f"the {label} {folder}{missing}")
    return _download(name, looked)


def load_raw(
    name: str, data_dir: str | os.PathLike[str] | None = None, strict: bool | None = None
) -> tuple[dict[str, np.ndarray], Path]:
    """Read and validate dataset ``name``: its raw arrays and the path they came from.

    The arrays are ``x_train``, ``y_train``, ``x_test``, ``y_test``, all ``uint8``;
    images are ``(N, 28, 28)`` for MNIST and ``(N, 32, 32, 3)`` (HWC, RGB) for CIFAR-10.
    ``strict`` (default: on, unless ``HWLIB_DATA_STRICT=0``) also requires the canonical
    split sizes and every class in each split; otherwise splits need only be non-empty.
    """
    path = locate(name, data_dir)
    return _read_checked(name, path, _resolve_strict(strict)), path


_CACHE: dict[tuple[str, str, bool, str], tuple[tuple[Any, ...], Dataset]] = {}
"""Datasets loaded in this process: (name, path, strict, scale) -> (file stamp, dataset)."""


def load(
    name: str, data_dir: str | os.PathLike[str] | None = None, strict: bool | None = None,
    scale: str = "unit",
) -> Dataset:
    """Load dataset ``name`` ready for training (see :class:`Dataset`).

    Pixels become float32: divided by 255 (``scale="unit"``, values in [0, 1]) or kept as
    stored (``scale="raw"``, 0..255). MNIST gets a channel axis, labels become int32. The
    result is cached for the process, keyed by the file's path, size and modification
    time and the scale, so a sweep reads and normalizes each dataset once.
    """
    _check_name(name)
    if scale not in SCALES:
        raise DataError(f"Unknown pixel scale {scale!r}: use one of {', '.join(SCALES)}.")
    strict = _resolve_strict(strict)
    path = locate(name, data_dir)
    key = (name, str(path), strict, scale)
    stamp = _stamp(path)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    raw, identity = _checked_arrays(name, path, strict, stamp)
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        x = raw[f"x_{split}"].astype(np.float32)
        if scale == "unit":
            np.divide(x, np.float32(255), out=x)
        if x.ndim == 3:
            x = x[..., np.newaxis]
        arrays[f"x_{split}"] = _read_only(x)
        arrays[f"y_{split}"] = _read_only(raw[f"y_{split}"].astype(np.int32))
    dataset = Dataset(
        name=name,
        class_names=CLASS_NAMES[name],
        source=str(path),
        fingerprint=identity.fingerprint,
        **arrays,
    )
    _CACHE[key] = (stamp, dataset)
    return dataset


@dataclass(frozen=True)
class Identity:
    """What identifies a dataset's file without its pixels: the :class:`Dataset`
    fingerprint, and per split the number of images and of classes (enough to check a
    subset's size, :meth:`check_subset`)."""

    fingerprint: str
    n: dict[str, int]
    classes: dict[str, int]

    def check_subset(self, name: str, n_train: int | None, n_test: int | None) -> None:
        """Raise the :class:`~hwlib.errors.DataError` that :meth:`Dataset.subset` would."""
        for split, n in (("train", n_train), ("test", n_test)):
            if n is not None:
                _check_subset_size(n, self.n[split], self.classes[split], f"n_{split}",
                                   f"the {self.n[split]} {split} images of {name}")


def identify(
    name: str, data_dir: str | os.PathLike[str] | None = None, strict: bool | None = None
) -> Identity:
    """The :class:`Identity` of dataset ``name``: what :func:`load` would give, in
    milliseconds instead of seconds (CIFAR-10 takes about 3 s to read and convert).

    Every file :func:`load` or this function has read and checked is remembered in
    ``fingerprints.json`` in :func:`cache_dir`, keyed by the file's path, size and
    modification time (the stamp the in-process cache of :func:`load` trusts too) and the
    strictness it was checked with. A file not remembered, or changed since, is read and
    checked as :func:`load` does (the same errors), and remembered. The cache is only a
    shortcut: losing it, or failing to write it, costs one read.
    """
    _check_name(name)
    strict = _resolve_strict(strict)
    path = locate(name, data_dir)
    stamp = _stamp(path)
    entry = _cache_entry(name, path, strict)
    if entry in _IDENTITIES and _IDENTITIES[entry][0] == stamp:
        return _IDENTITIES[entry][1]
    known = _known(entry, stamp)
    if known is not None:
        try:
            return Identity(str(known["fingerprint"]), dict(known["n"]), dict(known["classes"]))
        except (KeyError, TypeError, ValueError):  # an entry of another layout: read the file
            pass
    return _checked_arrays(name, path, strict, stamp)[1]


def cache_dir() -> Path:
    """Where hwlib keeps its caches: ``$HWLIB_CACHE_DIR``, else ``$XDG_CACHE_HOME/hwlib``,
    else ``~/.cache/hwlib``."""
    if os.environ.get("HWLIB_CACHE_DIR"):
        return Path(os.environ["HWLIB_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hwlib"


_IDENTITIES: dict[str, tuple[tuple[Any, ...], Identity]] = {}
"""Identities known in this process: cache entry -> (file stamp, identity)."""
_FINGERPRINTS = "fingerprints.json"
_REMEMBERED_FILES = 32  # entries kept in fingerprints.json (the most recent)


def _checked_arrays(
    name: str, path: Path, strict: bool, stamp: tuple[Any, ...]
) -> tuple[dict[str, np.ndarray], Identity]:
    """The checked raw arrays of the file ``path`` and their :class:`Identity`.

    A compressed ``.npz`` or a CIFAR-10 archive takes seconds to decompress (CIFAR-10:
    about 1.2 s, in every process that loads it), so an uncompressed copy of the checked
    arrays is kept in :func:`cache_dir` (``arrays/FINGERPRINT/*.npy``; 184 MB for CIFAR-10,
    55 MB for MNIST) and read instead while the file's stamp is unchanged. The copy is used
    only when its bytes hash to the fingerprint remembered for the file: what is trained on
    is always the data its key names. Otherwise the file is read, checked (the errors of
    :func:`load`), copied and remembered.
    """
    entry = _cache_entry(name, path, strict)
    known = _known(entry, stamp)
    if known is not None:
        fingerprint = str(known.get("fingerprint"))
        arrays = _cached_arrays(fingerprint)
        if arrays is not None:
            identity = _identity_of(fingerprint, arrays)
            _IDENTITIES[entry] = (stamp, identity)
            return arrays, identity
    raw = _read_checked(name, path, strict)
    identity = _identity_of(_fingerprint(raw), raw)
    _keep_arrays(identity.fingerprint, raw)
    _remember(name, path, strict, stamp, identity)
    return raw, identity


_ARRAYS = "arrays"


def _cached_arrays(fingerprint: str) -> dict[str, np.ndarray] | None:
    """The arrays kept for ``fingerprint``, or ``None`` when absent or not those bytes (a
    damaged copy is removed, to be written again)."""
    folder = cache_dir() / _ARRAYS / fingerprint
    if not folder.is_dir():
        return None
    try:
        arrays = {key: np.load(folder / f"{key}.npy", allow_pickle=False) for key in _KEYS}
        if _fingerprint(arrays) == fingerprint:
            return arrays
    except (OSError, ValueError, EOFError):
        pass
    shutil.rmtree(folder, ignore_errors=True)
    return None


def _keep_arrays(fingerprint: str, raw: dict[str, np.ndarray]) -> None:
    """Write ``raw`` to the cache as ``arrays/FINGERPRINT/`` (whole or not at all)."""
    arrays = cache_dir() / _ARRAYS
    final, tmp = arrays / fingerprint, None
    if final.is_dir():
        return
    try:
        arrays.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=arrays))
        for key in _KEYS:
            np.save(tmp / f"{key}.npy", raw[key], allow_pickle=False)
        os.rename(tmp, final)  # fails if another process got there first: its copy is the same
    except OSError:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _identity_of(fingerprint: str, raw: dict[str, np.ndarray]) -> Identity:
    return Identity(fingerprint, {split: len(raw[f"y_{split}"]) for split in SPLITS},
                    {split: len(np.unique(raw[f"y_{split}"])) for split in SPLITS})


def _cache_entry(name: str, path: Path, strict: bool) -> str:
    return f"{name} {'strict' if strict else 'lenient'} {path}"


def _jsonable(stamp: tuple[Any, ...]) -> list[Any]:
    return json.loads(json.dumps(stamp))


def _known(entry: str, stamp: tuple[Any, ...]) -> dict[str, Any] | None:
    """What ``fingerprints.json`` remembers of ``entry``, if its file still has ``stamp``."""
    known = _remembered().get(entry)
    return known if isinstance(known, dict) and known.get("stamp") == _jsonable(stamp) else None


def _remembered() -> dict[str, Any]:
    try:
        known = json.loads((cache_dir() / _FINGERPRINTS).read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _remember(name: str, path: Path, strict: bool, stamp: tuple[Any, ...], identity: Identity) -> None:
    """Add ``identity`` to the cache (written whole, atomically; on failure, nothing)."""
    entry = _cache_entry(name, path, strict)
    _IDENTITIES[entry] = (stamp, identity)
    value = {"stamp": _jsonable(stamp), "fingerprint": identity.fingerprint, "n": identity.n,
             "classes": identity.classes}
    known = _remembered()
    if known.get(entry) == value:
        return
    known.pop(entry, None)
    known[entry] = value
    kept = dict(list(known.items())[-_REMEMBERED_FILES:])  # insertion order: the latest last
    folder, tmp = cache_dir(), None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{_FINGERPRINTS}-")
        with os.fdopen(fd, "w") as f:
            json.dump(kept, f, indent=1)
        os.replace(tmp, folder / _FINGERPRINTS)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return
    wanted = {value.get("fingerprint") for value in kept.values() if isinstance(value, dict)}
    try:  # the copies of files no longer remembered
        stale = [p for p in (folder / _ARRAYS).iterdir() if p.name not in wanted and not p.name.startswith(".")]
    except OSError:
        stale = []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)


def clear_cache() -> None:
    """Forget every dataset :func:`load` has cached (frees their memory), and the
    identities :func:`identify` knows in this process (not its cache on disk)."""
    _CACHE.clear()
    _IDENTITIES.clear()


def summary(
    name: str, data_dir: str | os.PathLike[str] | None = None, strict: bool | None = None
) -> dict[str, Any]:
    """The figures ``hwlib data check`` shows, computed on the raw uint8 arrays.

    Returns ``{"name", "source", "format", "fingerprint", "train", "test"}``; each split
    is ``{"n", "class_counts" (10 ints), "mean", "std"}`` with the pixel mean and
    (population) standard deviation per channel, in units of 1/255.
    """
    raw, path = load_raw(name, data_dir, strict)
    result: dict[str, Any] = {
        "name": name,
        "source": str(path),
        "format": _format_of(path),
        "fingerprint": _fingerprint(raw),
    }
    for split in SPLITS:
        result[split] = _split_stats(raw[f"x_{split}"], raw[f"y_{split}"])
    return result


def format_summary(s: dict[str, Any]) -> str:
    """Human-readable text of a :func:`summary` result."""

    def numbers(values: list[float]) -> str:
        return ", ".join(f"{v:.8f}" for v in values)

    lines = [
        f"{s['name']}: {s['train']['n']} training and {s['test']['n']} test images",
        f"  source       {s['source']} ({s['format']})",
        f"  fingerprint  {s['fingerprint']}",
    ]
    for split in SPLITS:
        stats = s[split]
        lines.append(
            f"  {split:<5}  pixel mean ({numbers(stats['mean'])})"
            f"  std ({numbers(stats['std'])})"
        )
    lines.append("  images per class (train / test):")
    train_counts, test_counts = s["train"]["class_counts"], s["test"]["class_counts"]
    for label, class_name in enumerate(CLASS_NAMES[s["name"]]):
        tag = class_name if class_name == str(label) else f"{label} {class_name}"
        lines.append(f"    {tag:<12} {train_counts[label]:>6} / {test_counts[label]:>5}")
    return "\n".join(lines)


# --- finding --------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}: choose one of {', '.join(DATASETS)}.")


def _keras_home() -> Path:
    """The keras cache root: ``$KERAS_HOME`` or ``~/.keras`` (as keras decides it)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def _is_dataset_path(path: Path) -> bool:
    """Whether ``path`` is a candidate: the batch folder must be a folder, others files."""
    return path.is_dir() if path.name == _BATCH_FOLDER else path.is_file()


def _is_batch_folder(path: Path) -> bool:
    """Whether ``path`` is a folder of CIFAR-10 batches (even an incomplete one)."""
    return path.is_dir() and any((path / batch).is_file() for batch in _BATCHES)


def _download(name: str, looked: list[str]) -> Path:
    """Download ``name`` into the keras cache, or explain why it is not there."""
    places = "\n".join(f"  - {place}" for place in looked)
    holding = " or ".join(f"{file}/" if file == _BATCH_FOLDER else file for file in _FILES[name])
    not_found = (
        f"Could not find the {name} dataset. Looked in:\n{places}\n"
        f"Set HWLIB_DATA_DIR to a folder holding {holding} (for example "
        "`export HWLIB_DATA_DIR=/path/to/datasets`), or pass --data-dir."
    )
    if os.environ.get("HWLIB_NO_DOWNLOAD") == "1":
        raise DataError(f"{not_found}\nNo download was tried because HWLIB_NO_DOWNLOAD=1.")
    url, sha256 = _DOWNLOADS[name]
    try:
        import keras  # imported here only: importing keras loads TensorFlow

        path = keras.utils.get_file(
            Path(url).name,
            origin=url,
            file_hash=sha256,
            cache_dir=str(_keras_home()),
        )
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        raise DataError(
            f"{not_found}\nDownloading {url} failed too ({type(exc).__name__}: {exc}); "
            "without internet access the dataset must be copied onto this machine."
        ) from exc
    return Path(path).resolve()


# --- reading --------------------------------------------------------------------------


def _resolve_strict(strict: bool | None) -> bool:
    if strict is not None:
        return strict
    return os.environ.get("HWLIB_DATA_STRICT", "1") != "0"


def _format_of(path: Path) -> str:
    """``npz``, ``cifar-batches`` (folder) or ``cifar-tar.gz``, from the file's content."""
    if path.is_dir():
        return "cifar-batches"
    try:
        with path.open("rb") as file:
            magic = file.read(2)
    except OSError as exc:
        raise DataError(f"Could not read {path}: {exc}.") from exc
    if magic == b"PK":
        return "npz"
    if magic == b"\x1f\x8b":
        return "cifar-tar.gz"
    raise DataError(
        f"{path} is neither an .npz archive nor a .tar.gz archive, so it is not a "
        f"dataset file hwlib can read. {_FIX_FILE}"
    )


def _read_checked(name: str, path: Path, strict: bool) -> dict[str, np.ndarray]:
    return _validate(name, _READERS[_format_of(path)](path), path, strict)


def _damaged(where: str | Path, exc: BaseException) -> DataError:
    return DataError(f"Could not read {where} ({type(exc).__name__}: {exc}). {_FIX_FILE}")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        # open the file here: np.load leaves it open when the zip is unreadable
        with path.open("rb") as file, np.load(file, allow_pickle=False) as archive:
            found = list(archive.files)
            arrays = {key: archive[key] for key in _KEYS if key in found}
    except _READ_ERRORS as exc:
        raise _damaged(path, exc) from exc
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks the array(s) {', '.join(missing)} (it holds: "
            f"{', '.join(found) or 'nothing'}). A dataset .npz must hold x_train, y_train, "
            "x_test and y_test, as keras' mnist.npz does."
        )
    return arrays


def _read_batch_folder(path: Path) -> dict[str, np.ndarray]:
    blobs: dict[str, bytes] = {}
    for batch in _BATCHES:
        if (path / batch).is_file():
            try:
                blobs[batch] = (path / batch).read_bytes()
            except OSError as exc:
                raise _damaged(path / batch, exc) from exc
    return _from_batches(blobs, path)


def _read_batch_archive(path: Path) -> dict[str, np.ndarray]:
    """Read the batches straight out of ``cifar-10-python.tar.gz``, in one pass."""
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                batch = PurePosixPath(member.name).name
                content = archive.extractfile(member) if batch in _BATCHES else None
                if content is not None:  # None when the member is not a regular file
                    blobs[batch] = content.read()
    except _READ_ERRORS as exc:
        raise _damaged(path, exc) from exc
    return _from_batches(blobs, path)


def _from_batches(blobs: dict[str, bytes], source: Path) -> dict[str, np.ndarray]:
    """Decode the six CIFAR-10 batches into train/test arrays (images HWC)."""
    missing = [batch for batch in _BATCHES if batch not in blobs]
    if missing:
        raise DataError(
            f"{source} is missing {', '.join(missing)}: CIFAR-10 needs data_batch_1 to "
            f"data_batch_5 and test_batch. {_FIX_FILE}"
        )
    train = [_decode_batch(blobs[batch], f"{source}/{batch}") for batch in _TRAIN_BATCHES]
    x_test, y_test = _decode_batch(blobs[_TEST_BATCH], f"{source}/{_TEST_BATCH}")
    return {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": np.ascontiguousarray(x_test),
        "y_test": y_test,
    }


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch, refusing anything but numpy arrays (pickles can run code)."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}, which a CIFAR-10 batch never contains"
            )
        return super().find_class(module, name)


def _decode_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> images ``(N, 32, 32, 3)`` (a view) and labels."""
    try:
        batch = _BatchUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except _READ_ERRORS as exc:
        raise _damaged(where, exc) from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(
            f"{where} is not a CIFAR-10 batch: expected a pickled dict with the keys "
            f"b'data' and b'labels'. {_FIX_FILE}"
        )
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8:
        raise DataError(f"{where}: b'data' has dtype {data.dtype}, expected uint8. {_FIX_FILE}")
    if data.ndim != 2 or data.shape[1] != _CIFAR_ROW:
        raise DataError(
            f"{where}: b'data' has shape {data.shape}, expected (N, {_CIFAR_ROW}): one "
            f"32x32 RGB image per row. {_FIX_FILE}"
        )
    if len(labels) != len(data):
        raise DataError(
            f"{where} has {len(data)} images but {len(labels)} labels. {_FIX_FILE}"
        )
    # rows are channel planes (CHW, row-major); hwlib works channels last (HWC)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


_READERS = {
    "npz": _read_npz,
    "cifar-batches": _read_batch_folder,
    "cifar-tar.gz": _read_batch_archive,
}
"""Reader per format, as :func:`_format_of` names it."""


def _validate(
    name: str, arrays: dict[str, np.ndarray], source: Path, strict: bool
) -> dict[str, np.ndarray]:
    """Check the four arrays; return them C-contiguous with ``uint8`` labels of shape (N,)."""
    expected = EXPECTED[name]
    image_shape = expected["image_shape"]
    checked: dict[str, np.ndarray] = {}
    for split in SPLITS:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8:
            raise DataError(
                f"{source}: x_{split} has dtype {x.dtype}, expected uint8 (raw pixel values "
                "0..255). Store the original images, not normalized floats."
            )
        if x.shape[1:] != image_shape:
            raise DataError(
                f"{source}: x_{split} has shape {x.shape}, expected "
                f"(N, {', '.join(map(str, image_shape))}) for {name}. Is this the right "
                "file for this dataset?"
            )
        if y.ndim == 2 and y.shape[1] == 1:  # keras' CIFAR labels are (N, 1)
            y = y[:, 0]
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"{source}: y_{split} has dtype {y.dtype}, expected integer class labels 0..9."
            )
        if y.ndim != 1:
            raise DataError(f"{source}: y_{split} has shape {y.shape}, expected (N,).")
        if len(x) != len(y):
            raise DataError(
                f"{source}: x_{split} has {len(x)} images but y_{split} has {len(y)} labels; "
                f"they must match one to one. {_FIX_FILE}"
            )
        if len(y) == 0:
            raise DataError(f"{source}: the {split} split is empty. {_FIX_FILE}")
        bad = (y < 0) | (y >= _N_CLASSES)
        if bad.any():
            raise DataError(
                f"{source}: y_{split} has {int(bad.sum())} label(s) outside 0..9 (e.g. "
                f"{', '.join(map(str, np.unique(y[bad])[:5]))}). {_FIX_FILE}"
            )
        if strict:
            _check_complete(name, split, y, source)
        checked[f"x_{split}"] = np.ascontiguousarray(x)
        checked[f"y_{split}"] = y.astype(np.uint8)
    return checked


def _check_complete(name: str, split: str, y: np.ndarray, source: Path) -> None:
    """Strict mode: the canonical number of images and every class present."""
    if len(y) != EXPECTED[name][split]:
        raise DataError(
            f"{source}: the {split} split has {len(y)} images, but the full {name} dataset "
            f"has {EXPECTED[name][split]} (expected sizes: {EXPECTED[name]['train']} train, "
            f"{EXPECTED[name]['test']} test). {_FIX_STRICT}"
        )
    absent = sorted(set(range(_N_CLASSES)) - set(np.unique(y).tolist()))
    if absent:
        raise DataError(
            f"{source}: the {split} split has no image of class(es) "
            f"{', '.join(map(str, absent))}. {_FIX_STRICT}"
        )


# --- derived values -------------------------------------------------------------------


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _stamp(path: Path) -> tuple[Any, ...]:
    """What changes when the data on disk changes: sizes and modification times."""
    files = [path / batch for batch in _BATCHES] if path.is_dir() else [path]
    stamps = []
    for file in files:
        if file.exists():
            stat = file.stat()
            stamps.append((file.name, stat.st_size, stat.st_mtime_ns))
    return tuple(stamps)


def _fingerprint(raw: dict[str, np.ndarray]) -> str:
    """16 hex digits of sha256 over the raw arrays' shapes and bytes (format-independent)."""
    digest = hashlib.sha256()
    for key in _KEYS:
        array = np.ascontiguousarray(raw[key])
        digest.update(f"{key}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()[:16]


def _stratified(y: np.ndarray, n: int, seed: int, what: str, pool: str) -> np.ndarray:
    classes, label_of = np.unique(y, return_inverse=True)
    _check_subset_size(n, len(y), len(classes), what, pool)
    counts = np.bincount(label_of)
    share = n * counts  # class k gets share[k] / len(y) picks, rounded below
    quota = share // len(y)
    remainder = share % len(y)
    # hand the picks lost to rounding to the classes with the largest remainders
    quota[np.argsort(-remainder, kind="stable")[: n - quota.sum()]] += 1
    rng = np.random.default_rng(seed)
    picked = [
        rng.permutation(np.flatnonzero(label_of == k))[:q] for k, q in enumerate(quota)
    ]
    return np.sort(np.concatenate(picked))


def _check_subset_size(n: int, available: int, n_classes: int, what: str, pool: str) -> None:
    if n > available:
        raise DataError(f"{what}={n} is more than {pool}: use at most {available}.")
    if n <= 0 or n < n_classes:
        raise DataError(
            f"{what}={n} is too small: a stratified subset needs at least one image per "
            f"class, so at least {n_classes} ({n_classes} classes in {pool})."
        )


def _split_stats(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Image count, images per class and per-channel pixel mean/std in 1/255 units.

    Sums and sums of squares are exact integers (accumulated in chunks, so no float
    copy of the whole split is made); mean and std are then rounded once to float64.
    """
    channels = x.shape[3] if x.ndim == 4 else 1
    total = np.zeros(channels, dtype=np.uint64)
    squares = np.zeros(channels, dtype=np.uint64)
    for start in range(0, len(x), _STATS_CHUNK):
        chunk = x[start : start + _STATS_CHUNK].reshape(-1, channels).astype(np.uint32)
        total += chunk.sum(axis=0, dtype=np.uint64)
        squares += (chunk * chunk).sum(axis=0, dtype=np.uint64)
    count = x.size // channels
    scale = count * 255
    mean = [int(t) / scale for t in total]
    std = [
        math.sqrt((count * int(q) - int(t) ** 2) / scale**2) for t, q in zip(total, squares)
    ]
    return {
        "n": len(y),
        "class_counts": np.bincount(y, minlength=_N_CLASSES).tolist(),
        "mean": mean,
        "std": std,
    }
