"""Every change to the code that trains must be a conscious decision about the stored runs.

``TRAIN_CODE_VERSION`` is part of every run key. This test records a hash of the source of
every function that decides trained weights (:data:`WEIGHT_CODE`) in
``tests/code_version.json``, with the version they belong to, and fails when one changes
while the version does not. Then either bump ``hwlib.train.TRAIN_CODE_VERSION`` (every run
is retrained) or, when the weights provably stay the same (a comment, a rename, a faster
path tested bit-identical), re-record::

    python tests/test_code_version.py --record
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from pathlib import Path

RECORD = Path(__file__).with_name("code_version.json")
# module: names (functions, classes, constants) whose source decides the trained weights.
WEIGHT_CODE = {
    "hwlib.train": ("fit", "training_batches", "compile_model", "load_data", "DEFAULT_ENGINE"),
    "hwlib.runtime": ("THREADS", "configure", "seed_everything", "private_seed_draws", "_SeedDraws",
                      "keras_seed_module"),
    "hwlib.models": ("build", "build_experiment"),
    "hwlib.data": ("load", "Dataset", "_stratified", "_read_checked", "_validate"),
}


def fingerprints() -> dict[str, str]:
    import importlib

    out = {}
    for module_name, names in WEIGHT_CODE.items():
        module = importlib.import_module(module_name)
        for name in names:
            obj = getattr(module, name)
            text = inspect.getsource(obj) if (inspect.isfunction(obj) or inspect.isclass(obj)) else repr(obj)
            out[f"{module_name}.{name}"] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


def record() -> None:
    from hwlib.train import TRAIN_CODE_VERSION

    RECORD.write_text(json.dumps({"train_code_version": TRAIN_CODE_VERSION, "sources": fingerprints()},
                                 indent=1, sort_keys=True) + "\n")


def test_weight_code_changes_come_with_a_version_decision():
    from hwlib.train import TRAIN_CODE_VERSION

    recorded = json.loads(RECORD.read_text())
    now = fingerprints()
    changed = sorted(name for name in set(now) | set(recorded["sources"])
                     if now.get(name) != recorded["sources"].get(name))
    if recorded["train_code_version"] != TRAIN_CODE_VERSION:
        raise AssertionError(
            f"TRAIN_CODE_VERSION is {TRAIN_CODE_VERSION!r} but tests/code_version.json was recorded for "
            f"{recorded['train_code_version']!r}: re-record it (python tests/test_code_version.py --record).")
    assert not changed, (
        f"Code that decides trained weights changed while TRAIN_CODE_VERSION stayed "
        f"{TRAIN_CODE_VERSION!r}: {', '.join(changed)}. Bump hwlib.train.TRAIN_CODE_VERSION (stored runs "
        "are retrained), or, if the weights provably stay the same, re-record: "
        "python tests/test_code_version.py --record")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/test_code_version.py --record")
    record()
    print(f"recorded {RECORD}")
