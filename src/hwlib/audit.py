"""Audit the run store: retrain stored runs and check they come out bit-identical.

A reviewer's question is "did this code really produce these numbers?". :func:`audit_one`
answers it for one run: each is trained again from its stored config (same data,
same engine, same thread configuration) into a temporary store and compared with the
committed entry — history, final metrics and weights — to the bit. Each run is

- **identical**: history, metrics and weights (if stored) are the same bytes/values;
- **differs**: something differs; the first epoch whose history differs is named;
- **different machine**: it differs, but the run was trained on another CPU (or core
  count) than this one, where bit-identity is not promised (kernels differ by CPU);
- **other code version**: trained by another training-code version; not retrained.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwlib.config import Experiment
from hwlib.errors import StoreError
from hwlib.store import RunStore

STATUSES = ("identical", "differs", "different machine", "other code version")


@dataclass(frozen=True)
class Audit:
    key: str
    name: str
    status: str
    detail: str = ""
    seconds: float = 0.0


def quickest(store: RunStore, n: int) -> list[str]:
    """The keys of the ``n`` stored runs of this code version that trained fastest."""
    from hwlib.train import TRAIN_CODE_VERSION

    timed = []
    for key in store.keys():
        entry = store.get(key)
        if entry is None or str(entry.config.get("train_code_version")) != TRAIN_CODE_VERSION:
            continue
        timed.append((float(entry.provenance.get("wall_seconds", float("inf"))), key))
    return [key for _, key in sorted(timed)[:n]]


def _engine(config: dict[str, Any], provenance: dict[str, Any]) -> Any:
    from hwlib.train import Engine

    runtime = config.get("runtime") or {}
    spe = (provenance.get("engine") or {}).get("steps_per_execution", 1)
    return Engine(steps_per_execution=spe, eval_batch_size=runtime["eval_batch_size"],
                  pipeline=runtime["pipeline"], jit_compile=runtime["jit_compile"])


def _same_machine(provenance: dict[str, Any]) -> bool:
    from hwlib.train import cpu_model

    return provenance.get("cpu") == cpu_model() and provenance.get("cpu_count") == os.cpu_count()


def first_difference(a: Any, b: Any) -> str:
    """Where two histories part: 'epoch N (test_loss)' or a length difference."""
    if len(a) != len(b) or list(a.columns) != list(b.columns):
        return f"{len(a)} vs {len(b)} epochs"
    for i in range(len(a)):
        cols = [c for c in a.columns if a.iloc[i][c] != b.iloc[i][c]]
        if cols:
            return f"epoch {int(a.iloc[i]['epoch'])} ({', '.join(cols)})"
    return ""


def _weights_equal(a: Any, b: Any) -> bool:
    import numpy as np

    wa, wb = a.load_model().get_weights(), b.load_model().get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


def audit_one(store: RunStore, key: str, data_dir: str | os.PathLike | None = None,
              log: Callable[[str], None] | None = None) -> Audit:
    """Retrain the stored run ``key`` into a temporary store and compare (see the module)."""
    from hwlib.train import TRAIN_CODE_VERSION, Run, run

    entry = store.get(key)
    if entry is None:
        raise StoreError(f"There is no run {key} in the store {store.root} (see `ls {store.runs}`).")
    config, provenance = entry.config, entry.provenance
    name = config.get("name", "?")
    if str(config.get("train_code_version")) != TRAIN_CODE_VERSION:
        return Audit(key, name, "other code version",
                     f"trained by version {config.get('train_code_version')}, this code is {TRAIN_CODE_VERSION}")
    exp = Experiment.from_dict(config["experiment"])
    stored = Run(exp, key, entry)
    with tempfile.TemporaryDirectory(prefix="hwlib-audit-") as tmp:
        again = run(exp, tmp, weights=entry.weights_path is not None, data_dir=data_dir,
                    engine=_engine(config, provenance), log=log)
        if again.key != key:
            return Audit(key, name, "differs", f"the config now gives the key {again.key} (data or code changed)")
        where = first_difference(stored.history, again.history)
        metrics_same = json.dumps(stored.metrics, sort_keys=True) == json.dumps(again.metrics, sort_keys=True)
        weights_same = entry.weights_path is None or _weights_equal(stored, again)
        seconds = float(again.provenance.get("wall_seconds", 0.0))
    if not where and metrics_same and weights_same:
        return Audit(key, name, "identical", "history, metrics" + (", weights" if entry.weights_path else ""),
                     seconds)
    detail = where or ("metrics differ" if not metrics_same else "weights differ")
    status = "differs" if _same_machine(provenance) else "different machine"
    if status == "different machine":
        detail += f" (trained on {provenance.get('cpu')}, {provenance.get('cpu_count')} cores)"
    return Audit(key, name, status, detail, seconds)

