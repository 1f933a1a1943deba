"""How long a study will take, and how far it has come.

:func:`estimate_seconds` guesses the training time of one run from the epoch timings stored
with earlier runs (the same experiment first, then any run of its dataset, then a rough
constant), scaled to the run's epochs and training images. :func:`longest_first` is the order a
pool of workers takes the runs in, :func:`makespan` the time the pool then needs.
:class:`Progress` logs one line per finished run, drawn by tqdm: a bar of the estimated work
done, the runs done, the time spent and the time left.
"""

from __future__ import annotations

import heapq
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

# Seconds per epoch per 10,000 training images, when the store has no run to learn from.
FALLBACK_SECONDS_PER_10K = {"mnist": 1.6, "cifar10": 5.0}


def _n_train(exp: Any) -> int:
    from hwlib.data import EXPECTED

    return exp.train.n_train or EXPECTED[exp.dataset]["train"]


def _rate(provenance: dict[str, Any], metrics: dict[str, Any]) -> float | None:
    """Seconds per epoch per 10,000 training images of one stored run."""
    seconds = provenance.get("epoch_seconds") or []
    n = metrics.get("n_train")
    if not seconds or not n:
        return None
    return statistics.median(seconds) / n * 10000


def stored_rates(entries: Iterable[Any]) -> dict[tuple[str, str], list[float]]:
    """``{(dataset, "name@batch"): [rate, ...]}`` from stored entries (see :func:`_rate`), also
    under ``(dataset, "@batch")`` for every run of the dataset."""
    rates: dict[tuple[str, str], list[float]] = {}
    for entry in entries:
        try:
            config, prov, metrics = entry.config, entry.provenance, entry.metrics
        except (OSError, ValueError):
            continue
        rate = _rate(prov, metrics)
        if rate is None:
            continue
        exp = config.get("experiment", {})
        batch = exp.get("train", {}).get("batch_size")
        for name in (config.get("name", ""), ""):
            rates.setdefault((exp.get("dataset", ""), f"{name}@{batch}"), []).append(rate)
    return rates


def estimate_seconds(exp: Any, rates: dict[tuple[str, str], list[float]]) -> float:
    """Estimated training seconds of experiment ``exp`` (epochs x images x stored rate)."""
    t = exp.train
    n = _n_train(exp)
    for name in (exp.name, ""):
        found = rates.get((exp.dataset, f"{name}@{t.batch_size}"))
        if found:
            return statistics.median(found) * n / 10000 * t.epochs
    return FALLBACK_SECONDS_PER_10K[exp.dataset] * n / 10000 * t.epochs


def longest_first(estimates: Sequence[float], tiers: Sequence[int] | None = None,
                  costs: Sequence[float] | None = None) -> list[int]:
    """The runs' indices in the order workers should take them: lower ``tiers`` first (a
    study's own priorities; default: one tier), within a tier the longest estimate first, equal
    estimates by ``costs`` (largest first, :func:`training_cost`), then in listed order.
    Longest-processing-time-first ends within 4/3 of the shortest possible time on any number of
    workers (Graham, 1969)."""
    tier = list(tiers) if tiers is not None else [0] * len(estimates)
    cost = list(costs) if costs is not None else [0.0] * len(estimates)
    return sorted(range(len(estimates)), key=lambda i: (tier[i], -estimates[i], -cost[i], i))


def multiply_adds(exp: Any) -> int:
    """Multiply-adds of one forward pass of ``exp``'s network on one image (convolutions and
    dense layers), from its config alone."""
    from hwlib.config import DATASET_SHAPES, shape_walk

    shape = DATASET_SHAPES[exp.dataset]
    size, channels, total = shape[0], shape[2], 0
    convs = iter(exp.model.convs)
    for step in shape_walk(exp.model, shape):
        if step.kind == "conv":
            total += step.output_size ** 2 * next(convs).kernel ** 2 * channels * step.channels
        size, channels = step.output_size, step.channels
    width = size * size * channels
    for units in (*exp.model.dense, exp.model.n_classes):
        total, width = total + width * units, units
    return total


def training_cost(exp: Any) -> float:
    """Multiply-adds per image x training images x epochs: what orders runs by cost when the
    store holds no timings to tell them apart."""
    return float(multiply_adds(exp)) * _n_train(exp) * exp.train.epochs


def makespan(estimates: Sequence[float], workers: int, order: Sequence[int] | None = None) -> float:
    """Seconds until the last run ends when ``workers`` processes take the runs in ``order``
    (default :func:`longest_first`), each free worker the next run."""
    if not estimates:
        return 0.0
    ends = [0.0] * max(1, min(workers, len(estimates)))
    for i in longest_first(estimates) if order is None else order:
        heapq.heappush(ends, heapq.heappop(ends) + estimates[i])
    return max(ends)


def duration(seconds: float) -> str:
    """``"1:05:00"``, ``"12:00"``, ``"00:40"`` (tqdm's format)."""
    return tqdm.format_interval(max(0, round(seconds)))


@dataclass
class Progress:
    """Progress of ``len(estimates)`` runs trained on ``workers`` processes."""

    estimates: Sequence[float]
    workers: int
    log: Callable[[str], None] | None
    order: Sequence[int] | None = None  # the order the workers take the runs in (makespan)
    start: float = field(default_factory=time.monotonic)
    done_estimated: float = 0.0
    done: int = 0

    def total_estimate(self) -> float:
        """Estimated seconds for all the runs (see :func:`makespan`)."""
        return makespan(self.estimates, self.workers, self.order)

    def rate(self, elapsed: float) -> float:
        """Estimated seconds of training done per second: as estimated (one per busy worker)
        until every worker has finished a run, then as measured, for the workers still busy."""
        n = len(self.estimates)
        lanes = max(1, min(self.workers, n))
        rate = self.done_estimated / elapsed if self.done >= lanes and elapsed > 0 else float(lanes)
        return rate * max(1, min(lanes, n - self.done)) / lanes

    def finished(self, index: int, what: str) -> None:
        """Report that run ``index`` (described by ``what``) has finished."""
        self.done += 1
        self.done_estimated += self.estimates[index]
        if self.log is None:
            return
        elapsed = time.monotonic() - self.start
        n = len(self.estimates)
        tail = "about {remaining} left" if self.done < n else "done"
        self.log(tqdm.format_meter(self.done_estimated, sum(self.estimates), elapsed, rate=self.rate(elapsed),
                                   prefix=f"{self.done}/{n} runs trained ({what})", ascii=".#",
                                   bar_format="[{bar:24}] {desc}; {elapsed} so far, " + tail))
