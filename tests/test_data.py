"""Tests of hwlib.data: formats, validation, look-up, subsets, summary.

The fast tests write tiny files in each real format under ``tmp_path``. The tests marked
``slow`` read the real datasets and run only when ``HWLIB_DATA_DIR`` names the folder
holding ``mnist.npz`` and ``cifar10.npz``.
"""

from __future__ import annotations

import os
import pickle
import re
import sys
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwlib import data
from hwlib.data import DataError

from conftest import unless

REAL_DATA_DIR = os.environ.get("HWLIB_DATA_DIR")  # read before the fixture clears it

Arrays = dict[str, np.ndarray]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """No real data folder, an empty home and working folder, no download, no cache."""
    for var in ("HWLIB_DATA_DIR", "KERAS_HOME", "HWLIB_DATA_STRICT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HWLIB_NO_DOWNLOAD", "1")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    data.clear_cache()
    yield
    data.clear_cache()


# --- writing tiny datasets in the real formats ------------------------------------------


def make_arrays(name: str, n_train: int = 20, n_test: int = 10, seed: int = 0) -> Arrays:
    """Random uint8 images with every class in each split (keras layout, HWC)."""
    rng = np.random.default_rng(seed)
    shape = data.EXPECTED[name]["image_shape"]
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[f"x_{split}"] = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
        arrays[f"y_{split}"] = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    return arrays


def write_npz(path: Path, arrays: Arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def write_batch(path: Path, rows: np.ndarray, labels: list[int], label: bytes) -> None:
    """One batch file as the CIFAR-10 site ships it: a pickled dict with bytes keys."""
    batch = {
        b"batch_label": label,
        b"labels": labels,
        b"data": rows,
        b"filenames": [b"image_%d.png" % i for i in range(len(labels))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))


def write_batch_folder(folder: Path, arrays: Arrays) -> Path:
    """``cifar-10-batches-py/``: five training batches and a test batch, rows in CHW."""
    folder.mkdir(parents=True)

    def rows(x: np.ndarray) -> np.ndarray:
        return x.transpose(0, 3, 1, 2).reshape(len(x), 3072)

    parts = np.array_split(np.arange(len(arrays["x_train"])), 5)
    for i, part in enumerate(parts, start=1):
        write_batch(
            folder / f"data_batch_{i}",
            rows(arrays["x_train"][part]),
            arrays["y_train"][part].tolist(),
            b"training batch %d of 5" % i,
        )
    write_batch(
        folder / "test_batch",
        rows(arrays["x_test"]),
        arrays["y_test"].tolist(),
        b"testing batch 1 of 1",
    )
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [n.encode() for n in data.CLASS_NAMES["cifar10"]]})
    )
    return folder


def tiny_mnist(folder: Path, **kwargs: Any) -> Path:
    return write_npz(folder / "mnist.npz", make_arrays("mnist", **kwargs))


# --- formats --------------------------------------------------------------------------


def test_npz_keras_layout_is_normalized_with_channel_axis(tmp_path: Path) -> None:
    arrays = make_arrays("mnist")
    path = write_npz(tmp_path / "d" / "mnist.npz", arrays)
    ds = data.load("mnist", tmp_path / "d", strict=False)
    assert ds.x_train.shape == (20, 28, 28, 1) and ds.x_test.shape == (10, 28, 28, 1)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    np.testing.assert_array_equal(ds.x_train[..., 0], arrays["x_train"] / np.float32(255))
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert ds.image_shape == (28, 28, 1) and ds.n_classes == 10
    assert ds.class_names == tuple("0123456789")
    assert ds.source == str(path.resolve())
    assert len(ds.fingerprint) == 16 and int(ds.fingerprint, 16) >= 0
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train[0, 0, 0, 0] = 1.0


def test_cifar_batches_are_converted_from_chw_to_hwc(tmp_path: Path) -> None:
    folder = write_batch_folder(tmp_path / "cifar-10-batches-py", make_arrays("cifar10"))
    row = np.zeros((1, 3072), dtype=np.uint8)
    row[0, 2 * 1024 + 1 * 32 + 2] = 200  # blue plane, image row 1, column 2
    write_batch(folder / "data_batch_1", row, [7], b"training batch 1 of 5")
    ds = data.load("cifar10", tmp_path, strict=False, scale="raw")
    assert ds.source == str(folder)
    first = ds.x_train[0]
    assert first.shape == (32, 32, 3) and first[1, 2, 2] == 200
    assert np.count_nonzero(first) == 1
    assert ds.y_train[0] == 7


def test_fingerprint_depends_on_the_data(tmp_path: Path) -> None:
    one = data.load("mnist", tiny_mnist(tmp_path / "a", seed=1), strict=False)
    two = data.load("mnist", tiny_mnist(tmp_path / "b", seed=2), strict=False)
    assert one.fingerprint != two.fingerprint


def test_keras_style_column_labels_are_accepted(tmp_path: Path) -> None:
    arrays = make_arrays("cifar10")
    column = {**arrays, "y_train": arrays["y_train"][:, None].astype(np.int64)}
    flat = data.load("cifar10", write_npz(tmp_path / "a" / "cifar10.npz", arrays), strict=False)
    col = data.load("cifar10", write_npz(tmp_path / "b" / "cifar10.npz", column), strict=False)
    assert col.y_train.shape == (20,) and col.fingerprint == flat.fingerprint


# --- validation -----------------------------------------------------------------------


def test_random_bytes_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "mnist.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DataError, match=r"mnist\.npz is not a readable \.npz archive .*damaged"):
        data.load("mnist", path, strict=False)


def test_cifar_formats_give_the_same_arrays_and_fingerprint(tmp_path: Path) -> None:
    arrays = make_arrays("cifar10")
    npz = write_npz(tmp_path / "a" / "cifar10.npz", arrays)
    folder = write_batch_folder(tmp_path / "b" / "cifar-10-batches-py", arrays)
    archive = tmp_path / "c" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    files_before = sorted(tmp_path.rglob("*"))
    loaded = [data.load("cifar10", where, strict=False) for where in (npz, folder, archive)]
    assert sorted(tmp_path.rglob("*")) == files_before  # the archive was not extracted
    assert len({ds.fingerprint for ds in loaded}) == 1
    for ds in loaded[1:]:
        np.testing.assert_array_equal(ds.x_train, loaded[0].x_train)
        np.testing.assert_array_equal(ds.y_test, loaded[0].y_test)
    archive.write_bytes(archive.read_bytes()[:2000])  # cut short
    data.clear_cache()
    with pytest.raises(DataError, match=r"Could not read .*cifar-10-python\.tar\.gz .*damaged"):
        data.load("cifar10", archive, strict=False)


def test_truncated_npz_is_rejected(tmp_path: Path) -> None:
    path = tiny_mnist(tmp_path)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match=r"mnist\.npz is not a readable \.npz archive .*download it again"):
        data.load("mnist", path, strict=False)


def test_damaged_npz_is_rejected(tmp_path: Path) -> None:
    path = tiny_mnist(tmp_path)
    content = bytearray(path.read_bytes())
    content[len(content) // 3 : len(content) // 3 + 64] = bytes(64)
    path.write_bytes(bytes(content))
    with pytest.raises(DataError, match=r"Could not read .*mnist\.npz \(.*download it again"):
        data.load("mnist", path, strict=False)


def test_corrupt_batch_is_rejected(tmp_path: Path) -> None:
    folder = write_batch_folder(tmp_path / "cifar-10-batches-py", make_arrays("cifar10"))
    (folder / "test_batch").write_bytes(b"\x80\x02}q\x00")  # a pickle cut short
    with pytest.raises(DataError, match="Could not read .*test_batch"):
        data.load("cifar10", folder, strict=False)


class _Exploit:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("this must never run",))


def test_batch_pickle_may_not_call_functions(tmp_path: Path, capsys: Any) -> None:
    folder = write_batch_folder(tmp_path / "cifar-10-batches-py", make_arrays("cifar10"))
    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": _Exploit()}, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_2 .*refers to .*print"):
        data.load("cifar10", folder, strict=False)
    assert "must never run" not in capsys.readouterr().out


def test_missing_batch_is_named(tmp_path: Path) -> None:
    folder = write_batch_folder(tmp_path / "cifar-10-batches-py", make_arrays("cifar10"))
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="is missing data_batch_3"):
        data.load("cifar10", tmp_path, strict=False)


def test_missing_array_is_named(tmp_path: Path) -> None:
    arrays = make_arrays("mnist")
    del arrays["y_test"]
    path = write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DataError, match=r"lacks the array\(s\) y_test"):
        data.load("mnist", path, strict=False)


def test_labels_out_of_range(tmp_path: Path) -> None:
    arrays = make_arrays("mnist")
    arrays["y_train"][3] = 12
    path = write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DataError, match=r"y_train has 1 label\(s\) outside 0\.\.9 \(e\.g\. 12\)"):
        data.load("mnist", path, strict=False)


def test_float_images_are_rejected(tmp_path: Path) -> None:
    arrays = make_arrays("mnist")
    arrays["x_test"] = arrays["x_test"] / np.float32(255)
    path = write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DataError, match="x_test has dtype float32, expected uint8"):
        data.load("mnist", path, strict=False)


def test_float_labels_are_rejected(tmp_path: Path) -> None:
    arrays = make_arrays("mnist")
    arrays["y_train"] = arrays["y_train"].astype(np.float64)
    path = write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DataError, match="y_train has dtype float64, expected integer"):
        data.load("mnist", path, strict=False)


def test_wrong_image_shape(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "mnist.npz", make_arrays("cifar10"))
    with pytest.raises(DataError, match=r"shape \(20, 32, 32, 3\), expected \(N, 28, 28\)"):
        data.load("mnist", path, strict=False)


def test_image_label_count_mismatch(tmp_path: Path) -> None:
    arrays = make_arrays("mnist")
    arrays["y_train"] = arrays["y_train"][:19]
    path = write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DataError, match="x_train has 20 images but y_train has 19 labels"):
        data.load("mnist", path, strict=False)


def test_empty_split(tmp_path: Path) -> None:
    path = tiny_mnist(tmp_path, n_test=0)
    with pytest.raises(DataError, match="the test split is empty"):
        data.load("mnist", path, strict=False)


def test_strict_mode_requires_the_full_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tiny_mnist(tmp_path)
    with pytest.raises(DataError, match="has 20 images, but the full mnist dataset has 60000"):
        data.load("mnist", path)  # strict by default
    monkeypatch.setenv("HWLIB_DATA_STRICT", "0")
    assert data.load("mnist", path).x_train.shape[0] == 20


def test_unknown_dataset_name() -> None:
    for call in (data.load, data.identify, data.locate, data.summary):
        with pytest.raises(DataError, match="Unknown dataset 'fashion'.*mnist, cifar10"):
            call("fashion")


# --- look-up --------------------------------------------------------------------------


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tiny_mnist(tmp_path / "explicit")
    env = tiny_mnist(tmp_path / "env")
    local = tiny_mnist(tmp_path / "work" / "data")
    cache = tiny_mnist(tmp_path / "home" / ".keras" / "datasets")
    monkeypatch.setenv("HWLIB_DATA_DIR", str(env.parent))
    assert data.locate("mnist", explicit.parent) == explicit
    assert data.locate("mnist", explicit) == explicit  # the file itself
    assert data.locate("mnist") == env
    monkeypatch.delenv("HWLIB_DATA_DIR")
    assert data.locate("mnist").resolve() == local.resolve()
    local.unlink()
    assert data.locate("mnist") == cache
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    moved = tiny_mnist(tmp_path / "keras_home" / "datasets")
    assert data.locate("mnist") == moved


@pytest.mark.parametrize("named_by", ["data_dir", "HWLIB_DATA_DIR"])
@pytest.mark.parametrize("problem", ["does not exist", "holds no mnist.npz"])
def test_a_named_folder_without_the_dataset_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named_by: str, problem: str
) -> None:
    """A folder the user names is the only place looked, though ./data and the keras cache
    (and, for data_dir, $HWLIB_DATA_DIR) hold the dataset."""
    tiny_mnist(tmp_path / "work" / "data")
    tiny_mnist(tmp_path / "home" / ".keras" / "datasets")
    folder = tmp_path / "named"
    if problem != "does not exist":
        write_npz(folder / "cifar10.npz", make_arrays("cifar10"))  # another dataset only
    if named_by == "data_dir":
        monkeypatch.setenv("HWLIB_DATA_DIR", str(tiny_mnist(tmp_path / "env").parent))
    else:
        monkeypatch.setenv("HWLIB_DATA_DIR", str(folder))
    how = "--data-dir or the data_dir parameter" if named_by == "data_dir" else "$HWLIB_DATA_DIR"
    message = (f"^The data folder {re.escape(str(folder))} \\(named by {re.escape(how)}\\) {problem}, so the mnist "
               r"dataset is not there\. Name the folder that holds mnist\.npz, or name no folder")
    for call in (data.locate, data.load, data.identify, data.summary):
        with pytest.raises(DataError, match=message):
            call("mnist", folder if named_by == "data_dir" else None)


def test_a_missing_folder_named_by_a_notebook_parameter_or_the_cli_ends_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwlib.cli import main
    from hwlib.errors import DataError as Error
    from hwlib.settings import Settings

    tiny_mnist(tmp_path / "work" / "data")  # a copy that must not be used instead
    missing = tmp_path / "nonexistent" / "data"
    with pytest.raises(DataError, match=f"^The data folder {re.escape(str(missing))} .* does not exist"):
        Settings.from_params(data_dir=str(missing)).data("mnist-base")  # -p data_dir
    store = tmp_path / "store"
    argv = ["train", "mnist-base", "--set", "epochs=1", "--data-dir", str(missing), "--store", str(store)]
    assert main(argv) == Error.exit_code
    err = capsys.readouterr().err
    assert err.startswith(f"hwlib: error: The data folder {missing} ") and err.count("\n") == 1
    assert not store.exists()


def test_cifar_in_the_keras_3_cache(tmp_path: Path) -> None:
    cache = tmp_path / "home" / ".keras" / "datasets"
    folder = cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    write_batch_folder(folder, make_arrays("cifar10"))
    assert data.locate("cifar10") == folder


def test_missing_everywhere_names_every_place(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        data.locate("cifar10")
    message = str(caught.value)
    assert "$HWLIB_DATA_DIR (not set)" in message
    cache = tmp_path / "home" / ".keras" / "datasets"
    for folder in (tmp_path / "work" / "data", cache):
        for file_name in ("cifar10.npz", "cifar-10-batches-py"):
            assert str(folder / file_name) in message
    assert str(cache / "cifar-10-batches-py-target" / "cifar-10-batches-py") in message
    assert "Set HWLIB_DATA_DIR to a folder holding cifar10.npz" in message
    assert "--data-dir" in message and "HWLIB_NO_DOWNLOAD=1" in message


def _fake_keras(load_data: Any) -> SimpleNamespace:
    """A stand-in for keras whose ``keras.datasets.mnist.load_data`` is ``load_data``."""
    return SimpleNamespace(datasets=SimpleNamespace(mnist=SimpleNamespace(load_data=load_data)))


def test_failed_download_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline() -> None:
        raise OSError("network is unreachable")

    monkeypatch.delenv("HWLIB_NO_DOWNLOAD")
    monkeypatch.setitem(sys.modules, "keras", _fake_keras(offline))
    with pytest.raises(DataError, match=r"(?s)Looked in:.*mnist\.npz.*network is unreachable"):
        data.locate("mnist")
    monkeypatch.setitem(sys.modules, "keras", _fake_keras(lambda: None))  # "downloaded" elsewhere
    with pytest.raises(DataError, match=r"keras downloaded it, but not into .*/home/\.keras/datasets"):
        data.locate("mnist")


def test_download_lands_in_the_keras_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def load_data() -> None:  # what keras.datasets.mnist.load_data leaves behind
        calls.append(tiny_mnist(tmp_path / "home" / ".keras" / "datasets"))

    monkeypatch.delenv("HWLIB_NO_DOWNLOAD")
    monkeypatch.setitem(sys.modules, "keras", _fake_keras(load_data))
    path = data.locate("mnist")
    assert path == tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"
    assert data.locate("mnist") == path and len(calls) == 1  # now found in the cache


# --- cache ----------------------------------------------------------------------------


def test_load_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = tiny_mnist(tmp_path, seed=1)
    first = data.load("mnist", path, strict=False)
    assert data.load("mnist", tmp_path, strict=False) is first
    tiny_mnist(tmp_path, n_train=30, seed=2)
    reloaded = data.load("mnist", path, strict=False)
    assert reloaded.x_train.shape[0] == 30 and reloaded.fingerprint != first.fingerprint


def cached(tmp_path: Path) -> list[Path]:
    """The cache folders under ``tmp_path / "cache"``, one per data file checked."""
    folder = tmp_path / "cache" / "datasets"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_identify_gives_what_load_gives_and_caches_it_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HWLIB_CACHE_DIR", str(tmp_path / "cache"))
    path = tiny_mnist(tmp_path, seed=1)
    first = data.identify("mnist", path, strict=False)  # read and checked: nothing cached yet
    loaded = data.load("mnist", path, strict=False)
    assert first == data.Identity(loaded.fingerprint, {"train": 20, "test": 10}, {"train": 10, "test": 10})
    assert len(cached(tmp_path)) == 1

    def no_reading(*args: Any) -> None:
        raise AssertionError("identify read the file although it is cached")

    data.clear_cache()  # a new process: only the cache on disk knows it
    with monkeypatch.context() as m:
        m.setattr(data, "_read_checked", no_reading)
        assert data.identify("mnist", tmp_path, strict=False) == first
        with pytest.raises(AssertionError, match="although it is cached"):  # checked leniently only
            data.identify("mnist", path, strict=True)
    tiny_mnist(tmp_path, n_train=30, seed=2)  # the file changes: read again
    changed = data.identify("mnist", path, strict=False)
    assert changed.fingerprint == data.load("mnist", path, strict=False).fingerprint != first.fingerprint
    assert changed.n == {"train": 30, "test": 10}


def test_identify_checks_the_file_as_load_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWLIB_CACHE_DIR", str(tmp_path / "cache"))
    arrays = make_arrays("mnist")
    arrays["y_train"][0] = 12
    path = write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DataError, match="1 label\\(s\\) outside 0..9"):
        data.identify("mnist", path, strict=False)
    assert cached(tmp_path) == []  # nothing cached of a bad file
    with pytest.raises(DataError, match="the train split has 20 images, but the full mnist dataset has 60000"):
        data.identify("mnist", tiny_mnist(tmp_path / "ok"), strict=True)


@pytest.mark.parametrize("cache", ["garbage", "unwritable"])
def test_a_broken_cache_costs_a_read_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: str
) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setenv("HWLIB_CACHE_DIR", str(folder))
    path = tiny_mnist(tmp_path, seed=3)
    if cache == "garbage":
        data.load("mnist", path, strict=False)
        (copy,) = cached(tmp_path)
        (copy / "identity.json").write_text("{not json")
    else:
        folder.write_text("a file where the cache folder should be")
    want = data.load("mnist", tiny_mnist(tmp_path / "same", seed=3), strict=False)
    data.clear_cache()
    assert data.identify("mnist", path, strict=False).fingerprint == want.fingerprint
    data.clear_cache()
    np.testing.assert_array_equal(data.load("mnist", path, strict=False).x_train, want.x_train)


def test_identity_checks_subset_sizes_as_subset_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWLIB_CACHE_DIR", str(tmp_path / "cache"))
    path = tiny_mnist(tmp_path)
    full, identity = data.load("mnist", path, strict=False), data.identify("mnist", path, strict=False)
    identity.check_subset("mnist", 20, None)
    for n_train, n_test in ((21, None), (None, 11), (9, None), (None, 0)):
        with pytest.raises(DataError) as by_subset:
            full.subset(n_train, n_test)
        with pytest.raises(DataError, match=f"^{re.escape(str(by_subset.value))}$"):
            identity.check_subset("mnist", n_train, n_test)


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tiny_mnist(tmp_path)
    monkeypatch.delenv("HWLIB_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for variable, cache in (("HOME", ".cache/hwlib"), ("XDG_CACHE_HOME", "hwlib"), ("HWLIB_CACHE_DIR", "")):
        monkeypatch.setenv(variable, str(tmp_path / variable))
        data.clear_cache()
        data.identify("mnist", path, strict=False)
        assert len(list((tmp_path / variable / cache / "datasets").glob("*/identity.json"))) == 1

# --- subsets --------------------------------------------------------------------------


def stratified_indices(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """The indices :meth:`hwlib.data.Dataset.subset` picks of the labels ``y``."""
    return data._stratified(y, n, seed, what="n", pool=f"the {len(y)} labels given")


def test_stratified_indices_largest_remainder() -> None:
    y = np.repeat([0, 1, 2], [5, 3, 2])
    index = stratified_indices(y, 7)
    # shares 3.5, 2.1, 1.4 -> 3, 2, 1 and the one left over goes to class 0
    assert np.bincount(y[index]).tolist() == [4, 2, 1]
    assert np.all(np.diff(index) > 0)


def test_stratified_indices_deterministic_per_seed() -> None:
    y = np.arange(1000) % 10
    same = stratified_indices(y, 100, seed=3)
    np.testing.assert_array_equal(same, stratified_indices(y, 100, seed=3))
    assert not np.array_equal(same, stratified_indices(y, 100, seed=4))


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(1, 40), min_size=2, max_size=10),
    fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_indices_properties(counts: list[int], fraction: float, seed: int) -> None:
    y = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    n = len(counts) + round(fraction * (len(y) - len(counts)))
    index = stratified_indices(y, n, seed)
    assert len(index) == n == len(set(index.tolist()))
    assert np.all(np.diff(index) > 0)
    share = n * np.array(counts) / len(y)
    picked = np.bincount(y[index], minlength=len(counts))
    assert np.all(picked >= np.floor(share)) and np.all(picked <= np.ceil(share))


def test_stratified_indices_rejects_bad_sizes() -> None:
    y = np.arange(30) % 10
    with pytest.raises(DataError, match="n=31 is more than the 30 labels given: use at most 30"):
        stratified_indices(y, 31)
    with pytest.raises(DataError, match="n=9 is too small.*at least 10"):
        stratified_indices(y, 9)
    with pytest.raises(DataError, match="n=0 is too small"):
        stratified_indices(y, 0)


def test_dataset_subset(tmp_path: Path) -> None:
    arrays = make_arrays("mnist", n_train=40, n_test=20)
    arrays["y_train"] = np.repeat(np.arange(10), [13, 3, 3, 3, 3, 3, 3, 3, 3, 3]).astype(np.uint8)
    full = data.load("mnist", write_npz(tmp_path / "mnist.npz", arrays), strict=False)
    small = full.subset(n_train=20, seed=1)
    assert small.x_train.shape == (20, 28, 28, 1) and small.x_test.shape == full.x_test.shape
    assert np.bincount(small.y_train).tolist()[0] in (6, 7)  # 13/40 of 20 = 6.5
    index = stratified_indices(full.y_train, 20, seed=1)
    np.testing.assert_array_equal(small.x_train, full.x_train[index])
    np.testing.assert_array_equal(small.y_train, full.y_train[index])
    assert small.fingerprint == full.fingerprint and small.source == full.source
    assert full.subset(20, 10, seed=1).y_test.shape == (10,)
    with pytest.raises(DataError, match="n_train=41 is more than the 40 train images of mnist"):
        full.subset(n_train=41)
    with pytest.raises(DataError, match="n_test=5 is too small.*at least 10"):
        full.subset(n_test=5)


# --- summary --------------------------------------------------------------------------


def test_summary_on_tiny_cifar(tmp_path: Path) -> None:
    arrays = make_arrays("cifar10", n_train=30)
    folder = write_batch_folder(tmp_path / "cifar-10-batches-py", arrays)
    s = data.summary("cifar10", tmp_path, strict=False)
    assert s["name"] == "cifar10" and s["source"] == str(folder)
    assert s["fingerprint"] == data.load("cifar10", folder, strict=False).fingerprint
    assert s["train"]["n"] == 30 and s["train"]["class_counts"] == [3] * 10
    pixels = arrays["x_train"].reshape(-1, 3).astype(np.float64) / 255
    np.testing.assert_allclose(s["train"]["mean"], pixels.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(s["train"]["std"], pixels.std(axis=0), rtol=1e-12)
    text = data.format_summary(s)
    assert s["fingerprint"] in text and str(folder) in text and "airplane" in text


def test_summary_on_tiny_mnist_has_one_channel(tmp_path: Path) -> None:
    arrays = make_arrays("mnist")
    s = data.summary("mnist", tiny_mnist(tmp_path), strict=False)
    assert len(s["test"]["mean"]) == len(s["test"]["std"]) == 1
    np.testing.assert_allclose(s["test"]["mean"][0], arrays["x_test"].mean() / 255, rtol=1e-12)
    assert "mnist: 20 training and 10 test images" in data.format_summary(s)


# --- the real datasets ----------------------------------------------------------------

REAL = {
    "mnist": {
        "shape": (28, 28, 1),
        "train_counts": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        "test_counts": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
        "mean": [0.1306604763],
        "std": [0.3081078039],
        "first_train": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
        "first_test": [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
    },
    "cifar10": {
        "shape": (32, 32, 3),
        "train_counts": [5000] * 10,
        "test_counts": [1000] * 10,
        "mean": [0.49139968, 0.48215841, 0.44653091],
        "std": [0.24703223, 0.24348513, 0.26158784],
        "first_train": [6, 9, 9, 4, 1, 1, 2, 7, 8, 3],
        "first_test": [3, 8, 8, 0, 6, 6, 1, 6, 3, 1],
    },
}


@pytest.mark.slow
@unless(REAL_DATA_DIR is not None, "HWLIB_DATA_DIR is not set")
@pytest.mark.parametrize("name", data.DATASETS)
def test_real_dataset(name: str) -> None:
    expected = REAL[name]
    s = data.summary(name, REAL_DATA_DIR, strict=True)
    assert s["train"]["class_counts"] == expected["train_counts"]
    assert s["test"]["class_counts"] == expected["test_counts"]
    np.testing.assert_allclose(s["train"]["mean"], expected["mean"], atol=1e-8)
    np.testing.assert_allclose(s["train"]["std"], expected["std"], atol=1e-8)
    ds = data.load(name, REAL_DATA_DIR, strict=True)
    assert ds.fingerprint == s["fingerprint"]
    assert ds.image_shape == expected["shape"]
    assert (len(ds.x_train), len(ds.x_test)) == (
        data.EXPECTED[name]["train"],
        data.EXPECTED[name]["test"],
    )
    assert ds.y_train[:10].tolist() == expected["first_train"]
    assert ds.y_test[:10].tolist() == expected["first_test"]
    assert data.load(name, REAL_DATA_DIR, strict=True) is ds
    small = ds.subset(n_train=1000, n_test=100)
    assert np.bincount(small.y_test).tolist() == [round(c / 100) for c in expected["test_counts"]]
