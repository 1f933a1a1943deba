"""Retrain stored runs into a temporary store and check they come out bit-identical: each is identical, differs,
different machine (trained on another CPU or core count: bit-identity is not promised) or other code version."""

from __future__ import annotations

import json
import os
import tempfile
from collections import namedtuple
from collections.abc import Callable

from hwlib import train
from hwlib.config import Experiment
from hwlib.errors import StoreError
from hwlib.store import RunStore

STATUSES = ("identical", "differs", "different machine", "other code version")
Audit = namedtuple("Audit", "key name status detail seconds", defaults=("", 0.0))


def quickest(store: RunStore, n: int) -> list[str]:
    """The keys of the ``n`` stored runs of this code version that trained fastest."""
    timed = []
    for key in store.keys():
        entry = store.get(key)
        if entry is not None and str(entry.config.get("train_code_version")) == train.TRAIN_CODE_VERSION:
            timed.append((float(entry.provenance.get("wall_seconds", float("inf"))), key))
    return [key for _, key in sorted(timed)[:n]]


def difference(a: train.Run, b: train.Run) -> str:
    """What differs between two runs of one key: the first epoch whose history differs (and its
    columns), the number of epochs, the metrics or the weights; ``""`` if nothing."""
    import numpy as np

    ha, hb = a.history, b.history
    if len(ha) != len(hb) or list(ha.columns) != list(hb.columns):
        return f"{len(ha)} vs {len(hb)} epochs"
    for i, row in ha.ne(hb).iterrows():
        if row.any():
            return f"epoch {int(ha['epoch'][i])} ({', '.join(ha.columns[row.to_numpy()])})"
    if json.dumps(a.metrics, sort_keys=True) != json.dumps(b.metrics, sort_keys=True):
        return "metrics differ"
    if a.entry.weights_path is None:
        return ""
    wa, wb = a.load_model().get_weights(), b.load_model().get_weights()
    return "" if len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb)) else "weights differ"


def audit_one(store: RunStore, key: str, data_dir: str | os.PathLike | None = None,
              log: Callable[[str], None] | None = None) -> Audit:
    """Retrain the stored run ``key`` into a temporary store and compare it with the stored entry."""
    entry = store.get(key)
    if entry is None:
        raise StoreError(f"There is no run {key} in the store {store.root} (see `ls {store.runs}`).")
    config, provenance = entry.config, entry.provenance
    name, version = config.get("name", "?"), config.get("train_code_version")
    if str(version) != train.TRAIN_CODE_VERSION:
        return Audit(key, name, "other code version",
                     f"trained by version {version}, this code is {train.TRAIN_CODE_VERSION}")
    exp = Experiment.from_dict(config["experiment"])
    steps = (provenance.get("engine") or {}).get("steps_per_execution", 1)
    engine = train.Engine(steps_per_execution=steps, **{k: v for k, v in config["runtime"].items() if k != "threads"})
    with tempfile.TemporaryDirectory(prefix="hwlib-audit-") as tmp:
        again = train.run(exp, tmp, weights=entry.weights_path is not None, data_dir=data_dir, engine=engine, log=log)
        if again.key != key:
            return Audit(key, name, "differs", f"the config now gives the key {again.key} (data or code changed)")
        detail = difference(train.Run(exp, key, entry), again)
        seconds = float(again.provenance.get("wall_seconds", 0.0))
    if not detail:
        return Audit(key, name, "identical", "history, metrics" + (", weights" if entry.weights_path else ""), seconds)
    if provenance.get("cpu") == train.cpu_model() and provenance.get("cpu_count") == os.cpu_count():
        return Audit(key, name, "differs", detail, seconds)
    detail += f" (trained on {provenance.get('cpu')}, {provenance.get('cpu_count')} cores)"
    return Audit(key, name, "different machine", detail, seconds)
