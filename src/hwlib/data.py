"""MNIST and CIFAR-10: found (:func:`locate`), read and checked (:func:`load`), identified, summed up."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import pickle
import tarfile
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
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
EXPECTED: dict[str, dict[str, Any]] = {  # the full datasets; MNIST images are stored without a channel axis
    "mnist": {"train": 60000, "test": 10000, "image_shape": (28, 28)},
    "cifar10": {"train": 50000, "test": 10000, "image_shape": (32, 32, 3)},
}
SPLITS = ("train", "test")
_KEYS = ("x_train", "y_train", "x_test", "y_test")
_BATCH_FOLDER = "cifar-10-batches-py"
_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
_FILES = {"mnist": ("mnist.npz",), "cifar10": ("cifar10.npz", _BATCH_FOLDER, "cifar-10-python.tar.gz")}
_HOLDING = {"mnist": "mnist.npz", "cifar10": f"cifar10.npz, {_BATCH_FOLDER}/ or cifar-10-python.tar.gz"}
_FIX_FILE = ("The file may be damaged or incompletely downloaded: delete it and download it again, or set "
             "HWLIB_DATA_DIR to a folder holding a good copy.")
_FIX_STRICT = "To accept a partial dataset on purpose, set HWLIB_DATA_STRICT=0 or pass strict=False."
_CACHE: dict[tuple[str, str, bool, str], tuple[tuple[Any, ...], Dataset]] = {}  # (name, path, strict, scale)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset for training: read-only float32 NHWC images, int32 labels, and its raw data's ``fingerprint``."""

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
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def subset(self, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> Dataset:
        """``n_train``/``n_test`` images (None: all), stratified, drawn by ``seed``, in their original order."""
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


def locate(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The path of dataset ``name``: in ``data_dir``, ``$HWLIB_DATA_DIR``, ./data, the keras cache, or downloaded."""
    _check_name(name)
    if data_dir is not None:
        return _in_named_folder(name, Path(data_dir).expanduser(), "--data-dir or the data_dir parameter")
    if os.environ.get("HWLIB_DATA_DIR"):
        return _in_named_folder(name, Path(os.environ["HWLIB_DATA_DIR"]).expanduser(), "$HWLIB_DATA_DIR")
    places = [(Path.cwd() / "data" / file, "./data") for file in _FILES[name]]
    places += [(path, "keras cache") for path in _keras_cache(name)]
    looked = "\n".join(f"  - {path} ({where})" for path, where in [("$HWLIB_DATA_DIR", "not set"), *places])
    return _first(path for path, _ in places) or _download(name, looked)


def load(name: str, data_dir: str | os.PathLike[str] | None = None, strict: bool | None = None,
         scale: str = "unit") -> Dataset:
    """Dataset ``name``, pixels in 0..1 (``scale="unit"``) or 0..255 (``"raw"``); ``strict``: the full dataset only."""
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
    dataset = Dataset(name=name, class_names=CLASS_NAMES[name], source=str(path), fingerprint=identity.fingerprint,
                      **arrays)
    _CACHE[key] = (stamp, dataset)
    return dataset


@dataclass(frozen=True)
class Identity:
    """A dataset file's fingerprint and, per split, its numbers of images and of classes."""

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
    """The :class:`Identity` of dataset ``name``, from the cache on disk if it knows the file as it is now."""
    path = locate(name, data_dir)
    return _identity(name, path, _resolve_strict(strict), _stamp(path))


@functools.cache
def _identity(name: str, path: Path, strict: bool, stamp: tuple[Any, ...]) -> Identity:
    return _saved_identity(_cache_folder(name, path, strict), stamp) or _checked_arrays(name, path, strict, stamp)[1]


def _saved_identity(folder: Path, stamp: tuple[Any, ...]) -> Identity | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # no usable cache: None
        saved = json.loads((folder / "identity.json").read_text())
        return Identity(**saved["identity"]) if saved["stamp"] == str(stamp) else None
    return None


def clear_cache() -> None:
    """Forget the datasets and identities known in this process (not the cache on disk)."""
    _CACHE.clear()
    _identity.cache_clear()


def _cache_folder(name: str, path: Path, strict: bool) -> Path:
    """The cache of a data file, under ``$HWLIB_CACHE_DIR``, ``$XDG_CACHE_HOME/hwlib`` or ``~/.cache/hwlib``."""
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    entry = hashlib.sha256(f"{name} {'strict' if strict else 'lenient'} {path}".encode()).hexdigest()[:16]
    return Path(os.environ.get("HWLIB_CACHE_DIR") or xdg / "hwlib") / "datasets" / entry


def _checked_arrays(name: str, path: Path, strict: bool,
                    stamp: tuple[Any, ...]) -> tuple[dict[str, np.ndarray], Identity]:
    """The checked raw arrays of ``path`` and their :class:`Identity`: cached if still the file's, else read."""
    folder = _cache_folder(name, path, strict)
    if (saved := _saved_identity(folder, stamp)) is not None:
        with contextlib.suppress(OSError, ValueError, EOFError):
            arrays = {key: np.load(folder / f"{key}.npy", allow_pickle=False) for key in _KEYS}
            if _fingerprint(arrays) == saved.fingerprint:
                return arrays, saved
    raw = _read_checked(name, path, strict)
    identity = Identity(_fingerprint(raw), {split: len(raw[f"y_{split}"]) for split in SPLITS},
                        {split: len(np.unique(raw[f"y_{split}"])) for split in SPLITS})
    with contextlib.suppress(OSError):  # the cache is only a shortcut; identity.json last, once the arrays are in
        folder.mkdir(parents=True, exist_ok=True)
        for key in _KEYS:
            np.save(folder / f"{key}.npy", raw[key], allow_pickle=False)
        (folder / "identity.json").write_text(json.dumps({"stamp": str(stamp), "identity": asdict(identity)}))
    return raw, identity


def summary(name: str, data_dir: str | os.PathLike[str] | None = None, strict: bool | None = None) -> dict[str, Any]:
    """What ``hwlib data check`` shows: per split the images, images per class, and pixel mean and std per channel."""
    path = locate(name, data_dir)
    raw = _read_checked(name, path, _resolve_strict(strict))
    return {"name": name, "source": str(path), "fingerprint": _fingerprint(raw),
            **{split: _split_stats(raw[f"x_{split}"], raw[f"y_{split}"]) for split in SPLITS}}


def format_summary(s: dict[str, Any]) -> str:
    """A :func:`summary` as text."""
    lines = [f"{s['name']}: {s['train']['n']} training and {s['test']['n']} test images",
             f"  source       {s['source']}", f"  fingerprint  {s['fingerprint']}"]
    for split in SPLITS:
        mean, std = (", ".join(f"{v:.8f}" for v in s[split][stat]) for stat in ("mean", "std"))
        lines.append(f"  {split:<5}  pixel mean ({mean})  std ({std})")
    counts = zip(CLASS_NAMES[s["name"]], s["train"]["class_counts"], s["test"]["class_counts"])
    lines += ["  images per class (train / test):", *(f"    {c:<12} {n:>6} / {m:>5}" for c, n, m in counts)]
    return "\n".join(lines)


def _split_stats(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Images, images per class, and per channel the pixels' mean and std in 1/255, from their histogram."""
    channels = x.reshape(-1, x.shape[3] if x.ndim == 4 else 1)
    share = np.stack([np.bincount(channel, minlength=256) for channel in channels.T]) / len(channels)
    levels = np.arange(256) / 255
    mean = share @ levels
    return {"n": len(y), "class_counts": np.bincount(y, minlength=N_CLASSES).tolist(), "mean": mean.tolist(),
            "std": np.sqrt((share * (levels - mean[:, None]) ** 2).sum(axis=1)).tolist()}


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}: choose one of {', '.join(DATASETS)}.")


def _keras_cache(name: str) -> list[Path]:
    """Where ``keras.datasets`` keeps ``name`` (keras 3 extracts CIFAR-10 under ``...-target``)."""
    folder = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"
    extracted = [folder / "cifar-10-batches-py-target" / _BATCH_FOLDER] if name == "cifar10" else []
    return [folder / file for file in _FILES[name]] + extracted


def _first(paths: Any) -> Path | None:
    return next((path.resolve() for path in paths if path.exists()), None)


def _in_named_folder(name: str, given: Path, how: str) -> Path:
    """``name`` in the folder ``given`` (named by ``how``), or the error that it is not there."""
    if given.is_file() or any((given / batch).is_file() for batch in _BATCHES):
        return given.resolve()  # the dataset's own file or batch folder
    if (found := _first(given / file for file in _FILES[name])) is not None:
        return found
    problem = "does not exist" if not given.exists() else f"holds no {_HOLDING[name]}"
    raise DataError(f"The data folder {given} (named by {how}) {problem}, so the {name} dataset is not there. Name "
                    f"the folder that holds {_HOLDING[name]}, or name no folder (leave --data-dir, data_dir and "
                    "HWLIB_DATA_DIR unset) to use ./data or the keras cache.")


def _download(name: str, looked: str) -> Path:
    """Have ``keras.datasets`` download ``name`` into its cache, or explain why it is not there."""
    not_found = (f"Could not find the {name} dataset. Looked in:\n{looked}\nSet HWLIB_DATA_DIR to a folder "
                 f"holding {_HOLDING[name]} (for example `export HWLIB_DATA_DIR=/path/to/datasets`), or pass "
                 "--data-dir.")
    if os.environ.get("HWLIB_NO_DOWNLOAD") == "1":
        raise DataError(f"{not_found}\nNo download was tried because HWLIB_NO_DOWNLOAD=1.")
    try:
        import keras  # here only: importing keras loads TensorFlow

        getattr(keras.datasets, name).load_data()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        raise DataError(f"{not_found}\nDownloading it through keras failed too ({type(exc).__name__}: {exc}); "
                        "without internet access the dataset must be copied onto this machine.") from exc
    if (found := _first(_keras_cache(name))) is None:
        raise DataError(f"{not_found}\nkeras downloaded it, but not into {_keras_cache(name)[0].parent} (it does "
                        "so when that folder is not writable): set KERAS_HOME to a writable folder.")
    return found


def _resolve_strict(strict: bool | None) -> bool:
    return os.environ.get("HWLIB_DATA_STRICT", "1") != "0" if strict is None else strict


def _format_of(path: Path) -> str:
    """``cifar-batches`` for a folder or a gzip file (the batches' archive), else ``npz``."""
    if path.is_dir():
        return "cifar-batches"
    with path.open("rb") as file:
        return "cifar-batches" if file.read(2) == b"\x1f\x8b" else "npz"


def _read_checked(name: str, path: Path, strict: bool) -> dict[str, np.ndarray]:
    return _validate(name, _READERS[_format_of(path)](path), path, strict)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a readable .npz archive (not a zip file). {_FIX_FILE}")
    try:  # open the file here: np.load leaves it open when the zip is unreadable
        with path.open("rb") as file, np.load(file, allow_pickle=False) as archive:
            found = list(archive.files)
            arrays = {key: archive[key] for key in _KEYS if key in found}
    except Exception as exc:  # noqa: BLE001 - whatever fails, the file is not a readable .npz
        raise DataError(f"Could not read {path} ({type(exc).__name__}: {exc}). {_FIX_FILE}") from exc
    if missing := [key for key in _KEYS if key not in arrays]:
        raise DataError(f"{path} lacks the array(s) {', '.join(missing)} (it holds: {', '.join(found) or 'nothing'}). "
                        "A dataset .npz must hold x_train, y_train, x_test and y_test, as keras' mnist.npz does.")
    return arrays


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch, refusing anything but numpy arrays (pickles can run code)."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                *((f"numpy.{core}.{module}", name) for core in ("core", "_core")
                  for module, name in (("multiarray", "_reconstruct"), ("numeric", "_frombuffer")))}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR-10 batch never contains")
        return super().find_class(module, name)


def _read_batches(path: Path) -> dict[str, np.ndarray]:
    """The CIFAR-10 batches of a ``cifar-10-batches-py/`` folder or of its ``.tar.gz`` (not extracted) as arrays."""
    try:
        if path.is_dir():
            blobs = {batch: (path / batch).read_bytes() for batch in _BATCHES if (path / batch).is_file()}
        else:
            with tarfile.open(path, "r:gz") as archive:  # one pass over the members
                blobs = {Path(m.name).name: archive.extractfile(m).read() for m in archive  # type: ignore[union-attr]
                         if m.isfile() and Path(m.name).name in _BATCHES}
    except Exception as exc:  # noqa: BLE001 - whatever fails, the batches are not readable
        raise DataError(f"Could not read {path} ({type(exc).__name__}: {exc}). {_FIX_FILE}") from exc
    if missing := [batch for batch in _BATCHES if batch not in blobs]:
        raise DataError(f"{path} is missing {', '.join(missing)}: CIFAR-10 needs data_batch_1 to data_batch_5 and "
                        f"test_batch. {_FIX_FILE}")
    x, y = [], []
    for name in _BATCHES:
        file = path / name if path.is_dir() else f"{path}:{name}"
        try:
            batch = _BatchUnpickler(io.BytesIO(blobs[name]), encoding="bytes").load()
            data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
        except Exception as exc:  # noqa: BLE001 - whatever fails, the file is not a readable batch
            raise DataError(f"Could not read {file} ({type(exc).__name__}: {exc}). {_FIX_FILE}") from exc
        if data.dtype != np.uint8 or data.shape[1:] != (3072,) or labels.shape != data.shape[:1]:
            raise DataError(f"{file} is not a CIFAR-10 batch: its b'data' ({data.dtype}, shape {data.shape}) must "
                            f"be uint8 (N, 3072), one 32x32 RGB image per row, with N b'labels' (shape "
                            f"{labels.shape}). {_FIX_FILE}")
        x.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))  # rows hold the R, G, B planes: to HWC
        y.append(labels)
    return {"x_train": np.concatenate(x[:5]), "y_train": np.concatenate(y[:5]), "x_test": x[5], "y_test": y[5]}


def _validate(name: str, arrays: dict[str, np.ndarray], source: Path, strict: bool) -> dict[str, np.ndarray]:
    """Check the four arrays; return them C-contiguous with ``uint8`` labels of shape (N,)."""
    expected = EXPECTED[name]
    image_shape = expected["image_shape"]
    checked: dict[str, np.ndarray] = {}
    for split in SPLITS:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8:
            raise DataError(f"{source}: x_{split} has dtype {x.dtype}, expected uint8 (raw pixel values 0..255). "
                            "Store the original images, not normalized floats.")
        if x.shape[1:] != image_shape:
            raise DataError(f"{source}: x_{split} has shape {x.shape}, expected "
                            f"(N, {', '.join(map(str, image_shape))}) for {name}. Is this the right file for this "
                            "dataset?")
        if y.ndim == 2 and y.shape[1] == 1:  # keras' CIFAR labels are (N, 1)
            y = y[:, 0]
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{source}: y_{split} has dtype {y.dtype}, expected integer class labels 0..9.")
        if y.ndim != 1:
            raise DataError(f"{source}: y_{split} has shape {y.shape}, expected (N,).")
        if len(x) != len(y):
            raise DataError(f"{source}: x_{split} has {len(x)} images but y_{split} has {len(y)} labels; they must "
                            f"match one to one. {_FIX_FILE}")
        if len(y) == 0:
            raise DataError(f"{source}: the {split} split is empty. {_FIX_FILE}")
        bad = (y < 0) | (y >= N_CLASSES)
        if bad.any():
            raise DataError(f"{source}: y_{split} has {int(bad.sum())} label(s) outside 0..9 (e.g. "
                            f"{', '.join(map(str, np.unique(y[bad])[:5]))}). {_FIX_FILE}")
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
    if absent := sorted(set(range(N_CLASSES)) - set(np.unique(y).tolist())):
        raise DataError(f"{source}: the {split} split has no image of class(es) {', '.join(map(str, absent))}. "
                        f"{_FIX_STRICT}")


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _stamp(path: Path) -> tuple[Any, ...]:
    """The names, sizes and modification times of the data's files."""
    files = [path / batch for batch in _BATCHES] if path.is_dir() else [path]
    return tuple((file.name, file.stat().st_size, file.stat().st_mtime_ns) for file in files if file.exists())


def _fingerprint(raw: dict[str, np.ndarray]) -> str:
    """16 hex digits of sha256 over the raw arrays' shapes and bytes (the same for every format)."""
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
    picked = [rng.permutation(np.flatnonzero(label_of == k))[:q] for k, q in enumerate(quota)]
    return np.sort(np.concatenate(picked))


def _check_subset_size(n: int, available: int, n_classes: int, what: str, pool: str) -> None:
    if n > available:
        raise DataError(f"{what}={n} is more than {pool}: use at most {available}.")
    if n <= 0 or n < n_classes:
        raise DataError(f"{what}={n} is too small: a stratified subset needs at least one image per class, so at "
                        f"least {n_classes} ({n_classes} classes in {pool}).")


_READERS = {"npz": _read_npz, "cifar-batches": _read_batches}  # by :func:`_format_of`
