"""Model building, the architecture table, and validation agreeing with Keras."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwlib import experiments as E
from hwlib.config import DATASET_SHAPES, ConvLayer, Experiment, ModelSpec, shape_walk
from hwlib.errors import ConfigError
from hwlib.models import architecture_rows, build, build_experiment


def test_layers_are_named_and_shaped_as_in_table_1():
    rows = architecture_rows(build_experiment(E.get("mnist-base")))
    assert [(r["layer"], r["output_shape"]) for r in rows] == [
        ("conv1", "28x28x4"), ("pool1", "14x14x4"), ("conv2", "14x14x8"), ("pool2", "7x7x8"),
        ("conv3", "7x7x16"), ("flatten", "784"), ("fc1", "64"), ("output", "10")]
    assert rows[0]["details"] == "4 filters, 5x5 kernel, stride 1, same padding, ReLU"
    assert rows[0]["params"] == 5 * 5 * 1 * 4 + 4
    assert rows[6]["params"] == 784 * 64 + 64


def test_cifar_table_4_shapes_and_l2_marks():
    model = build_experiment(E.get("cifar10-l2-tuned"))
    rows = {r["layer"]: r for r in architecture_rows(model)}
    assert rows["flatten"]["output_shape"] == "4096"
    assert [rows[n]["output_shape"] for n in ("fc1", "fc2", "output")] == ["64", "128", "10"]
    assert rows["conv1"]["details"].endswith(", L2") and not rows["conv2"]["details"].endswith(", L2")
    assert rows["fc1"]["details"].endswith(", L2") and "L2" not in rows["output"]["details"]
    assert len(model.losses) == 3  # one L2 term per regularized layer


def test_shape_walk_agrees_with_keras_for_every_experiment():
    for exp in E.EXPERIMENTS.values():
        model = build_experiment(exp)
        walk = shape_walk(exp.model, DATASET_SHAPES[exp.dataset])
        for step in walk:
            assert model.get_layer(step.layer).output.shape[1] == step.output_size, (exp.name, step)


conv = st.builds(ConvLayer, filters=st.integers(1, 3), kernel=st.integers(1, 12),
                 stride=st.integers(1, 6), padding=st.sampled_from(["same", "valid"]),
                 pool=st.booleans())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(convs=st.lists(conv, min_size=1, max_size=3), dataset=st.sampled_from(["mnist", "cifar10"]))
def test_validation_accepts_exactly_the_configs_keras_can_build(convs, dataset):
    spec = ModelSpec(convs=tuple(convs), dense=(4,))
    try:
        Experiment("prop", dataset, spec)  # validated as it is made
        valid = True
    except ConfigError:
        valid = False
    try:
        model = build(spec, DATASET_SHAPES[dataset])
        builds = all(d is None or d >= 1 for layer in model.layers for d in layer.output.shape[1:])
    except ValueError:
        builds = False
    assert valid == builds


def test_l2_on_unknown_layer_never_reaches_keras():
    with pytest.raises(ConfigError, match="no such layer"):
        E.get("mnist-base").with_overrides({"l2_layers": ["fc2"]})
