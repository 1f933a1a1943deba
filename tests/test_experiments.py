"""The homework's experiments: the two variants as overrides, the study and its order."""

from __future__ import annotations

from hwlib import experiments as E


def test_variants_as_overrides():
    for name, exp in E.EXPERIMENTS.items():
        stated, original = E.prepare(name, variant="stated"), E.prepare(name, variant="original")
        assert stated == exp
        if exp.dataset == "mnist":
            assert (original.train.input_scale, original.train.batch_size) == ("raw", 32)
        else:
            assert (original.train.input_scale, original.train.batch_size) == ("unit", 64)
        assert original.config_dict() != stated.config_dict()


def test_the_study_lists_every_seed_of_both_variants_once():
    jobs = E.study()
    names = {(e.name, e.train.seed, e.train.input_scale, e.train.batch_size) for e, _, _ in jobs}
    n = E.STUDY_SEEDS  # every seed of both variants (stated: batch 32; original: 64)
    assert {("cifar10-base", s, "unit", b) for s in range(n) for b in (32, 64)} <= names
    assert ("cifar10-base", n, "unit", 32) not in names
    assert ("mnist-k3s3-same", 4, "raw", 32) in names
    first = jobs[:len(E.EXPERIMENTS)]  # seed 0 of the chapters' variant comes first
    assert {e.train.seed for e, _, _ in first} == {0} and all(e == E.prepare(e.name).with_overrides({"seed": 0})
                                                             for e, _, _ in first)
    assert sum(w for _, w, _ in jobs) == 2 * len(E.NEEDS_WEIGHTS)  # seed 0 of the figures' runs
    tiers = [t for _, _, t in jobs]  # the groups above, numbered in the order they are listed
    assert tiers == sorted(tiers)
    assert set(tiers[:len(E.EXPERIMENTS)]) == {0} and set(tiers) == {0, 1, 2, 3, 4}
    assert all((t % 2 == 1) == (e.train.seed > 0) for e, _, t in jobs if t < 4)
