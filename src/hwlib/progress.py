"""How long a run will take (from stored epoch timings), what it costs, and tqdm's progress line."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from tqdm import tqdm

from hwlib.config import DATASET_SHAPES, shape_walk
from hwlib.data import EXPECTED

FALLBACK_SECONDS_PER_10K = {"mnist": 1.6, "cifar10": 5.0}  # per epoch, when no run is stored


def stored_rates(entries: Iterable[Any]) -> dict[tuple[str, str], list[float]]:
    """Stored runs' seconds per epoch per 10,000 images, by ``(dataset, "name@batch")`` and ``(dataset, "@batch")``."""
    rates: dict[tuple[str, str], list[float]] = {}
    for entry in entries:
        config, seconds, n = entry.config, entry.provenance.get("epoch_seconds"), entry.metrics.get("n_train")
        if not (seconds and n):
            continue
        exp = config.get("experiment", {})
        for name in (config.get("name", ""), ""):
            key = (exp.get("dataset", ""), f"{name}@{exp.get('train', {}).get('batch_size')}")
            rates.setdefault(key, []).append(statistics.median(seconds) / n * 10000)
    return rates


def estimate_seconds(exp: Any, rates: dict[tuple[str, str], list[float]]) -> float:
    """Training seconds of ``exp`` at the stored rate of its experiment, else of its dataset, else the fallback."""
    batch = exp.train.batch_size
    found = rates.get((exp.dataset, f"{exp.name}@{batch}")) or rates.get((exp.dataset, f"@{batch}"))
    rate = statistics.median(found) if found else FALLBACK_SECONDS_PER_10K[exp.dataset]
    return rate * (exp.train.n_train or EXPECTED[exp.dataset]["train"]) / 10000 * exp.train.epochs


def training_cost(exp: Any) -> float:
    """Multiply-adds of a forward pass of ``exp``'s network on one image."""
    size, _, channels = shape = DATASET_SHAPES[exp.dataset]
    total, kernels = 0, iter(conv.kernel for conv in exp.model.convs)
    for step in shape_walk(exp.model, shape):
        if step.kind == "conv":
            total += step.output_size ** 2 * next(kernels) ** 2 * channels * step.channels
        size, channels = step.output_size, step.channels
    widths = [size * size * channels, *exp.model.dense, exp.model.n_classes]
    return float(total + sum(a * b for a, b in zip(widths, widths[1:])))


def duration(seconds: float) -> str:
    """``"1:05:00"``, ``"12:00"``, ``"00:40"`` (tqdm's format)."""
    return tqdm.format_interval(max(0, round(seconds)))


def line(done: Sequence[float], estimates: Sequence[float], elapsed: float, what: str) -> str:
    """tqdm's line once the runs estimated ``done`` of all ``estimates`` (the last one ``what``) have
    trained in ``elapsed`` seconds: the estimated seconds done, and the time left at that rate."""
    runs = f"{len(done)}/{len(estimates)} runs trained ({what})"
    tail = "about {remaining} left" if len(done) < len(estimates) else "done"
    return tqdm.format_meter(sum(done), sum(estimates), elapsed, prefix=runs, ascii=".#",
                             bar_format="[{bar:24}] {desc}; {elapsed} so far, " + tail)
