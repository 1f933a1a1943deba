"""The Keras network of a :class:`~hwlib.config.ModelSpec`: named layers (``conv1``, ``pool1``,
..., ``flatten``, ``fc1``, ..., ``output``), the output emitting logits."""

from __future__ import annotations

from typing import Any

from hwlib.config import DATASET_SHAPES, POOL, Experiment, ModelSpec


def build(model: ModelSpec, input_shape: tuple[int, int, int]) -> Any:
    """A ``keras.Model`` for ``model`` on inputs of ``input_shape`` (H, W, C)."""
    import keras
    from keras import layers

    def reg(name: str):
        return keras.regularizers.L2(model.l2) if name in model.l2_layers else None

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for i, conv in enumerate(model.convs, start=1):
        name = f"conv{i}"
        x = layers.Conv2D(conv.filters, conv.kernel, strides=conv.stride, padding=conv.padding,
                          activation="relu", kernel_regularizer=reg(name), name=name)(x)
        if conv.pool:
            x = layers.MaxPooling2D(POOL, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(model.dense, start=1):
        name = f"fc{i}"
        x = layers.Dense(units, activation="relu", kernel_regularizer=reg(name), name=name)(x)
    outputs = layers.Dense(model.n_classes, kernel_regularizer=reg("output"), name="output")(x)
    return keras.Model(inputs, outputs, name="cnn")


def build_experiment(exp: Experiment) -> Any:
    """The (untrained, uncompiled) network of ``exp``."""
    return build(exp.model, DATASET_SHAPES[exp.dataset])


KINDS = {"Conv2D": "Convolution", "MaxPooling2D": "Max pooling", "Flatten": "Flatten", "Dense": "Fully connected"}


def layer_details(layer: Any) -> str:
    """The settings of a layer as the report's architecture tables list them."""
    cfg = layer.get_config()
    name = type(layer).__name__
    if name == "Conv2D":
        k, s = cfg["kernel_size"], cfg["strides"]
        return (f"{cfg['filters']} filters, {k[0]}x{k[1]} kernel, stride {s[0]}, "
                f"{cfg['padding']} padding, ReLU" + (", L2" if cfg.get("kernel_regularizer") else ""))
    if name == "MaxPooling2D":
        p, s = cfg["pool_size"], cfg["strides"]
        return f"{p[0]}x{p[1]} window, stride {s[0]}"
    if name == "Dense":
        act = cfg["activation"]
        act_text = "logits (softmax in the loss)" if act == "linear" else act.replace("relu", "ReLU")
        return f"{cfg['units']} units, {act_text}" + (", L2" if cfg.get("kernel_regularizer") else "")
    return ""


def architecture_rows(keras_model: Any) -> list[dict[str, Any]]:
    """One dict per layer of a built model: name, type, details, output shape, params."""
    rows = []
    for layer in keras_model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        shape = tuple(layer.output.shape[1:])
        rows.append({"layer": layer.name, "type": KINDS.get(type(layer).__name__, type(layer).__name__),
                     "details": layer_details(layer), "output_shape": "x".join(str(d) for d in shape),
                     "params": int(layer.count_params())})
    return rows
