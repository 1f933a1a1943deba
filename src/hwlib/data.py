"""Datasets: find, read, check and pre-process MNIST and CIFAR-10.

:func:`locate` finds a dataset on disk (or has keras download it), :func:`load_raw` reads
and checks its raw ``uint8`` arrays, :func:`load` turns them into a :class:`Dataset`
(float32 NHWC pixels divided by 255 or raw 0..255, int32 labels) kept for the rest of the
process, :func:`identify` gives what a run's key needs of a dataset (its fingerprint)
without reading its pixels, and :func:`summary` gives the figures ``hwlib data check``
prints.

Accepted formats:

* an ``.npz`` holding ``x_train``, ``y_train``, ``x_test``, ``y_test`` (the keras
  ``mnist.npz`` and the shared ``mnist.npz`` / ``cifar10.npz`` are all this);
* the canonical CIFAR-10 python batches, as the ``cifar-10-batches-py/`` folder or the
  ``cifar-10-python.tar.gz`` archive (read in place, never extracted).

Every problem a user can meet (a named folder without the dataset, nothing found, a
damaged or incomplete file, wrong arrays) is a :class:`~hwlib.errors.DataError` saying
which file or folder, what is wrong and how to fix it.
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
import zipfile
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from hwlib.config import DATASET_SHAPES, N_CLASSES
from hwlib.config import INPUT_SCALES as SCALES
from hwlib.errors import DataError

DATASETS: tuple[str, ...] = tuple(DATASET_SHAPES)
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(N_CLASSES)),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}
EXPECTED: dict[str, dict[str, Any]] = {
    "mnist": {"train": 60000, "test": 10000, "image_shape": (28, 28)},
    "cifar10": {"train": 50000, "test": 10000, "image_shape": (32, 32, 3)},
}
"""The full datasets: split sizes and raw image shape (as stored: MNIST has no channel axis)."""

SPLITS = ("train", "test")
_KEYS = ("x_train", "y_train", "x_test", "y_test")

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
    "cifar10": (f"cifar-10-batches-py-target/{_BATCH_FOLDER}",),  # where keras.datasets.cifar10 extracts
}

_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
    zipfile.BadZipFile, zlib.error, pickle.UnpicklingError, tarfile.TarError,
)
"""What reading a damaged zip, tar or pickle can raise."""

_FIX_FILE = ("The file may be damaged or incompletely downloaded: delete it and download it again, or set "
             "HWLIB_DATA_DIR to a folder holding a good copy.")
_FIX_STRICT = "To accept a partial dataset on purpose, set HWLIB_DATA_STRICT=0 or pass strict=False."
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
    """Find dataset ``name`` on disk, having keras download it as a last resort.

    A folder the user names, ``data_dir`` (``--data-dir``, the ``data_dir`` notebook
    parameter) or else ``$HWLIB_DATA_DIR``, is the only place looked: it must hold the
    dataset (or be the dataset's own file or batch folder), or the result is a
    :class:`~hwlib.errors.DataError`. With no folder named, the look-up goes ``./data/`` →
    the keras cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``) → a download
    with ``keras.datasets``, unless ``HWLIB_NO_DOWNLOAD=1``. A folder holds MNIST as
    ``mnist.npz`` and CIFAR-10 as ``cifar10.npz``, ``cifar-10-batches-py/`` or
    ``cifar-10-python.tar.gz``. Returns an absolute path.
    """
    _check_name(name)
    if data_dir is not None:
        return _in_named_folder(name, Path(data_dir).expanduser(), "--data-dir or the data_dir parameter")
    if os.environ.get("HWLIB_DATA_DIR"):
        return _in_named_folder(name, Path(os.environ["HWLIB_DATA_DIR"]).expanduser(), "$HWLIB_DATA_DIR")
    looked = ["$HWLIB_DATA_DIR (not set)"]
    for label, folder, names in _unnamed_places(name):
        for candidate in (folder / file_name for file_name in names):
            looked.append(f"{candidate} ({label})")
            if _is_dataset_path(candidate):
                return candidate.resolve()
    return _download(name, looked)


def load_raw(name: str, data_dir: str | os.PathLike[str] | None = None,
             strict: bool | None = None) -> tuple[dict[str, np.ndarray], Path]:
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


def identify(name: str, data_dir: str | os.PathLike[str] | None = None, strict: bool | None = None) -> Identity:
    """The :class:`Identity` of dataset ``name``: what :func:`load` would give, without
    reading the pixels when the cache (:func:`cache_dir`) knows the file as it is now.

    A file the cache does not know, or that changed since (its size or modification
    time), is read and checked as :func:`load` does (the same errors) and cached.
    """
    _check_name(name)
    strict = _resolve_strict(strict)
    path = locate(name, data_dir)
    stamp = _stamp(path)
    folder = _cache_folder(name, path, strict)
    if folder in _IDENTITIES and _IDENTITIES[folder][0] == stamp:
        return _IDENTITIES[folder][1]
    identity = _known(folder, stamp) or _checked_arrays(name, path, strict, stamp)[1]
    _IDENTITIES[folder] = (stamp, identity)
    return identity


_IDENTITIES: dict[Path, tuple[tuple[Any, ...], Identity]] = {}
"""Identities known in this process: cache folder -> (file stamp, identity)."""


def cache_dir() -> Path:
    """Where hwlib keeps its cache: ``$HWLIB_CACHE_DIR``, else ``$XDG_CACHE_HOME/hwlib``,
    else ``~/.cache/hwlib``."""
    if os.environ.get("HWLIB_CACHE_DIR"):
        return Path(os.environ["HWLIB_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hwlib"


def _cache_folder(name: str, path: Path, strict: bool) -> Path:
    """The cache folder of one data file checked with one strictness: ``identity.json``
    (the file's stamp and :class:`Identity`) and the checked arrays as uncompressed ``.npy``."""
    entry = f"{name} {'strict' if strict else 'lenient'} {path}"
    return cache_dir() / "datasets" / hashlib.sha256(entry.encode()).hexdigest()[:16]


def _checked_arrays(name: str, path: Path, strict: bool,
                    stamp: tuple[Any, ...]) -> tuple[dict[str, np.ndarray], Identity]:
    """The checked raw arrays of the file ``path`` and their :class:`Identity`.

    They come from the cache's uncompressed copy when it was made from the file as it is
    now and its bytes still hash to the fingerprint cached with it, so a run is always
    trained on the data its key names. Otherwise the file is read and checked (the errors
    of :func:`load`) and the cache folder written anew.
    """
    folder = _cache_folder(name, path, strict)
    known = _known(folder, stamp)
    arrays = _cached_arrays(folder, known) if known is not None else None
    if arrays is not None:
        return arrays, known
    raw = _read_checked(name, path, strict)
    identity = Identity(_fingerprint(raw), {split: len(raw[f"y_{split}"]) for split in SPLITS},
                        {split: len(np.unique(raw[f"y_{split}"])) for split in SPLITS})
    _keep(folder, stamp, identity, raw)
    return raw, identity


def _known(folder: Path, stamp: tuple[Any, ...]) -> Identity | None:
    """The identity cached in ``folder``, if it was cached for a file with ``stamp``."""
    try:
        saved = json.loads((folder / "identity.json").read_text())
        return Identity(**saved["identity"]) if saved["stamp"] == str(stamp) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cached_arrays(folder: Path, known: Identity) -> dict[str, np.ndarray] | None:
    """The arrays cached in ``folder``, or ``None`` unless they hash to ``known``'s fingerprint."""
    try:
        arrays = {key: np.load(folder / f"{key}.npy", allow_pickle=False) for key in _KEYS}
    except (OSError, ValueError, EOFError):
        return None
    return arrays if _fingerprint(arrays) == known.fingerprint else None


def _keep(folder: Path, stamp: tuple[Any, ...], identity: Identity, raw: dict[str, np.ndarray]) -> None:
    """Write the cache ``folder`` whole (a temporary folder renamed into place) or not at all."""
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        for key in _KEYS:
            np.save(tmp / f"{key}.npy", raw[key], allow_pickle=False)
        (tmp / "identity.json").write_text(json.dumps({"stamp": str(stamp), "identity": asdict(identity)}))
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(tmp, folder)  # fails if another process got there first: its copy is as good
    except OSError:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def clear_cache() -> None:
    """Forget every dataset :func:`load` has kept in this process (frees their memory), and
    the identities :func:`identify` knows in this process (not the cache on disk)."""
    _CACHE.clear()
    _IDENTITIES.clear()


def summary(name: str, data_dir: str | os.PathLike[str] | None = None, strict: bool | None = None) -> dict[str, Any]:
    """The figures ``hwlib data check`` shows, computed on the raw uint8 arrays.

    Returns ``{"name", "source", "format", "fingerprint", "train", "test"}``; each split
    is ``{"n", "class_counts" (10 ints), "mean", "std"}`` with the pixel mean and
    (population) standard deviation per channel, in units of 1/255.
    """
    raw, path = load_raw(name, data_dir, strict)
    return {"name": name, "source": str(path), "format": _format_of(path), "fingerprint": _fingerprint(raw),
            **{split: _split_stats(raw[f"x_{split}"], raw[f"y_{split}"]) for split in SPLITS}}


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
        lines.append(f"  {split:<5}  pixel mean ({numbers(s[split]['mean'])})  std ({numbers(s[split]['std'])})")
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


def _holding(name: str) -> str:
    """The accepted files of ``name``, as a user reads them: ``cifar10.npz or ...``."""
    return " or ".join(f"{file}/" if file == _BATCH_FOLDER else file for file in _FILES[name])


def _in_named_folder(name: str, given: Path, how: str) -> Path:
    """``name`` in the folder ``given`` (named by ``how``), or the error that it is not there."""
    if given.is_file() or _is_batch_folder(given):
        return given.resolve()
    for candidate in (given / file_name for file_name in _FILES[name]):
        if _is_dataset_path(candidate):
            return candidate.resolve()
    problem = "does not exist" if not given.exists() else f"holds no {_holding(name)}"
    raise DataError(
        f"The data folder {given} (named by {how}) {problem}, so the {name} dataset is not "
        f"there. Name the folder that holds {_holding(name)}, or name no folder (leave "
        "--data-dir, data_dir and HWLIB_DATA_DIR unset) to use ./data or the keras cache."
    )


def _unnamed_places(name: str) -> tuple[tuple[str, Path, tuple[str, ...]], ...]:
    """Where to look when no folder is named: (label, folder, file names) in order."""
    keras_home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    return (("./data", Path.cwd() / "data", _FILES[name]),
            ("keras cache", keras_home / "datasets", _FILES[name] + _KERAS_CACHE_EXTRA[name]))


def _is_dataset_path(path: Path) -> bool:
    """Whether ``path`` is a candidate: the batch folder must be a folder, others files."""
    return path.is_dir() if path.name == _BATCH_FOLDER else path.is_file()


def _is_batch_folder(path: Path) -> bool:
    """Whether ``path`` is a folder of CIFAR-10 batches (even an incomplete one)."""
    return path.is_dir() and any((path / batch).is_file() for batch in _BATCHES)


def _download(name: str, looked: list[str]) -> Path:
    """Have ``keras.datasets`` download ``name`` into its cache, or explain why it is not there."""
    places = "\n".join(f"  - {place}" for place in looked)
    not_found = (
        f"Could not find the {name} dataset. Looked in:\n{places}\n"
        f"Set HWLIB_DATA_DIR to a folder holding {_holding(name)} (for example "
        "`export HWLIB_DATA_DIR=/path/to/datasets`), or pass --data-dir."
    )
    if os.environ.get("HWLIB_NO_DOWNLOAD") == "1":
        raise DataError(f"{not_found}\nNo download was tried because HWLIB_NO_DOWNLOAD=1.")
    try:
        import keras  # imported here only: importing keras loads TensorFlow

        getattr(keras.datasets, name).load_data()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        raise DataError(
            f"{not_found}\nDownloading it through keras failed too ({type(exc).__name__}: {exc}); "
            "without internet access the dataset must be copied onto this machine."
        ) from exc
    _, folder, names = _unnamed_places(name)[-1]
    for candidate in (folder / file_name for file_name in names):
        if _is_dataset_path(candidate):
            return candidate.resolve()
    raise DataError(f"{not_found}\nkeras downloaded it, but not into {folder} (it does so when that folder is "
                    "not writable): set KERAS_HOME to a writable folder.")


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
    raise DataError(f"{path} is neither an .npz archive nor a .tar.gz archive, so it is not a dataset file hwlib "
                    f"can read. {_FIX_FILE}")


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
        raise DataError(f"{path} lacks the array(s) {', '.join(missing)} (it holds: {', '.join(found) or 'nothing'}). "
                        "A dataset .npz must hold x_train, y_train, x_test and y_test, as keras' mnist.npz does.")
    return arrays


def _read_batches(path: Path) -> dict[str, np.ndarray]:
    """The CIFAR-10 batches of a ``cifar-10-batches-py/`` folder or, in one pass and never
    extracted, of ``cifar-10-python.tar.gz``, decoded into train/test arrays (images HWC)."""
    blobs: dict[str, bytes] = {}
    try:
        if path.is_dir():
            blobs = {batch: (path / batch).read_bytes() for batch in _BATCHES if (path / batch).is_file()}
        else:
            with tarfile.open(path, "r:gz") as archive:
                for member in archive:
                    batch = PurePosixPath(member.name).name
                    content = archive.extractfile(member) if batch in _BATCHES else None
                    if content is not None:  # None when the member is not a regular file
                        blobs[batch] = content.read()
    except _READ_ERRORS as exc:
        raise _damaged(path, exc) from exc
    missing = [batch for batch in _BATCHES if batch not in blobs]
    if missing:
        raise DataError(f"{path} is missing {', '.join(missing)}: CIFAR-10 needs data_batch_1 to data_batch_5 and "
                        f"test_batch. {_FIX_FILE}")
    train = [_decode_batch(blobs[batch], f"{path}/{batch}") for batch in _TRAIN_BATCHES]
    x_test, y_test = _decode_batch(blobs[_TEST_BATCH], f"{path}/{_TEST_BATCH}")
    return {"x_train": np.concatenate([x for x, _ in train]), "y_train": np.concatenate([y for _, y in train]),
            "x_test": np.ascontiguousarray(x_test), "y_test": y_test}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch, refusing anything but numpy arrays (pickles can run code)."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                *((f"numpy.{core}.multiarray", "_reconstruct") for core in ("core", "_core")),
                *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core"))}

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
        raise DataError(f"{where} is not a CIFAR-10 batch: expected a pickled dict with the keys b'data' and "
                        f"b'labels'. {_FIX_FILE}")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    if data.dtype != np.uint8:
        raise DataError(f"{where}: b'data' has dtype {data.dtype}, expected uint8. {_FIX_FILE}")
    if data.ndim != 2 or data.shape[1] != _CIFAR_ROW:
        raise DataError(f"{where}: b'data' has shape {data.shape}, expected (N, {_CIFAR_ROW}): one 32x32 RGB image "
                        f"per row. {_FIX_FILE}")
    if len(labels) != len(data):
        raise DataError(f"{where} has {len(data)} images but {len(labels)} labels. {_FIX_FILE}")
    # rows are channel planes (CHW, row-major); hwlib works channels last (HWC)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


_READERS = {"npz": _read_npz, "cifar-batches": _read_batches, "cifar-tar.gz": _read_batches}
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
        bad = (y < 0) | (y >= N_CLASSES)
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
    full = EXPECTED[name]
    if len(y) != full[split]:
        raise DataError(f"{source}: the {split} split has {len(y)} images, but the full {name} dataset has "
                        f"{full[split]} (expected sizes: {full['train']} train, {full['test']} test). {_FIX_STRICT}")
    absent = sorted(set(range(N_CLASSES)) - set(np.unique(y).tolist()))
    if absent:
        raise DataError(f"{source}: the {split} split has no image of class(es) {', '.join(map(str, absent))}. "
                        f"{_FIX_STRICT}")


# --- derived values -------------------------------------------------------------------


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _stamp(path: Path) -> tuple[Any, ...]:
    """What changes when the data on disk changes: sizes and modification times."""
    files = [path / batch for batch in _BATCHES] if path.is_dir() else [path]
    return tuple((file.name, file.stat().st_size, file.stat().st_mtime_ns) for file in files if file.exists())


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
        raise DataError(f"{what}={n} is too small: a stratified subset needs at least one image per class, so at "
                        f"least {n_classes} ({n_classes} classes in {pool}).")


def _split_stats(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Image count, images per class and per-channel pixel mean/std in 1/255 units.

    Sums and sums of squares are exact integers (accumulated in chunks, so no float
    copy of the whole split is made); mean and std are then rounded once to float64.
    """
    channels = x.shape[3] if x.ndim == 4 else 1
    total, squares = np.zeros(channels, dtype=np.uint64), np.zeros(channels, dtype=np.uint64)
    for start in range(0, len(x), _STATS_CHUNK):
        chunk = x[start : start + _STATS_CHUNK].reshape(-1, channels).astype(np.uint32)
        total += chunk.sum(axis=0, dtype=np.uint64)
        squares += (chunk * chunk).sum(axis=0, dtype=np.uint64)
    count = x.size // channels
    scale = count * 255
    return {"n": len(y), "class_counts": np.bincount(y, minlength=N_CLASSES).tolist(),
            "mean": [int(t) / scale for t in total],
            "std": [math.sqrt((count * int(q) - int(t) ** 2) / scale**2) for t, q in zip(total, squares)]}
