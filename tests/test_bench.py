"""benchmarks/bench.py runs end to end on tiny data and writes the JSON it promises.

Speed is measured by the benchmark, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_command_env

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


@pytest.mark.slow
def test_bench_smoke_run_writes_results(tiny_dir, tmp_path):
    out = tmp_path / "results.json"
    env = tiny_command_env(tiny_dir, HWLIB_STORE=str(tmp_path / "store"))
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--n-train", "150", "--n-test", "50", "--epochs", "1", "--datasets", "mnist",
         "--pairs", "2", "--study-datasets", "mnist", "--study-pairs", "2", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert {"machine", "settings", "throughput_pairs", "study", "parts"} <= set(r)
    assert r["machine"]["cores"] >= 1 and r["machine"]["cpu"] and r["machine"]["tensorflow"]
    (epochs,) = r["throughput_pairs"]  # plain/hwlib, then hwlib/plain: the order alternates
    assert epochs["dataset"] == "mnist" and len(epochs["pairs"]) == 2 and epochs["median"] > 0
    assert all(p["plain_images_per_s"] > 0 and p["hwlib_images_per_s"] > 0 for p in epochs["pairs"])
    assert [p["part"] for p in r["parts"] if p["part"].startswith(("plain-", "hwlib-"))] == [
        "plain-mnist-1", "hwlib-mnist-1", "hwlib-mnist-2", "plain-mnist-2"]
    assert all(len(p["result"]["epoch_seconds"]) == 2 for p in r["parts"] if "result" in p and "-mnist-" in p["part"]
               and not p["part"].startswith("study"))
    (study,) = r["study"]
    assert study["dataset"] == "mnist" and study["runs"] == 7 and len(study["pairs"]) == 2
    assert [p["part"] for p in r["parts"] if p["part"].startswith("study-")] == [
        "study-mnist-hwlib-1", "study-mnist-plain-1", "study-mnist-plain-2", "study-mnist-hwlib-2"]
    assert study["median"] > 0 and study["min"] <= study["median"] <= study["max"]
    assert all(p["exit_code"] == 0 and p["peak_rss_mb"] > 0 for p in r["parts"])
    assert "per epoch, mnist base net (2 pairs)" in proc.stdout and "study: mnist sweep, 7 runs" in proc.stdout
    assert not (tmp_path / "store").exists()  # the sweep trains into its own temporary store


@pytest.mark.slow
def test_baseline_times_the_study_against_an_earlier_commit(tiny_dir, tmp_path):
    out = tmp_path / "results.json"
    env = tiny_command_env(tiny_dir, HWLIB_STORE=str(tmp_path / "store"))
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--n-train", "150", "--n-test", "50", "--datasets", "", "--study-datasets",
         "mnist", "--study-pairs", "1", "--baseline", "HEAD", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["settings"]["study_against"] == "hwlib at HEAD" and len(r["study"][0]["pairs"]) == 1
    assert "Preparing worktree (detached HEAD" in proc.stderr  # the baseline side runs from its own worktree
    assert [p["part"] for p in r["parts"]] == ["study-mnist-hwlib-1", "study-mnist-plain-1"]
    assert "study: hwlib at HEAD" in proc.stdout
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=BENCH.parents[1], capture_output=True, text=True)
    assert "hwlib-bench-baseline-" not in worktrees.stdout  # removed at the end


def test_pair_ratios_are_plain_over_hwlib():
    sys.path.insert(0, str(BENCH.parent))
    import bench

    r = bench.pair_ratios([(10.0, 20.0), (10.0, 30.0), (20.0, 20.0)])
    assert r == {"ratios": [2.0, 3.0, 1.0], "median": 2.0, "min": 1.0, "max": 3.0}
    assert bench.pair_ratios([])["median"] is None


def test_show_prints_the_committed_results():
    """`bench.py --show` prints the ratios of benchmarks/results.json, measuring nothing."""
    proc = subprocess.run([sys.executable, str(BENCH), "--show"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((BENCH.parent / "results.json").read_text())
    assert f"machine: {results['machine']['cores']} cores, {results['machine']['cpu']}" in proc.stdout
    for st in results["study"]:
        assert f"study: {st['dataset']} sweep, {st['runs']} runs" in proc.stdout and f"x{st['median']:.2f}" in proc.stdout
