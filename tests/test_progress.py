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


def test_progress_lines_count_runs_and_rescale_the_time_left(monkeypatch):
    lines: list[str] = []
    times = [600.0, 600.0, 1800.0, 2400.0]
    clock = iter(times)
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    p = progress.Progress([600.0] * 4, workers=2, log=lines.append, start=0.0)
    assert p.total_estimate() == 1200.0
    left = []
    for i, (what, now) in enumerate(zip("abcd", times)):
        p.finished(i, what)
        left.append((2400.0 - p.done_estimated) / p.rate(now))
    # a: one of two workers done, the other still busy: the estimates stand (1800 s of work on two);
    # b: both done after 10 min, as estimated; c: the third took 20 min more, so the machine runs at
    # half the estimated speed, and the last run has one worker to itself
    assert left == [900.0, 600.0, 1200.0, 0.0]
    assert [line.split("] ", 1)[1].split(";")[0] for line in lines] == [
        f"{n}/4 runs trained ({w})" for n, w in zip(range(1, 5), "abcd")]
    assert all(f"about {progress.duration(s)} left" in line for s, line in zip(left, lines[:3]))
    assert lines[0].startswith("[######......") and lines[-1].startswith("[" + "#" * 24 + "]")
    assert "left" not in lines[-1] and progress.duration(2400) in lines[-1]


def test_runs_go_longest_first_and_the_estimate_is_the_pool_s_makespan():
    estimates = [30.0, 10.0, 10.0, 30.0]  # the CIFAR-10 sweep's order: a slow net first and last
    assert progress.longest_first(estimates) == [0, 3, 1, 2]  # ties keep the listed order
    assert progress.makespan(estimates, workers=2) == 40.0  # in listed order 50 (below): the last slow net trains alone
    assert progress.makespan([5.0, 4.0, 3.0, 3.0, 3.0], workers=2) == 10.0  # 5+3 | 4+3+3
    assert progress.makespan([7.0, 3.0], workers=8) == 7.0  # more workers than runs
    assert progress.makespan([7.0, 3.0], workers=1) == 10.0
    assert progress.makespan([], workers=2) == 0.0
    assert progress.longest_first(estimates, tiers=[1, 0, 0, 1]) == [1, 2, 0, 3]
    assert progress.makespan(estimates, workers=2, order=[0, 1, 2, 3]) == 50.0
    p = progress.Progress([30.0, 10.0, 10.0, 30.0], workers=2, log=None)
    assert p.total_estimate() == 40.0


def test_equal_estimates_go_by_the_network_s_cost():
    """In an empty store every run of a dataset gets the same estimate: the networks' multiply-
    adds then order them, as the stored epoch times of the sweeps do."""
    from hwlib.executor import Task, schedule

    sweep = E.sweep("cifar10")  # k3s1, k3s2, k5s2, k5s1
    k3s1, k3s2, k5s2, k5s1 = (progress.multiply_adds(e) for e in sweep)
    assert k5s1 > k3s1 > k5s2 > k3s2
    tasks = [Task(e) for e in sweep]
    assert [sweep[i].name for i in schedule(tasks, [100.0] * 4)] == [
        "cifar10-k5s1-same", "cifar10-k3s1-same", "cifar10-k5s2-same", "cifar10-k3s2-same"]
    assert progress.longest_first([10.0, 10.0, 20.0], costs=[1.0, 3.0, 0.0]) == [2, 1, 0]  # estimates first
    base = E.get("mnist-base")  # 5x5 'same' conv on 28x28x1: 28*28*25*1*filters multiply-adds at least
    assert progress.multiply_adds(base) > 28 * 28 * 25 * base.model.convs[0].filters
    assert progress.training_cost(base.with_overrides({"epochs": 2})) == 2 / base.train.epochs * \
        progress.training_cost(base)
