"""Config validation, keys, round trips and overrides."""

from __future__ import annotations

import dataclasses

import pytest

from hwlib import experiments as E
from hwlib.config import (
    ConvLayer,
    Experiment,
    ModelSpec,
    TrainSpec,
    conv_output_size,
    parse_overrides,
    shape_walk,
    validate,
)
from hwlib.errors import ConfigError

BASE = E.get("mnist-base")


def changed(**settings) -> Experiment:
    return BASE.with_overrides(settings)


@pytest.mark.parametrize("settings, message", [
    ({"kernel": 9, "stride": 4}, r"pool2 would output feature maps of size 0 .*conv2: floor\(\(3 \+ 6 - 9\) / 4\) \+ 1 = 1; pool2: floor\(\(1 - 2\) / 2\) \+ 1 = 0"),
    ({"kernel": 15, "padding": "valid"}, r"conv2 would output feature maps of size -7 .*floor\(\(7 \+ 0 - 15\) / 1\) \+ 1 = -7"),
    ({"padding": "full"}, r"conv1: padding 'full' does not exist. Use 'same'"),
    ({"dataset": "fashion"}, r"Unknown dataset 'fashion'. Choose one of: mnist, cifar10"),
    ({"epochs": 0}, r"epochs must be at least 1, got 0"),
    ({"epochs": -3}, r"epochs must be at least 1, got -3"),
    ({"epochs": 2.5}, r"epochs must be a whole number, got 2.5"),
    ({"filters": 0}, r"conv1: the number of filters must be at least 1, got 0"),
    ({"l2_layers": ["conv9"]}, r"L2 is set on layer 'conv9', but the model has no such layer.*conv1, conv2, conv3, fc1, output"),
    ({"learning_rate": 0}, r"learning_rate must be a number between 0 and 10.*got 0"),
    ({"lr": "fast"}, r"learning_rate must be a number .*got 'fast'"),
    ({"batch_size": 0}, r"batch_size must be at least 1"),
    ({"n_train": 5}, r"n_train must be at least 10, got 5"),
    ({"stride": 0}, r"conv1: the stride must be at least 1, got 0"),
    ({"l2": -0.1}, r"l2 must be a number >= 0"),
    ({"l2": 0, "l2_layers": ["conv1"]}, r"l2_layers names layers to regularize but l2 is 0"),
    ({"seed": -1}, r"seed must be at least 0, got -1"),
    ({"data_seed": True}, r"data_seed must be a whole number, got True"),
    ({"n_test": 9}, r"n_test must be at least 10, got 9"),
    ({"n_classes": 100}, r"Both datasets have 10 classes; n_classes must be 10, got 100"),
    ({"n_classes": 10.0}, r"n_classes must be 10, got 10.0"),
    ({"l2": float("inf")}, r"l2 must be a number >= 0 .*got inf"),
    ({"lr": float("nan")}, r"learning_rate must be a number .*got nan"),
    ({"lr": True}, r"learning_rate must be a number .*got True"),
    ({"colour": "red"}, r"Unknown setting 'colour'. Known settings: .*epochs"),
    ({"model.convs.7.kernel": 3}, r"The setting 'model.convs.7.kernel' does not exist"),
])
def test_bad_settings_are_rejected_with_a_clear_message(settings, message):
    with pytest.raises(ConfigError, match=message):
        changed(**settings)


def test_bad_dict_configs():
    d = BASE.to_dict()
    d["model"]["convs"] = []
    with pytest.raises(ConfigError, match="model.convs must be a non-empty list"):
        Experiment.from_dict(d)
    d = BASE.to_dict()
    d["train"]["optimiser"] = "sgd"
    with pytest.raises(ConfigError, match=r"Unknown setting\(s\) optimiser in 'train'"):
        Experiment.from_dict(d)
    with pytest.raises(ConfigError, match="must be a mapping"):
        Experiment.from_dict(["not", "a", "dict"])


def test_override_strings_must_be_name_value():
    with pytest.raises(ConfigError, match="write it as name=value"):
        parse_overrides(["epochs"])
    assert parse_overrides(["epochs=2", "lr=0.002", "padding=valid", "l2_layers=[conv1, fc1]"]) == {
        "epochs": 2, "lr": 0.002, "padding": "valid", "l2_layers": ["conv1", "fc1"]}
    assert parse_overrides(["lr=1e-3", "l2=5E-4"]) == {"lr": 0.001, "l2": 0.0005}


def test_every_homework_experiment_is_valid_and_roundtrips():
    for exp in E.EXPERIMENTS.values():
        assert Experiment.from_dict(exp.to_dict()) == exp
        assert validate(exp) is exp


def test_config_dict_is_what_decides_a_run():
    assert BASE.config_dict() == E.get("mnist-k5s1-same").config_dict()  # the same net under two names
    assert BASE.config_dict() == dataclasses.replace(BASE, title="other").config_dict()
    assert BASE.config_dict() != changed(epochs=2).config_dict()
    assert BASE.config_dict() != changed(seed=1).config_dict()
    d = BASE.to_dict()
    reordered = dict(reversed(list(d.items())))
    assert Experiment.from_dict(reordered) == BASE


def test_overrides_apply_where_they_should():
    v = changed(epochs=2, n_train=5000, kernel=3, stride=2, lr=0.01)
    assert v.train.epochs == 2 and v.train.n_train == 5000 and v.train.learning_rate == 0.01
    assert all(c.kernel == 3 and c.stride == 2 for c in v.model.convs)
    assert v.model.convs[0].pool and not v.model.convs[2].pool
    v = BASE.with_overrides(["model.convs.0.kernel=7"])
    assert [c.kernel for c in v.model.convs] == [7, 5, 5]


@pytest.mark.parametrize("size, kernel, stride, padding, expected", [
    (28, 5, 1, "same", 28), (28, 3, 1, "valid", 26), (28, 7, 3, "same", 10),
    (7, 3, 2, "same", 4), (5, 5, 1, "valid", 1), (32, 5, 2, "same", 16),
])
def test_output_size_formula(size, kernel, stride, padding, expected):
    out, pad = conv_output_size(size, kernel, stride, padding)
    assert out == expected
    assert out == (size + pad - kernel) // stride + 1


def test_shape_walk_matches_the_report_table_1():
    steps = shape_walk(BASE.model, (28, 28, 1))
    assert [(s.layer, s.output_size, s.channels) for s in steps] == [
        ("conv1", 28, 4), ("pool1", 14, 4), ("conv2", 14, 8), ("pool2", 7, 8), ("conv3", 7, 16)]


def test_sweeps_follow_the_report_order():
    assert [e.name for e in E.sweep("mnist")][:2] == ["mnist-k5s1-same", "mnist-k3s1-valid"]
    assert len(E.sweep("mnist")) == 7 and len(E.sweep("cifar10")) == 4
    with pytest.raises(ConfigError, match="No sweep for 'svhn'"):
        E.sweep("svhn")
    with pytest.raises(ConfigError, match="Unknown experiment 'mnist-bse'.*mnist-base"):
        E.get("mnist-bse")


def test_quick_profile_shrinks_data_and_epochs_only():
    q = E.with_profile(E.get("cifar10-l2-tuned"), "quick")
    assert (q.train.epochs, q.train.n_train, q.train.n_test) == (2, 2000, 1000)
    assert q.model == E.get("cifar10-l2-tuned").model and q.train.learning_rate == 0.002
    with pytest.raises(ConfigError, match="Unknown profile 'huge'"):
        E.with_profile(BASE, "huge")


def test_dataclasses_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASE.train.epochs = 3  # type: ignore[misc]
    assert ModelSpec(convs=(ConvLayer(4),)).layer_names() == ["conv1", "fc1", "output"]
    assert TrainSpec().batch_size == 32


def test_input_scale_at_its_default_leaves_the_key_unchanged():
    exp = E.get("mnist-base")
    d = exp.config_dict()
    assert "input_scale" not in d["train"]
    raw = exp.with_overrides({"input_scale": "raw"})
    assert raw.config_dict()["train"]["input_scale"] == "raw"
    assert raw.with_overrides({"scale": "unit"}).config_dict() == exp.config_dict()


@pytest.mark.parametrize("value", ["Raw", "0-255", 255, None])
def test_bad_input_scale_is_a_clear_error(value):
    with pytest.raises(ConfigError, match=r"input_scale .* does not exist. Use 'unit' .* or 'raw'"):
        E.get("mnist-base").with_overrides({"input_scale": value})
