"""`--seeds N`: every configuration trained with seeds 0..N-1, summarized over the seeds."""

from __future__ import annotations

import re

import pytest

from hwlib import experiments as E
from hwlib.cli import main
from hwlib.store import RunStore

TINY = ["--set", "epochs=1", "--set", "n_train=100", "--set", "n_test=50", "--quiet"]
SEED_COLUMNS = ("seeds", "test accuracy (%) mean ± sd", "accuracy 95% CI", "test loss mean ± sd",
                "loss 95% CI", "Δ accuracy (pp)")


def table_rows(out: str, header_word: str = "experiment") -> tuple[str, list[str]]:
    lines = [line for line in out.splitlines() if line.strip()]
    start = max(i for i, line in enumerate(lines) if line.lstrip().startswith(header_word))
    return lines[start], lines[start + 1:]


def test_train_seeds_then_reuse(tiny_env, capsys):
    assert main(["train", "mnist-base", "--seeds", "3", *TINY]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("mnist-base seed")]
    assert sorted(line.split()[2] for line in lines) == ["0", "1", "2"]  # as each finishes, on 2 workers
    keys = [re.search(r"\[([0-9a-f]{16})\]", line).group(1)
            for line in sorted(lines, key=lambda line: int(line.split()[2]))]
    assert len(set(keys)) == 3 and sorted(RunStore().keys()) == sorted(keys)
    header, rows = table_rows(out)
    for column in SEED_COLUMNS:
        assert column in header
    assert len(rows) == 1 and " 3 " in rows[0] and "±" in rows[0] and "[" in rows[0]

    # Seed 0 is the usual run: a plain `train` finds it; a rerun trains nothing; --seeds 4
    # trains only seed 3.
    assert main(["train", "mnist-base", *TINY[:-1]]) == 0
    out = capsys.readouterr().out
    assert "stored run" in out and keys[0] in out
    assert main(["train", "mnist-base", "--seeds", "3", *TINY[:-1]]) == 0
    assert "training run" not in capsys.readouterr().out
    assert main(["train", "mnist-base", "--seeds", "4", *TINY[:-1]]) == 0
    out = capsys.readouterr().out
    assert out.count("training run") == 1 and len(RunStore().keys()) == 4


def test_sweep_seeds_table(tiny_env, capsys):
    assert main(["sweep", "mnist", "--seeds", "2", *TINY]) == 0
    out = capsys.readouterr().out
    header, rows = table_rows(out)
    for column in SEED_COLUMNS:
        assert column in header
    assert len(rows) == len(E.SWEEPS["mnist"])
    means = [float(re.search(r"  (\d+\.\d\d) ± ", r).group(1)) for r in rows]
    assert means == sorted(means, reverse=True)
    assert rows[0].split()[-1] == "0.00"
    # 7 configurations x 2 seeds, minus none shared: 14 runs; a second sweep reuses them all.
    assert len(RunStore().keys()) == 2 * len(E.SWEEPS["mnist"])
    assert main(["sweep", "mnist", "--seeds", "2", *TINY[:-1]]) == 0
    assert "training run" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["train", "mnist-base", "--seeds", "2", "--set", "seed=3"], "leave out --set seed"),
])
def test_seed_options_errors(tiny_env, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwlib: error: ") and message in err and "Traceback" not in err
    with pytest.raises(SystemExit) as e:
        main(["sweep", "mnist", "--seeds", "0"])
    assert e.value.code == 2
    assert "the number of seeds must be at least 1" in capsys.readouterr().err
