"""The `hwlib` command line: output, exit codes, one-paragraph errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hwlib import experiments as E
from hwlib.cli import main
from hwlib.errors import ConfigError

from conftest import needs_real_data, real_data_dir

TINY = ["--set", "epochs=1", "--set", "n_train=100", "--set", "n_test=50", "--quiet"]


def test_list_shows_every_experiment_with_its_settings(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, exp in E.EXPERIMENTS.items():
        assert name in out and exp.title in out
    assert "0–255" in out and "variant original" in out  # the default reading: raw MNIST pixels
    assert main(["list", "--variant", "stated", "--profile", "quick"]) == 0
    out = capsys.readouterr().out
    assert "0–255" not in out and "variant stated" in out and "profile quick" in out


def test_train_then_hit_then_force(tiny_env, capsys):
    assert main(["train", "mnist-base", "--set", "epochs=2", "--set", "n_train=100",
                 "--set", "n_test=50"]) == 0
    out = capsys.readouterr().out
    assert "training run" in out and "epoch   1/2" in out and "epoch   2/2" in out
    assert main(["train", "mnist-base", *TINY[:6], "--set", "epochs=2"]) == 0
    out = capsys.readouterr().out
    assert "stored run" in out and "epoch" not in out
    assert main(["train", "mnist-base", "--set", "epochs=2", "--set", "n_train=100",
                 "--set", "n_test=50", "--force"]) == 0
    assert "training run" in capsys.readouterr().out


def test_sweep_prints_the_table_best_to_worst(tiny_env, capsys):
    assert main(["sweep", "mnist", *TINY]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    header = lines[-8]
    assert "test loss" in header and "test accuracy (%)" in header and "Δ accuracy (pp)" in header
    accs = [float(line.split()[-2]) for line in lines[-7:]]
    assert accs == sorted(accs, reverse=True)
    assert float(lines[-7].split()[-1]) == 0.0
    # A second sweep trains nothing.
    assert main(["sweep", "mnist", *TINY]) == 0
    assert "training run" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, code, message", [
    (["train", "mnist-bse"], 2, "Unknown experiment 'mnist-bse'"),
    (["train", "mnist-base", "--set", "epochs=0"], 2, "epochs must be at least 1"),
    (["train", "mnist-base", "--set", "kernel=30", "--set", "padding=valid"], 2, "conv1 would output feature maps of size -1"),
    (["train", "mnist-base", "--set", "n_train"], 2, "write it as name=value"),
    (["train", "mnist-base", "--set", "n_train=999999"], 3, "n_train"),
])
def test_bad_input_exits_nonzero_with_one_paragraph(tiny_env, capsys, argv, code, message):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("hwlib: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (tiny_env / "runs").exists() or list((tiny_env / "runs").iterdir()) == []


def test_unknown_variant_is_one_paragraph(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "mnist-base", "--variant", "homework"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'homework' (choose from 'stated', 'original')" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="Unknown variant 'x'. Choose one of: stated .*; original"):
        E.prepare("mnist-base", variant="x")


def test_missing_data_names_every_place_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HWLIB_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HWLIB_NO_DOWNLOAD", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "mnist-base", "--store", str(tmp_path / "s")]) == 3
    err = capsys.readouterr().err
    assert "HWLIB_DATA_DIR" in err and str(tmp_path / "nowhere") in err
    assert not (tmp_path / "s").exists()


def test_unwritable_store_exit_code(tiny_env, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert main(["train", "mnist-base", *TINY, "--store", str(blocker / "store")]) == 4
    assert "Point --store or HWLIB_STORE" in capsys.readouterr().err


def test_argparse_errors_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sweep", "svhn"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for option in ("--set", "--profile", "--force", "--store", "--data-dir", "--no-weights"):
        assert option in out


def test_console_script_is_installed():
    """pip puts the `hwlib` script beside the interpreter that runs the tests."""
    exe = Path(sys.executable).parent / "hwlib"
    assert exe.exists(), f"no hwlib console script in {exe.parent}: pip install -e ."
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("hwlib ")


@pytest.mark.slow
@needs_real_data
def test_data_check_matches_sources_md(capsys):
    assert main(["data", "check", "--data-dir", real_data_dir()]) == 0
    out = capsys.readouterr().out
    for fact in ("60000", "10000", "50000", "5923", "0.13066048", "0.30810780", "0.49139968", "0.26158784", "mnist.npz", "cifar10.npz"):
        assert fact in out, fact


def test_an_interrupted_command_exits_at_once_with_130(monkeypatch, capsys):
    """The ``hwlib`` command (``main()`` without arguments) ends an interrupted command with
    ``os._exit(130)``: no interpreter teardown under TensorFlow threads that may still run.
    Called with arguments (from Python), it returns 130 instead."""
    import os

    from hwlib import cli

    def interrupted(args):
        raise KeyboardInterrupt

    class Exited(Exception):
        pass

    def fake_exit(code):
        raise Exited(code)

    monkeypatch.setitem(cli.COMMANDS, "list", interrupted)
    monkeypatch.setattr(os, "_exit", fake_exit)
    monkeypatch.setattr(sys, "argv", ["hwlib", "list"])
    with pytest.raises(Exited) as exited:
        main()
    assert exited.value.args == (130,)
    assert capsys.readouterr().err == "hwlib: interrupted; nothing half-written was stored.\n"
    assert main(["list"]) == 130
