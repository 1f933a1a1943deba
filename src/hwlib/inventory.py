"""The homework's tables and figures (Tables 1-7, Figures 1-30, the output-size formula) and
their labels in the book.

Each item maps the original report's number to the label of the numbered table or figure
that regenerates it, and the chapter that holds it. Tests check every label is rendered.
Items ``R1``... are the Reproduction chapter's own (seeds against the report; not in the
original), ``G1``... the Gaps chapter's (both variants and the hypotheses that explain the gaps).
"""

from __future__ import annotations

from typing import NamedTuple


class Item(NamedTuple):
    id: str       # the original report's number: T1..T7, F1..F30, eq
    label: str    # the MyST label in the book
    chapter: str  # the notebook (without .ipynb) that produces it
    what: str


def _weights(dataset: str, first: int, layers: tuple[str, ...]) -> list[Item]:
    return [Item(f"F{first + i}", f"fig-{dataset}-weights-{layer}", dataset,
                 f"weight and bias distributions of {layer}") for i, layer in enumerate(layers)]


def _chapter(dataset: str, t: int, f: int, dense: tuple[str, ...]) -> list[Item]:
    layers = ("conv1", "conv2", "conv3", *dense, "output")
    items = [
        Item(f"T{t}", f"tab-{dataset}-arch", dataset, "architecture"),
        Item(f"T{t + 1}", f"tab-{dataset}-hparams", dataset, "training hyper-parameters"),
        Item(f"T{t + 2}", f"tab-{dataset}-sweep", dataset, "kernel/stride sweep, best to worst"),
        Item(f"F{f}", f"fig-{dataset}-curves", dataset, "learning curves"),
        *_weights(dataset, f + 1, layers),
    ]
    n = f + 1 + len(layers)
    items += [
        Item(f"F{n}", f"fig-{dataset}-correct", dataset, "five correctly classified test images"),
        Item(f"F{n + 1}", f"fig-{dataset}-wrong", dataset, "five misclassified test images"),
        Item(f"F{n + 2}", f"fig-{dataset}-input", dataset, "the image used for the feature maps"),
        *[Item(f"F{n + 3 + i}", f"fig-{dataset}-fmap-conv{i + 1}", dataset, f"feature maps of conv{i + 1}")
          for i in range(3)],
        Item(f"F{n + 6}", f"fig-{dataset}-l2-curves", dataset, "learning curves with L2"),
        Item(f"F{n + 7}", f"fig-{dataset}-l2-weights", dataset, "weight histograms after L2"),
    ]
    return items


INVENTORY: tuple[Item, ...] = (
    Item("eq", "eq-output-size", "intro", "the output-size formula"),
    *_chapter("mnist", 1, 1, ("fc1",)),
    *_chapter("cifar10", 4, 15, ("fc1", "fc2")),
    Item("T7", "tab-cifar10-tuned", "cifar10", "parameters changed for the tuned L2 run"),
    Item("F30", "fig-cifar10-tuned-curves", "cifar10", "learning curves of the tuned L2 run"),
)
REPRODUCTION: tuple[Item, ...] = (
    Item("R1", "tab-repro-mnist-acc", "reproduction", "MNIST reported accuracies against our seeds, with verdicts"),
    Item("R2", "tab-repro-cifar10-acc", "reproduction",
         "CIFAR-10 reported accuracies against our seeds, with verdicts"),
    Item("R3", "tab-repro-loss", "reproduction", "reported test losses against our seeds, with verdicts"),
    Item("R4", "fig-repro-accuracy", "reproduction", "reported accuracies against our prediction intervals"),
    Item("R5", "tab-repro-mnist-pairs", "reproduction", "paired tests of every pair of Table 3"),
    Item("R6", "tab-repro-cifar10-pairs", "reproduction", "paired tests of every pair of Table 6"),
    Item("R7", "tab-repro-claims", "reproduction", "the report's comparative statements and their verdicts"),
    Item("R8", "fig-repro-mnist-curves", "reproduction", "MNIST base learning curves with the seed band"),
    Item("R9", "fig-repro-cifar10-curves", "reproduction", "CIFAR-10 base learning curves with the seed band"),
    Item("R10", "fig-repro-cifar10-l2-curves", "reproduction", "CIFAR-10 L2 learning curves with the seed band"),
)
GAPS = (
    Item("G1", "tab-gaps-variants", "gaps", "the settings in which the two variants differ"),
    Item("G2", "tab-gaps-accuracy", "gaps", "every reported accuracy under both variants, with verdicts"),
    Item("G3", "tab-gaps-loss", "gaps", "every reported loss under both variants, with verdicts"),
    Item("G4", "fig-gaps-l2", "gaps", "MNIST L2: accuracy and loss against the L2 factor, both pixel scalings"),
    Item("G5", "fig-gaps-batch", "gaps", "CIFAR-10 base: accuracy and loss against the batch size"),
    Item("G6", "tab-gaps-swap", "gaps", "Table 6's rows against every assignment to the configurations"),
    Item("G7", "fig-gaps-tuned", "gaps", "the tuned L2 network's seeds under both variants"),
    Item("G8", "tab-gaps-above", "gaps", "epochs with test accuracy above training accuracy, per seed"),
    Item("G9", "tab-gaps-closing", "gaps", "every reported number and what explains it"),
)
INVENTORY = INVENTORY + REPRODUCTION + GAPS
