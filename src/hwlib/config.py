"""An experiment as frozen data (dataset, :class:`ModelSpec`, :class:`TrainSpec`), validated when it is made
(:func:`validate`), so every ``Experiment`` in hand is valid; settings changed by overrides."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from hwlib.errors import ConfigError

DATASET_SHAPES: dict[str, tuple[int, int, int]] = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
DATASET_NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}  # as the book writes them
N_CLASSES = 10  # MNIST and CIFAR-10 alike
PADDINGS = ("same", "valid")
# How pixels reach the network: "unit" divides the uint8 values by 255, "raw" keeps 0..255.
INPUT_SCALES = ("unit", "raw")
# Settings left out of a run's key while they hold their default: (section, name) -> default.
KEY_DEFAULTS: dict[tuple[str, str], Any] = {("train", "input_scale"): "unit"}
POOL = 2  # max-pooling window and stride after conv1 and conv2
MAX_SEED = 2**32 - 1  # the largest seed NumPy accepts


@dataclass(frozen=True)
class ConvLayer:
    """One convolution (ReLU), optionally followed by 2x2 max-pooling."""

    filters: int
    kernel: int = 3
    stride: int = 1
    padding: str = "same"
    pool: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """Convolutions, flatten, dense ReLU layers, a 10-way output; L2 ``l2`` on the kernels of ``l2_layers``."""

    convs: tuple[ConvLayer, ...]
    dense: tuple[int, ...] = (64,)
    n_classes: int = N_CLASSES
    l2: float = 0.01
    l2_layers: tuple[str, ...] = ()

    def layer_names(self) -> list[str]:
        """The names of the weighted layers, in order: conv1.., fc1.., output."""
        convs = [f"conv{i + 1}" for i in range(len(self.convs))]
        return convs + [f"fc{i + 1}" for i in range(len(self.dense))] + ["output"]


@dataclass(frozen=True)
class TrainSpec:
    """Adam on cross-entropy; ``n_train``/``n_test``: a stratified subset drawn with ``data_seed`` (None: all)."""

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 0.001
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    data_seed: int = 0
    input_scale: str = "unit"


@dataclass(frozen=True)
class Experiment:
    """A named experiment, valid by construction; ``name`` and ``title`` (its part of the homework) describe it,
    :meth:`config_dict` decides its runs."""

    name: str
    dataset: str
    model: ModelSpec
    train: TrainSpec = field(default_factory=TrainSpec)
    title: str = ""

    def __post_init__(self) -> None:
        validate(self)

    def config_dict(self) -> dict[str, Any]:
        """What decides a run: the config without name, title and :data:`KEY_DEFAULTS` at their default."""
        d = self.to_dict()
        del d["name"], d["title"]
        for (section, name), default in KEY_DEFAULTS.items():
            if d[section].get(name) == default:
                del d[section][name]
        return d

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # tuples become lists

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Experiment:
        """The experiment of a plain dict, as written by :meth:`to_dict`."""
        if not isinstance(d, dict):
            raise ConfigError(f"An experiment config must be a mapping, got {type(d).__name__}.")
        d = dict(d)
        model = _only_fields(ModelSpec, d.pop("model", None), "model")
        convs = model.pop("convs", None)
        if not isinstance(convs, (list, tuple)) or not convs:
            raise ConfigError("model.convs must be a non-empty list of convolution layers.")
        model["convs"] = tuple(ConvLayer(**_only_fields(ConvLayer, c, f"model.convs[{i}]"))
                               for i, c in enumerate(convs))
        for name in ("dense", "l2_layers"):
            if name in model:
                if not isinstance(model[name], (list, tuple)):
                    raise ConfigError(f"model.{name} must be a list, got {model[name]!r}.")
                model[name] = tuple(model[name])
        train = _only_fields(TrainSpec, d.pop("train", {}) or {}, "train")
        top = _only_fields(Experiment, d, "experiment")
        for required in ("name", "dataset"):
            if required not in top:
                raise ConfigError(f"The experiment config has no '{required}'.")
        return cls(model=ModelSpec(**model), train=TrainSpec(**train), **top)

    def with_overrides(self, overrides: dict[str, Any] | Iterable[str]) -> Experiment:
        """A copy with settings changed: a mapping, or ``"name=value"`` strings (values read as YAML). Names are short
        (``epochs``, ``lr``, ``seed``, ``batch_size``, ``l2``, ``l2_layers``, ``n_train``, ...; ``kernel``, ``stride``,
        ``padding``, ``filters`` apply to every convolution) or dotted paths (``model.convs.0.kernel``)."""
        pairs = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
        d = self.to_dict()
        for name, value in pairs.items():
            _apply_override(d, name, value)
        return Experiment.from_dict(d)


def short_hash(obj: Any, n: int = 12) -> str:
    """First ``n`` hex digits of the sha256 of ``obj``'s canonical JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


# -- overrides (`--set name=value`, papermill parameters) -------------------------------------
TRAIN_ALIASES = {"lr": "learning_rate", "scale": "input_scale"}
TRAIN_FIELDS = {f.name for f in fields(TrainSpec)}
CONV_FIELDS = {"kernel", "stride", "padding", "filters"}
MODEL_FIELDS = {"l2", "l2_layers", "dense", "n_classes"}


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["epochs=2", "lr=1e-3"]`` -> ``{"epochs": 2, "lr": 0.001}``."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = str(item).partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"Cannot read the setting {item!r}: write it as name=value, e.g. epochs=2.")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 as text: take it as the number meant
            try:
                value = float(value)
            except ValueError:
                pass
        out[name.strip()] = value
    return out


def _apply_override(d: dict[str, Any], name: str, value: Any) -> None:
    name = TRAIN_ALIASES.get(name, name)
    if name in TRAIN_FIELDS:
        d["train"][name] = value
    elif name in CONV_FIELDS:
        for conv in d["model"]["convs"]:
            conv[name] = value
    elif name in MODEL_FIELDS:
        d["model"][name] = list(value) if isinstance(value, (list, tuple)) else value
    elif name == "dataset":
        d["dataset"] = value
    elif "." in name:
        *path, last = name.split(".")
        node: Any = d
        try:
            for p in path:
                node = node[int(p)] if isinstance(node, list) else node[p]
            if isinstance(node, dict) and last not in node:
                raise KeyError(last)
            node[int(last) if isinstance(node, list) else last] = value
        except (KeyError, IndexError, ValueError, TypeError):
            raise ConfigError(f"The setting '{name}' does not exist in the experiment config.") from None
    else:
        known = sorted(TRAIN_FIELDS | CONV_FIELDS | MODEL_FIELDS | set(TRAIN_ALIASES) | {"dataset"})
        raise ConfigError(f"Unknown setting '{name}'. Known settings: {', '.join(known)}; "
                          "or a dotted path such as model.convs.0.kernel.")


def _only_fields(cls: type, d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ConfigError(f"'{where}' must be a mapping of settings, got {d!r}.")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"Unknown setting(s) {', '.join(unknown)} in '{where}'. "
                          f"Allowed: {', '.join(sorted(names))}.")
    return dict(d)


# -- validation -------------------------------------------------------------------------------
def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """``floor((in + P - k) / s) + 1`` along one axis, and ``P``: 0 for ``valid``, as Keras pads for ``same``."""
    pad = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0) if padding == "same" else 0
    return (size + pad - kernel) // stride + 1, pad


@dataclass(frozen=True)
class ShapeStep:
    """One row of the shape walk: a layer and the arithmetic of its output size."""

    layer: str
    kind: str
    input_size: int
    output_size: int
    formula: str
    channels: int


def shape_walk(model: ModelSpec, input_shape: tuple[int, int, int]) -> list[ShapeStep]:
    """Each convolution and pooling layer with its output-size arithmetic, up to the first below one pixel."""
    size, _, channels = input_shape
    steps: list[ShapeStep] = []
    for i, conv in enumerate(model.convs, start=1):
        out, pad = conv_output_size(size, conv.kernel, conv.stride, conv.padding)
        formula = f"floor(({size} + {pad} - {conv.kernel}) / {conv.stride}) + 1 = {out}"
        steps.append(ShapeStep(f"conv{i}", "conv", size, out, formula, conv.filters))
        size, channels = out, conv.filters
        if conv.pool and out >= 1:
            out = (size - POOL) // POOL + 1
            steps.append(ShapeStep(f"pool{i}", "pool", size, out, f"floor(({size} - {POOL}) / {POOL}) + 1 = {out}",
                                   channels))
            size = out
        if out < 1:
            break
    return steps


def _check_int(value: Any, name: str, minimum: int = 1, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}.")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def validate(exp: Experiment) -> Experiment:
    """Check an experiment before anything is built; raise :class:`ConfigError` if bad."""
    if not isinstance(exp.name, str) or not exp.name:
        raise ConfigError("The experiment needs a non-empty name.")
    if not isinstance(exp.dataset, str) or exp.dataset not in DATASET_SHAPES:
        raise ConfigError(f"Unknown dataset {exp.dataset!r}. Choose one of: {', '.join(DATASET_SHAPES)}.")
    m, t = exp.model, exp.train
    if not m.convs:
        raise ConfigError("The model needs at least one convolution layer.")
    for i, conv in enumerate(m.convs, start=1):
        for setting, what in (("filters", "the number of filters"), ("kernel", "the kernel size"),
                              ("stride", "the stride")):
            _check_int(getattr(conv, setting), f"conv{i}: {what}")
        if conv.padding not in PADDINGS:
            raise ConfigError(f"conv{i}: padding {conv.padding!r} does not exist. Use 'same' (output = "
                              "ceil(input / stride)) or 'valid' (no padding).")
        if not isinstance(conv.pool, bool):
            raise ConfigError(f"conv{i}: pool must be true or false, got {conv.pool!r}.")
    for i, units in enumerate(m.dense, start=1):
        _check_int(units, f"fc{i}: the number of units")
    if type(m.n_classes) is not int or m.n_classes != N_CLASSES:
        raise ConfigError(f"Both datasets have {N_CLASSES} classes; n_classes must be {N_CLASSES}, "
                          f"got {m.n_classes!r}.")
    if not _is_number(m.l2) or not 0 <= m.l2 < math.inf:
        raise ConfigError(f"l2 must be a number >= 0 (the L2 penalty factor), got {m.l2!r}.")
    names = m.layer_names()
    for layer in m.l2_layers:
        if layer not in names:
            raise ConfigError(f"L2 is set on layer {layer!r}, but the model has no such layer. "
                              f"Its weighted layers are: {', '.join(names)}.")
    if m.l2_layers and m.l2 == 0:
        raise ConfigError("l2_layers names layers to regularize but l2 is 0: set l2 > 0 or clear l2_layers.")

    for setting, minimum in (("epochs", 1), ("batch_size", 1), ("seed", 0), ("data_seed", 0)):
        _check_int(getattr(t, setting), setting, minimum)
    for setting in ("n_train", "n_test"):  # a stratified subset needs an image of every class
        _check_int(getattr(t, setting), setting, minimum=N_CLASSES, allow_none=True)
    if t.seed > MAX_SEED:
        raise ConfigError(f"seed must be at most {MAX_SEED} (2**32 - 1), got {t.seed}.")
    if t.input_scale not in INPUT_SCALES:
        raise ConfigError(f"input_scale {t.input_scale!r} does not exist. Use 'unit' (pixels divided by 255, "
                          "values in [0, 1]) or 'raw' (the stored 0..255 values, as the original MNIST code ran).")
    if not _is_number(t.learning_rate) or not 0 < t.learning_rate < 10:
        raise ConfigError(f"learning_rate must be a number between 0 and 10 (exclusive), got {t.learning_rate!r}; "
                          "the homework uses 0.001 (Adam's default).")

    steps = shape_walk(m, DATASET_SHAPES[exp.dataset])
    last = steps[-1]
    if last.output_size < 1:
        h, w, _ = DATASET_SHAPES[exp.dataset]
        walk = "; ".join(f"{s.layer}: {s.formula}" for s in steps)
        raise ConfigError(
            f"{last.layer} would output feature maps of size {last.output_size} (below 1 pixel) for "
            f"{exp.dataset} input {h}x{w}. Output size = floor((in + padding - kernel) / stride) + 1: {walk}. "
            "Use a smaller kernel or stride, 'same' padding, or fewer pooling layers.")
    return exp
