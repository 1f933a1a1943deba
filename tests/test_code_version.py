"""Every change to the code that trains must be a conscious decision about the stored runs.

``TRAIN_CODE_VERSION`` is part of every run key. This test records a fingerprint of every
function, class and constant that decides trained weights (:data:`WEIGHT_CODE`) in
``tests/code_version.json``, with the version they belong to, and fails when one changes while
the version does not. A function's or class's fingerprint hashes its syntax tree without
docstrings (comments and formatting are not in the tree), so only a change to the code itself
counts; a constant's hashes its ``repr``. When one changes, either bump
``hwlib.train.TRAIN_CODE_VERSION`` (every run is retrained) or, when the weights provably stay
the same (a rename, a faster path tested bit-identical), re-record::

    python tests/test_code_version.py --record
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import sys
import textwrap
from pathlib import Path

RECORD = Path(__file__).with_name("code_version.json")
# module: names (functions, classes, constants) that decide the trained weights.
WEIGHT_CODE = {
    "hwlib.train": ("fit", "training_batches", "compile_model", "load_data", "DEFAULT_ENGINE"),
    "hwlib.runtime": ("THREADS", "configure", "seed_everything", "private_seed_draws", "_SeedDraws",
                      "keras_seed_module"),
    "hwlib.models": ("build", "build_experiment"),
    "hwlib.data": ("load", "Dataset", "_stratified", "_read_checked", "_validate"),
}


def source_fingerprint(source: str) -> str:
    """A hash of the syntax tree of ``source`` without its docstrings."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def fingerprints() -> dict[str, str]:
    import importlib

    out = {}
    for module_name, names in WEIGHT_CODE.items():
        module = importlib.import_module(module_name)
        for name in names:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                out[f"{module_name}.{name}"] = source_fingerprint(inspect.getsource(obj))
            else:
                out[f"{module_name}.{name}"] = hashlib.sha256(repr(obj).encode()).hexdigest()[:16]
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


BODY = '''
    @functools.cache
    def scaled(x, factor=2):
        """Scale x."""
        class Inner:
            """An inner class."""
            n = 1
        # a comment
        return x * factor
'''


def test_the_fingerprint_follows_the_code_not_its_docstrings_or_comments():
    base = source_fingerprint(BODY)
    same = [BODY.replace('"""Scale x."""', '"""Multiply x by a factor (a docstring edit)."""'),
            BODY.replace('"""An inner class."""', '"""Reworded."""'),
            BODY.replace("# a comment", "# another comment").replace("return x", "return  x")]
    assert [source_fingerprint(s) for s in same] == [base] * len(same)
    changed = [BODY.replace("x * factor", "x * factor + 1"), BODY.replace("factor=2", "factor=3"),
               BODY.replace("    @functools.cache\n", ""), BODY.replace("n = 1", "n = 2"),
               BODY.replace('"""Scale x."""', '"""Scale x."""\n        x = float(x)')]
    assert len({base, *(source_fingerprint(s) for s in changed)}) == 1 + len(changed)


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/test_code_version.py --record")
    record()
    print(f"recorded {RECORD}")
