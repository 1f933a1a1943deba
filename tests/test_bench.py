"""benchmarks/bench.py runs end to end on tiny data and writes the JSON it promises.

Speed is measured by the benchmark, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwlib.train import DEFAULT_ENGINE

from conftest import tiny_command_env

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


@pytest.mark.slow
def test_bench_smoke_run_writes_results(tiny_dir, tmp_path):
    out = tmp_path / "results.json"
    env = tiny_command_env(tiny_dir, HWLIB_STORE=str(tmp_path / "store"))
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--n-train", "150", "--n-test", "50", "--epochs", "1",
         "--datasets", "mnist", "--sweep-n-train", "100", "--determinism-n-train", "100",
         "--study-datasets", "mnist", "--study-pairs", "2", "--pairs", "2", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Throughput: hwlib vs plain Keras" in proc.stdout and "RSS after each run" in proc.stdout

    r = json.loads(out.read_text())
    assert {"machine", "settings", "throughput", "levers", "equivalence", "sweep_rss", "parts"} <= set(r)
    assert r["machine"]["cores"] >= 1 and r["machine"]["cpu"] and r["machine"]["tensorflow"]
    assert [t["config"] for t in r["throughput"]] == ["plain", "hwlib"]
    pairs = r["throughput_pairs"][0]  # plain/hwlib, then hwlib/plain: the order alternates
    assert len(pairs["pairs"]) == 2 and pairs["median"] > 0
    assert [p["part"] for p in r["parts"] if p["part"].startswith(("plain-", "hwlib-"))] == [
        "plain-mnist-1", "hwlib-mnist-1", "hwlib-mnist-2", "plain-mnist-2"]
    for row in r["throughput"] + r["levers"]:
        assert row["images_per_s"] > 0 and row["ratio_vs_plain"] > 0 and len(row["epoch_seconds"]) == 2
    levers = {row["lever"] for row in r["levers"]}
    assert {"op determinism", "steps_per_execution", "pipeline", "eval_batch_size", "threads"} <= levers
    spe = {row["setting"]: row for row in r["levers"] if row["lever"] == "steps_per_execution"}
    assert spe["50"]["train_history_identical"]  # a speed setting, not a result
    sbs = r["side_by_side"]  # the engine levers again, two processes training the same variants at once
    other_spe = "50" if DEFAULT_ENGINE.steps_per_execution != 50 else "200"  # a setting the default has not
    assert [row["setting"] for row in sbs] == ["DEFAULT_ENGINE", other_spe, "32"]
    assert all(len(row["images_per_s"]) == len(row["ratio_vs_default"]) == len(row["default_drift"]) == 2
               and all(x > 0 for x in row["ratio_vs_default"]) for row in sbs)
    for drift, ratio in zip(sbs[0]["default_drift"], sbs[0]["ratio_vs_default"]):  # first of the default's two
        assert ratio == pytest.approx(2 / (1 + drift), abs=1e-3)
    assert sbs[1]["history_identical"]  # steps_per_execution: the same history under contention too
    assert [p["part"] for p in r["parts"] if p["part"].startswith("side-by-side-")] == [
        "side-by-side-mnist-1", "side-by-side-mnist-2"]
    det = r["equivalence"]["default_engine_mnist"]
    assert det["identical_in_process"] is True
    assert len(r["sweep_rss"]["series"]) == 7 and all(s["rss_mb"] > 0 for s in r["sweep_rss"]["series"])
    assert all(p["exit_code"] == 0 and p["peak_rss_mb"] > 0 for p in r["parts"])
    study = r["study"][0]  # interleaved pairs, the order alternating
    assert study["dataset"] == "mnist" and study["runs"] == 7 and len(study["pairs"]) == 2
    assert [p["part"] for p in r["parts"] if p["part"].startswith("study-")] == [
        "study-mnist-hwlib-1", "study-mnist-plain-1", "study-mnist-plain-2", "study-mnist-hwlib-2"]
    assert study["median"] > 0 and study["min"] <= study["median"] <= study["max"]
    assert "Study throughput" in proc.stdout
    assert not (tmp_path / "store").exists()  # the sweep trains into its own temporary store


def test_pair_ratios_are_plain_over_hwlib():
    sys.path.insert(0, str(BENCH.parent))
    import bench

    r = bench.pair_ratios([(10.0, 20.0), (10.0, 30.0), (20.0, 20.0)])
    assert r == {"ratios": [2.0, 3.0, 1.0], "median": 2.0, "min": 1.0, "max": 3.0}
    assert bench.pair_ratios([])["median"] is None


def test_show_prints_the_committed_results():
    """`bench.py --show` prints the tables of benchmarks/results.json, measuring nothing."""
    proc = subprocess.run([sys.executable, str(BENCH), "--show"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    machine = json.loads((BENCH.parent / "results.json").read_text())["machine"]
    assert f"machine: {machine['cores']} cores, {machine['cpu']}" in proc.stdout
    assert "Throughput: hwlib vs plain Keras" in proc.stdout


def test_readme_table_is_rendered_from_the_committed_results():
    """benchmarks/README.md's table is exactly what bench.py renders from results.json."""
    sys.path.insert(0, str(BENCH.parent))
    import bench

    results = json.loads((BENCH.parent / "results.json").read_text())
    text = bench.README.read_text()
    table = text[text.index(bench.TABLE_START) + len(bench.TABLE_START):text.index(bench.TABLE_END)]
    assert table.strip() == bench.readme_table(results).strip(), "rerun `make bench` (or bench.write_readme_table)"


def test_readme_table_shows_ratios_against_targets(tmp_path):
    sys.path.insert(0, str(BENCH.parent))
    import bench

    out = {"machine": {"started": "2026-11-28T08:00:00", "cores": 2, "cpu": "X", "tensorflow": "2.21.0",
                       "keras": "3.15.1", "loadavg_start": [1.0], "loadavg_end": [2.0]},
           "throughput_pairs": [{"dataset": "mnist", "pairs": [{"plain_images_per_s": 100, "hwlib_images_per_s": 180}],
                                 "median": 1.8, "min": 1.8, "max": 1.8}],
           "study": [{"dataset": "cifar10", "runs": 4, "settings": {"epochs": 1, "n_train": 10000},
                      "pairs": [{"hwlib_s": 50, "plain_s": 100}], "median": 2.0, "min": 2.0, "max": 2.0}],
           "levers": [{"dataset": "mnist", "label": "hwlib fit, jit_compile=True", "images_per_s": 900.4,
                       "ratio_vs_base": 1.01, "ratio_vs_plain": 1.2, "train_history_identical": True}]}
    table = bench.readme_table(out)
    assert "| per epoch, mnist base net (1 pairs) | 180 img/s | 100 img/s | ×1.80 (1.80–1.80) | ≥ 1.6 |" in table
    assert "| study: cifar10 sweep, 4 runs × 1 epoch on 10000 images, whole command (1 pairs) | 50 s | 100 s | ×2.00" \
        in table
    out["study"][0]["settings"] = {"epochs": 2}  # full data
    assert "| study: cifar10 sweep, 4 runs × 2 epochs on all images, whole command" in bench.readme_table(out)
    out["side_by_side"] = [{"dataset": "mnist", "label": "steps_per_execution=200", "images_per_s": [900.4, 800.0],
                            "ratio_vs_default": [1.1, 0.9], "mean_ratio": 1.0, "history_identical": True}]
    assert "| mnist: steps_per_execution=200 | 900 / 800 | 1.10 / 0.90 (1.00) | yes |" in bench.readme_table(out)
    assert "| mnist: hwlib fit, jit_compile=True | 900 | 1.01 | 1.20 | yes |" in table
    assert "the whole study" not in table  # not measured (no --full-reproduction)
    out["full_reproduction"] = {"wall_s": 8100.4, "peak_rss_mb": 900, "exit_code": 0, "runs": 142}
    assert ("| the whole study, `hwlib reproduce --study` into an empty store (142 runs) | 2 h 15 min | – | – "
            "| ≤ 2.5 h |") in bench.readme_table(out)
    out["full_reproduction"]["exit_code"] = 1  # a failed reproduction is no measurement
    assert "the whole study" not in bench.readme_table(out)
    readme = tmp_path / "README.md"
    readme.write_text(f"head\n{bench.TABLE_START}\nold\n{bench.TABLE_END}\ntail\n")
    bench.write_readme_table(out, readme)
    text = readme.read_text()
    assert "old" not in text and text.startswith("head\n") and text.endswith("tail\n") and "×2.00" in text


def test_a_bad_allocator_setting_stops_the_bench_with_one_line(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(BENCH.parent))
    import bench

    monkeypatch.setenv("HWLIB_MALLOC", "/no/such/libjemalloc.so.2")
    assert bench.main(["--quick", "--out", str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error: HWLIB_MALLOC='/no/such/libjemalloc.so.2'") and err.count("\n") == 1
    assert not (tmp_path / "out.json").exists()
