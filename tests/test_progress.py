"""Estimated and remaining times of a study."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hwlib import experiments as E
from hwlib import progress


def entry(name: str, dataset: str, batch: int, epoch_seconds: list[float], n_train: int):
    return SimpleNamespace(config={"name": name, "experiment": {"dataset": dataset, "train": {"batch_size": batch}}},
                           provenance={"epoch_seconds": epoch_seconds}, metrics={"n_train": n_train})


def test_estimates_come_from_the_same_experiment_then_the_dataset_then_a_constant():
    rates = progress.stored_rates([entry("mnist-base", "mnist", 32, [10.0, 12.0, 11.0], 60000),
                                   entry("mnist-l2", "mnist", 32, [20.0], 60000)])
    base = E.get("mnist-base")
    assert progress.estimate_seconds(base, rates) == 11.0 * 10  # median epoch x 10 epochs
    sweep = E.get("mnist-k3s3-same").with_overrides({"n_train": 30000})
    assert progress.estimate_seconds(sweep, rates) == pytest.approx(15.5 / 2 * 10)  # the dataset's median, half the images
    cifar = E.get("cifar10-base")
    assert progress.estimate_seconds(cifar, rates) == progress.FALLBACK_SECONDS_PER_10K["cifar10"] * 5 * 15


def test_progress_lines_count_runs_and_give_tqdm_s_time_left():
    estimates = [600.0, 600.0, 1200.0, 600.0]
    done: list[float] = []
    lines = []
    for i, (what, elapsed) in enumerate(zip("abcd", [600.0, 600.0, 1800.0, 3000.0])):
        done.append(estimates[i])
        lines.append(progress.line(done, estimates, elapsed, what))
    assert [line.split("] ", 1)[1].split(";")[0] for line in lines] == [
        f"{n}/4 runs trained ({w})" for n, w in zip(range(1, 5), "abcd")]
    # time left at the estimated seconds done per second so far: 1, then 2 (two workers), then 4/3
    assert [f"about {progress.duration(s)} left" in line for s, line in zip([2400, 900, 450], lines)] == [True] * 3
    assert lines[0].startswith("[" + "#" * 4 + "." * 20 + "]") and lines[-1].startswith("[" + "#" * 24 + "]")
    assert "left" not in lines[-1] and f"{progress.duration(3000)} so far" in lines[-1]


def test_equal_estimates_go_by_the_network_s_cost():
    """In an empty store every run of a dataset gets the same estimate: the networks' multiply-
    adds then order them, as the stored epoch times of the sweeps do."""
    from hwlib.executor import Task, schedule

    sweep = E.sweep("cifar10")  # k3s1, k3s2, k5s2, k5s1
    k3s1, k3s2, k5s2, k5s1 = (progress.training_cost(e) for e in sweep)
    assert k5s1 > k3s1 > k5s2 > k3s2
    tasks = [Task(e) for e in sweep]
    assert [sweep[i].name for i in schedule(tasks, [100.0] * 4)] == [
        "cifar10-k5s1-same", "cifar10-k3s1-same", "cifar10-k5s2-same", "cifar10-k3s2-same"]
    assert schedule(tasks, [100.0, 100.0, 100.0, 200.0])[0] == 3  # estimates first
    assert schedule([Task(sweep[0].with_overrides({"seed": s})) for s in (0, 1)], [1.0, 1.0]) == [0, 1]  # as listed
    base = E.get("mnist-base")  # 5x5 'same' conv on 28x28x1: 28*28*25*1*filters multiply-adds per image at least
    assert progress.training_cost(base) > 28 * 28 * 25 * base.model.convs[0].filters
