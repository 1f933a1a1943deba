"""`hwlib audit`: stored runs retrained into a temporary store, compared to the bit."""

from __future__ import annotations

import pytest

from hwlib import audit, runtime, train
from hwlib import experiments as E
from hwlib.cli import main
from hwlib.store import RunStore

TINY = {"epochs": 2, "n_train": 100, "n_test": 50}


@pytest.fixture
def stored(tiny_env):
    """Two stored tiny runs (one with weights); returns their keys, quickest first."""
    a = train.run(E.prepare("mnist-base", variant="original").with_overrides(TINY))
    b = train.run(E.get("cifar10-base").with_overrides(TINY), weights=False)
    return a.key, b.key


def test_a_stored_run_retrains_bit_identical(stored, capsys):
    key = stored[0]
    result = audit.audit_one(RunStore(), key)
    assert (result.status, result.detail) == ("identical", "history, metrics, weights")
    assert main(["audit", key]) == 0
    out = capsys.readouterr().out
    assert f"{key}  mnist-base: identical" in out and out.rstrip().endswith("1 identical.")
    assert set(audit.quickest(RunStore(), 5)) == set(stored)
    assert RunStore().keys() == sorted(stored)  # the audit trained into a temporary store


def test_a_run_that_no_longer_comes_out_the_same_differs(stored, monkeypatch, capsys):
    real = runtime.seed_everything
    monkeypatch.setattr(train, "seed_everything", lambda seed: real(seed + 1))
    result = audit.audit_one(RunStore(), stored[1])
    assert result.status == "differs" and result.detail.startswith("epoch 1 (")
    assert main(["audit", "--sample", "2"]) == 4
    captured = capsys.readouterr()
    assert "2 differs." in captured.out and "hwlib: error: 2 run(s) differ" in captured.err
    monkeypatch.setattr(train, "cpu_model", lambda: "another CPU")
    assert audit.audit_one(RunStore(), stored[1]).status == "different machine"


def test_runs_of_another_code_version_are_not_retrained(stored, monkeypatch):
    monkeypatch.setattr(train, "TRAIN_CODE_VERSION", "999")
    result = audit.audit_one(RunStore(), stored[0])
    assert result.status == "other code version" and "this code is 999" in result.detail
    assert audit.quickest(RunStore(), 3) == []


def test_audit_errors_are_one_paragraph(tiny_env, capsys):
    assert main(["audit", "0123456789abcdef"]) == 4
    assert "There is no run 0123456789abcdef in the store" in capsys.readouterr().err
    assert main(["audit"]) == 2
    assert "holds no run of this training-code version" in capsys.readouterr().err
    assert main(["audit", "k", "--sample", "2"]) == 2
