"""Robustness, end to end: every bad input a user can give is a clear error, and harmless.

One table (:data:`CASES`) of bad inputs, each given the way a user gives it — a ``hwlib``
command line (``hwlib.cli.main``), a Python call, or (in the papermill tests below) a
notebook parameter. Each case asserts

* the error: its :class:`~hwlib.errors.HwlibError` subclass (for the CLI: the exit code
  that class maps to, never 0 or 1) and a message matching the case's pattern;
* that the message is one paragraph: no traceback, no blank line, (CLI) the whole of
  stderr is ``hwlib: error: <message>``;
* that nothing was written to the run store (every watched path is byte-for-byte as it
  was before the command, and no half-written ``.tmp-*`` folder is left).

The unit tests of the same checks live in test_config.py, test_data.py, test_store.py;
this file is the user's view of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwlib import experiments as E
from hwlib.cli import main
from hwlib.config import ConvLayer, Experiment, ModelSpec, validate
from hwlib.errors import ConfigError, DataError, HwlibError, StoreError
from hwlib.store import MANIFEST, WEIGHTS

from conftest import make_tiny, tiny_command_env

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TINY_SETTINGS = {"epochs": 1, "n_train": 100, "n_test": 50}
TINY = [arg for name, value in TINY_SETTINGS.items() for arg in ("--set", f"{name}={value}")]
TINY_EXP = E.prepare("mnist-base").with_overrides(TINY_SETTINGS)  # what `train mnist-base *TINY` trains


# ---------------------------------------------------------------------------------------
# The scene of a case
# ---------------------------------------------------------------------------------------
@dataclass
class Ctx:
    """What a case may touch: a scratch folder, its data folder, the run store."""

    tmp: Path
    tiny_dir: Path  # shared, read-only: the good tiny datasets
    store: Path  # $HWLIB_STORE
    template: Path  # a store holding the trained TINY_EXP run (copy it, never edit it)
    monkeypatch: pytest.MonkeyPatch
    watch: list[Path] = field(default_factory=list)

    def fmt(self, arg: str) -> str:
        return arg.format(tmp=self.tmp, store=self.store)

    def data_folder(self, **arrays: dict[str, np.ndarray]) -> Path:
        """A fresh data folder (and $HWLIB_DATA_DIR) with the given npz files."""
        folder = self.tmp / "data"
        folder.mkdir(exist_ok=True)
        for name, content in arrays.items():
            np.savez_compressed(folder / f"{name}.npz", **content)
        self.monkeypatch.setenv("HWLIB_DATA_DIR", str(folder))
        return folder

    def stored(self) -> Path:
        """Fill the store with the trained TINY_EXP run; returns its entry folder."""
        shutil.copytree(self.template, self.store, dirs_exist_ok=True)
        (entry,) = (self.store / "runs").iterdir()
        return entry


def snapshot(path: Path) -> dict[str, str] | str | None:
    """Every file under ``path`` with its sha256 (a file: its sha256; absent: None)."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if not path.exists():
        return None
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(path.rglob("*"))}


# ---------------------------------------------------------------------------------------
# Scene setters
# ---------------------------------------------------------------------------------------
def truncated_npz(ctx: Ctx) -> None:
    path = ctx.data_folder(mnist=make_tiny("mnist")) / "mnist.npz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupted_npz(ctx: Ctx) -> None:
    path = ctx.data_folder(mnist=make_tiny("mnist")) / "mnist.npz"
    blob = bytearray(path.read_bytes())
    middle = len(blob) // 2
    blob[middle:middle + 64] = bytes(b ^ 0xFF for b in blob[middle:middle + 64])  # same size
    path.write_bytes(bytes(blob))


def labels_out_of_range(ctx: Ctx) -> None:
    arrays = make_tiny("mnist")
    arrays["y_train"][3] = 10
    ctx.data_folder(mnist=arrays)


def cifar_batch_missing(ctx: Ctx) -> None:
    arrays = make_tiny("cifar10", n_train=50, n_test=20)
    folder = ctx.data_folder() / "cifar-10-batches-py"
    folder.mkdir()

    def write(name: str, x: np.ndarray, y: np.ndarray) -> None:
        rows = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # HWC -> the batches' CHW rows
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rows, b"labels": y.tolist()}, f)

    for i in (1, 2, 4, 5):  # data_batch_3 is missing
        write(f"data_batch_{i}", arrays["x_train"][10 * (i - 1):10 * i], arrays["y_train"][10 * (i - 1):10 * i])
    write("test_batch", arrays["x_test"], arrays["y_test"])


def offline_without_data(ctx: Ctx) -> None:
    """A fresh offline machine: no $HWLIB_DATA_DIR, empty HOME and working folder."""
    for name in ("home", "cwd"):
        (ctx.tmp / name).mkdir()
    ctx.monkeypatch.delenv("HWLIB_DATA_DIR")
    ctx.monkeypatch.delenv("KERAS_HOME", raising=False)
    ctx.monkeypatch.setenv("HOME", str(ctx.tmp / "home"))
    ctx.monkeypatch.setenv("HWLIB_NO_DOWNLOAD", "1")
    ctx.monkeypatch.chdir(ctx.tmp / "cwd")


def not_a_dataset_file(ctx: Ctx) -> None:
    (ctx.tmp / "notes.txt").write_text("these are not images\n")


def store_is_a_file(ctx: Ctx) -> None:
    (ctx.tmp / "store-file").write_text("I am a file, not a folder\n")
    ctx.watch.append(ctx.tmp / "store-file")


def store_env_under_a_file(ctx: Ctx) -> None:
    (ctx.tmp / "plain-file").write_text("")
    ctx.monkeypatch.setenv("HWLIB_STORE", str(ctx.tmp / "plain-file" / "store"))
    ctx.watch.append(ctx.tmp / "plain-file")


def edited_metrics(ctx: Ctx) -> None:
    entry = ctx.stored()
    metrics = json.loads((entry / "metrics.json").read_text())
    metrics["test_accuracy"] = 0.999  # a better number, typed in by hand
    (entry / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")


def corrupted_weights(ctx: Ctx) -> None:
    entry = ctx.stored()
    path = entry / WEIGHTS
    path.write_bytes(path.read_bytes()[:200] + b"\0" * 100)


def corrupted_weights_resealed(ctx: Ctx) -> None:
    """A damaged weights file whose manifest agrees (damaged before the entry was sealed)."""
    entry = ctx.stored()
    (entry / WEIGHTS).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 300)
    manifest = json.loads((entry / MANIFEST).read_text())
    manifest[WEIGHTS] = hashlib.sha256((entry / WEIGHTS).read_bytes()).hexdigest()
    (entry / MANIFEST).write_text(json.dumps(manifest))


def manifest_not_a_mapping(ctx: Ctx) -> None:
    (ctx.stored() / MANIFEST).write_text("null\n")


def entry_is_a_file(ctx: Ctx) -> None:
    entry = ctx.stored()
    shutil.rmtree(entry)
    entry.write_text("{}")


# ---------------------------------------------------------------------------------------
# Python API calls
# ---------------------------------------------------------------------------------------
def api_run_zero_epochs(ctx: Ctx) -> Any:
    from hwlib.train import run

    exp = dataclasses.replace(TINY_EXP, train=dataclasses.replace(TINY_EXP.train, epochs=0))
    return run(exp)  # built around with_overrides: run() must validate on its own


def api_run_store_is_a_file(ctx: Ctx) -> Any:
    from hwlib.train import run

    return run(TINY_EXP, ctx.tmp / "store-file")


def api_load_model(ctx: Ctx) -> Any:
    from hwlib.train import run

    return run(TINY_EXP, train=False).load_model()


def api_load_missing_batch(ctx: Ctx) -> Any:
    from hwlib import data

    return data.load("cifar10")


def api_from_dict_unknown_dataset(ctx: Ctx) -> Any:
    d = TINY_EXP.to_dict()
    d["dataset"] = {"name": "mnist"}
    return Experiment.from_dict(d)


def api_settings(**params: Any) -> Callable[[Ctx], Any]:
    def call(ctx: Ctx) -> Any:
        from hwlib.settings import Settings

        return Settings.from_params(**params)

    return call


# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    error: type[HwlibError]
    message: str  # a regular expression the message must match (re.search)
    argv: tuple[str, ...] = ()  # the `hwlib` command line ({tmp}, {store} are filled in)
    call: Callable[[Ctx], Any] | None = None  # or: a Python call
    prepare: Callable[[Ctx], None] | None = None


def cli(error, message, *argv, prepare=None):
    return Case(error, message, argv=argv, prepare=prepare)


def api(error, message, call, prepare=None):
    return Case(error, message, call=call, prepare=prepare)


CASES = {
    # -- the network -------------------------------------------------------------------------
    "stride-collapses-cifar": cli(
        ConfigError, r"pool2 would output feature maps of size 0 \(below 1 pixel\) for cifar10 input 32x32\. "
        r"Output size = .*conv2: floor\(\(4 \+ 0 - 3\) / 4\) \+ 1 = 1; pool2: floor\(\(1 - 2\) / 2\) \+ 1 = 0\. "
        r"Use a smaller kernel or stride", "train", "cifar10-base", "--set", "stride=4"),
    "kernel-collapses-conv3": cli(
        ConfigError, r"conv3 would output feature maps of size -1 .*conv3: floor\(\(7 \+ 0 - 9\) / 1\) \+ 1 = -1",
        "train", "mnist-base", "--set", "model.convs.2.kernel=9", "--set", "model.convs.2.padding=valid"),
    "padding-does-not-exist": cli(
        ConfigError, r"^conv1: padding 'causal' does not exist\. Use 'same' .* or 'valid'",
        "train", "mnist-base", "--set", "padding=causal"),
    "unknown-dataset": cli(
        ConfigError, r"^Unknown dataset 'fashion'\. Choose one of: mnist, cifar10\.$",
        "train", "mnist-base", "--set", "dataset=fashion"),
    "dataset-not-a-name": cli(
        ConfigError, r"^Unknown dataset \['mnist'\]\. Choose one of", "train", "mnist-base", "--set", "dataset=[mnist]"),
    "l2-on-missing-layer": cli(
        ConfigError, r"L2 is set on layer 'fc2', but the model has no such layer\. Its weighted layers are: "
        r"conv1, conv2, conv3, fc1, output\.", "train", "mnist-base", "--set", "l2_layers=[fc2]"),
    "l2-layers-not-a-list": cli(
        ConfigError, r"model\.l2_layers must be a list, got 'fc1'", "train", "mnist-base", "--set", "l2_layers=fc1"),
    # -- training settings ------------------------------------------------------------------
    "negative-epochs": cli(ConfigError, r"^epochs must be at least 1, got -1\.$",
                           "train", "mnist-base", "--set", "epochs=-1"),
    "epochs-not-a-number": cli(ConfigError, r"^epochs must be a whole number, got 'ten'\.$",
                               "sweep", "mnist", "--set", "epochs=ten"),
    "learning-rate-zero": cli(ConfigError, r"learning_rate must be a number between 0 and 10 \(exclusive\), got 0;",
                              "train", "mnist-base", "--set", "lr=0"),
    "seed-too-large": cli(ConfigError, r"^seed must be at most 4294967295 \(2\*\*32 - 1\), got 99999999999\.$",
                          "train", "mnist-base", *TINY, "--set", "seed=99999999999"),
    "unknown-set-name": cli(ConfigError, r"^Unknown setting 'optimizer'\. Known settings: .*epochs.*; or a dotted path",
                            "train", "mnist-base", "--set", "optimizer=sgd"),
    "unknown-dotted-path": cli(ConfigError, r"The setting 'model\.convs\.3\.kernel' does not exist",
                               "reproduce", "--set", "model.convs.3.kernel=3"),
    "report-epochs-ten": cli(ConfigError, r"^epochs must be a whole number >= 1, or None .*got 'ten'\.$",
                             "report", "-p", "epochs", "ten"),
    "report-unparsable-value": cli(ConfigError, r"^n_train must be a whole number >= 1, or None .*got '\[1'\.$",
                                   "report", "-p", "n_train", "[1"),
    "report-one-seed": cli(ConfigError, r"^seeds must be a whole number >= 2 .*got 1\.$",
                           "report", "-p", "seeds", "1"),
    "report-unknown-parameter": cli(ConfigError, r"^Unknown parameter\(s\) epoch\. Parameters: .*epochs",
                                    "report", "-p", "epoch", "2"),
    "api-zero-epochs": api(ConfigError, r"^epochs must be at least 1, got 0\.$", api_run_zero_epochs),
    "api-dataset-a-mapping": api(ConfigError, r"^Unknown dataset \{'name': 'mnist'\}", api_from_dict_unknown_dataset),
    "api-settings-profile": api(ConfigError, r"^profile must be one of 'auto', 'full', 'quick', got 'huge'\.$",
                                api_settings(profile="huge")),
    # -- data -------------------------------------------------------------------------------
    "offline-no-data": cli(
        DataError, r"(?s)^Could not find the mnist dataset\. Looked in:\n  - \$HWLIB_DATA_DIR \(not set\)\n"
        r".*/cwd/data/mnist\.npz \(\./data\)\n.*/home/\.keras/datasets/mnist\.npz \(keras cache\)\n"
        r"Set HWLIB_DATA_DIR .*\nNo download was tried because HWLIB_NO_DOWNLOAD=1\.$",
        "train", "mnist-base", *TINY, prepare=offline_without_data),
    "truncated-npz": cli(DataError, r"/data/mnist\.npz is not a readable \.npz archive .*The file may be damaged",
                         "train", "mnist-base", *TINY, prepare=truncated_npz),
    "corrupted-npz": cli(DataError, r"^Could not read .*/data/mnist\.npz \(BadZipFile: Bad CRC-32 .*download it again",
                         "data", "check", "--dataset", "mnist", prepare=corrupted_npz),
    "cifar-batch-missing": cli(
        DataError, r"cifar-10-batches-py is missing data_batch_3: CIFAR-10 needs data_batch_1 to data_batch_5 and test_batch",
        "train", "cifar10-base", *TINY, prepare=cifar_batch_missing),
    "api-cifar-batch-missing": api(DataError, r"is missing data_batch_3", api_load_missing_batch,
                                   prepare=cifar_batch_missing),
    "labels-out-of-range": cli(DataError, r"y_train has 1 label\(s\) outside 0\.\.9 \(e\.g\. 10\)",
                               "train", "mnist-base", *TINY, prepare=labels_out_of_range),
    "n-train-larger-than-data": cli(
        DataError, r"^n_train=500 is more than the 200 train images of mnist: use at most 200\.$",
        "train", "mnist-base", "--set", "epochs=1", "--set", "n_train=500"),
    "n-test-larger-than-data": cli(
        DataError, r"^n_test=101 is more than the 100 test images of cifar10: use at most 100\.$",
        "sweep", "cifar10", "--set", "n_test=101"),
    "data-dir-not-a-dataset": cli(DataError, r"notes\.txt is not a readable \.npz archive",
                                  "train", "mnist-base", *TINY, "--data-dir", "{tmp}/notes.txt",
                                  prepare=not_a_dataset_file),
    # -- the run store ----------------------------------------------------------------------
    "store-is-a-file": cli(StoreError, r"^Cannot create the run store at .*/store-file/runs \(.*\)\. Point --store or HWLIB_STORE",
                           "train", "mnist-base", *TINY, "--store", "{tmp}/store-file", prepare=store_is_a_file),
    "store-env-under-a-file": cli(StoreError, r"^Cannot create the run store at .*/plain-file/store/runs",
                                  "train", "mnist-base", *TINY, prepare=store_env_under_a_file),
    "api-store-is-a-file": api(StoreError, r"^Cannot create the run store", api_run_store_is_a_file,
                               prepare=store_is_a_file),
    "entry-edited-by-hand": cli(
        StoreError, r"^The store entry .*/runs/[0-9a-f]{16}: metrics\.json does not match its checksum \(edited by hand "
        r"or damaged\)\. Delete the folder .* and the run is trained again", "train", "mnist-base", *TINY,
        prepare=edited_metrics),
    "weights-corrupted": cli(StoreError, r"model\.weights\.h5 does not match its checksum",
                             "train", "mnist-base", *TINY, prepare=corrupted_weights),
    "api-weights-unreadable": api(
        StoreError, r"^The weights file .*/model\.weights\.h5 cannot be read \(\w+\)\. Delete .* and train the run again\.$",
        api_load_model, prepare=corrupted_weights_resealed),
    "manifest-not-a-mapping": cli(StoreError, r"has no readable MANIFEST\.json \(it holds NoneType",
                                  "train", "mnist-base", *TINY, prepare=manifest_not_a_mapping),
    "entry-is-a-file": cli(StoreError, r"^The store entry .*/runs/[0-9a-f]{16} is not a folder\. Delete it",
                           "train", "mnist-base", *TINY, prepare=entry_is_a_file),
}


@pytest.fixture(scope="module")
def template(tiny_dir, tmp_path_factory) -> Path:
    """A store holding the trained TINY_EXP run (with weights), trained once for the module."""
    from hwlib import data
    from hwlib.train import run

    store = tmp_path_factory.mktemp("template-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HWLIB_DATA_STRICT", "0")
        mp.setenv("HWLIB_NO_DOWNLOAD", "1")
        run(TINY_EXP, store, data_dir=tiny_dir)
        data.clear_cache()
    return store


def assert_one_paragraph(message: str) -> None:
    assert message.strip() and "Traceback" not in message and 'File "' not in message, message
    assert "\n\n" not in message and len(message) < 1500, message


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_a_clear_error_and_writes_nothing(case: Case, tiny_env, tiny_dir, template, tmp_path,
                                                       monkeypatch, capsys):
    ctx = Ctx(tmp_path / "scene", tiny_dir, tiny_env, template, monkeypatch)
    ctx.tmp.mkdir()
    if case.prepare:
        case.prepare(ctx)
    watched = [ctx.store, *ctx.watch]
    before = [snapshot(p) for p in watched]
    capsys.readouterr()

    if case.call is None:
        code = main([ctx.fmt(a) for a in case.argv])
        err = capsys.readouterr().err
        assert code == case.error.exit_code != 0, err
        assert err.startswith("hwlib: error: ") and err.endswith("\n"), err
        message = err[len("hwlib: error: "):-1]
    else:
        with pytest.raises(HwlibError) as caught:
            case.call(ctx)
        assert type(caught.value) is case.error, caught.value
        message = str(caught.value)
    assert_one_paragraph(message)
    assert re.search(case.message, message), (case.message, message)

    assert [snapshot(p) for p in watched] == before, "the failed command changed the run store"
    runs = ctx.store / "runs"
    assert not runs.is_dir() or not [p for p in runs.iterdir() if p.name.startswith(".tmp-")]


def test_the_table_covers_every_error_class_and_interface():
    kinds = {(c.error, c.call is None) for c in CASES.values()}
    assert kinds == {(e, cli) for e in (ConfigError, DataError, StoreError) for cli in (True, False)}
    assert len(CASES) >= 20


# ---------------------------------------------------------------------------------------
# The console script, as a user runs it
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, code, message", [
    (["train", "mnist-base", "--set", "kernel=30", "--set", "padding=valid"], 2,
     "conv1 would output feature maps of size -1 (below 1 pixel) for mnist input 28x28."),
    (["train", "cifar10-base", "--set", "epochs=1", "--data-dir", "{tiny}/mnist.npz"], 3,
     "x_train has shape (200, 28, 28), expected (N, 32, 32, 3) for cifar10. Is this the right file"),
])
def test_console_script_prints_one_line_and_no_traceback(tiny_dir, tmp_path, args, code, message):
    exe = shutil.which("hwlib") or str(Path(sys.executable).with_name("hwlib"))
    env = tiny_command_env(tiny_dir, HWLIB_STORE=str(tmp_path / "store"))
    args = [a.format(tiny=tiny_dir) for a in args]
    proc = subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith("hwlib: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "store").exists()


# ---------------------------------------------------------------------------------------
# Notebook parameters (papermill): stop at the settings cell, naming the parameter
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({"epochs": "ten"}, "epochs must be a whole number >= 1, or None for the profile's value; got 'ten'."),
    ({"profile": "huge"}, "profile must be one of 'auto', 'full', 'quick', got 'huge'."),
    ({"train": "yes"}, "train must be True or False, got 'yes'."),
    ({"seed": 2**40}, "seed must be at most 4294967295 (2**32 - 1), got 1099511627776."),
], ids=["epochs-str", "profile-huge", "train-str", "seed-too-large"])
def test_bad_notebook_parameter_stops_at_the_settings_cell(params, message, tiny_env, tiny_dir, tmp_path):
    import nbformat
    import papermill as pm

    source = BOOK / "mnist.ipynb"
    out = tmp_path / "out.ipynb"
    store = tmp_path / "nb-store"
    with pytest.raises(pm.PapermillExecutionError) as caught:
        pm.execute_notebook(str(source), str(out), kernel_name="python3", progress_bar=False, cwd=str(BOOK),
                            parameters={**params, "store": str(store), "data_dir": str(tiny_dir)})
    exc = caught.value
    assert exc.ename == "ConfigError" and exc.evalue == message
    assert exc.traceback == [f"ConfigError: {message}"]  # one paragraph in the notebook, too

    nb = nbformat.read(out, as_version=4)
    settings_cell = next(i for i, c in enumerate(nb.cells) if "Settings.from_params(" in c.source)
    assert "Settings.from_params(" in exc.source  # the cell that failed is the settings cell
    assert nb.cells[settings_cell].execution_count == exc.exec_count
    assert nb.cells[settings_cell].outputs[-1].ename == "ConfigError"
    later = [c for c in nb.cells[settings_cell + 1:] if c.cell_type == "code"]
    assert later and all(c.execution_count is None and not c.outputs for c in later)
    assert not store.exists() and not tiny_env.exists()


# ---------------------------------------------------------------------------------------
# Property: validation of dense sizes and L2 layers agrees with the model Keras builds
# ---------------------------------------------------------------------------------------
LAYER_NAMES = ["conv1", "conv2", "fc1", "fc2", "fc3", "output", "pool1", "flatten", "Conv1", ""]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dense=st.lists(st.integers(-1, 6), max_size=3),
       l2_layers=st.lists(st.sampled_from(LAYER_NAMES), max_size=3),
       l2=st.sampled_from([0.0, 0.01]), n_convs=st.integers(1, 2))
def test_dense_and_l2_validation_agrees_with_keras(dense, l2_layers, l2, n_convs):
    from hwlib.models import build

    spec = ModelSpec(convs=(ConvLayer(2, 3, 1, "same", pool=True),) * n_convs, dense=tuple(dense),
                     l2=l2, l2_layers=tuple(l2_layers))
    try:
        validate(Experiment("prop", "mnist", spec))
        valid = True
    except ConfigError as exc:
        assert_one_paragraph(str(exc))
        valid = False
    try:
        model = build(spec, (28, 28, 1))
    except ValueError:
        model = None
    weighted = {layer.name for layer in model.layers if layer.weights} if model is not None else set()
    expected = model is not None and set(l2_layers) <= weighted and not (l2_layers and l2 == 0)
    assert valid == expected
    if valid:
        assert len(model.losses) == len(set(l2_layers))  # one L2 term per named layer
