"""The book's numbered items with their labels: the homework's tables T1-T7, figures F1-F30 and
output-size formula, the Reproduction chapter's R1-R10 and the Gaps chapter's G1-G9 (checked by
test_notebooks on each executed chapter and test_browser on each built page)."""

from __future__ import annotations

from typing import NamedTuple


class Item(NamedTuple):
    id: str  # the homework's number (T1, F1, eq) or the chapter's own (R1, G1)
    label: str  # the MyST label in the book
    chapter: str  # the notebook (without .ipynb) that produces it


def _numbered(prefix: str, first: int, chapter: str, labels: list[str]) -> list[Item]:
    return [Item(f"{prefix}{first + i}", label, chapter) for i, label in enumerate(labels)]


def _dataset_chapter(dataset: str, table: int, figure: int, dense: tuple[str, ...]) -> list[Item]:
    layers = ("conv1", "conv2", "conv3", *dense, "output")
    figures = ["curves", *(f"weights-{layer}" for layer in layers), "correct", "wrong", "input",
               "fmap-conv1", "fmap-conv2", "fmap-conv3", "l2-curves", "l2-weights"]
    return (_numbered("T", table, dataset, [f"tab-{dataset}-{name}" for name in ("arch", "hparams", "sweep")])
            + _numbered("F", figure, dataset, [f"fig-{dataset}-{name}" for name in figures]))


INVENTORY: tuple[Item, ...] = (
    Item("eq", "eq-output-size", "intro"),
    *_dataset_chapter("mnist", 1, 1, ("fc1",)),
    *_dataset_chapter("cifar10", 4, 15, ("fc1", "fc2")),
    Item("T7", "tab-cifar10-tuned", "cifar10"),
    Item("F30", "fig-cifar10-tuned-curves", "cifar10"),
    *_numbered("R", 1, "reproduction", [
        "tab-repro-mnist-acc", "tab-repro-cifar10-acc", "tab-repro-loss", "fig-repro-accuracy",
        "tab-repro-mnist-pairs", "tab-repro-cifar10-pairs", "tab-repro-claims", "fig-repro-mnist-curves",
        "fig-repro-cifar10-curves", "fig-repro-cifar10-l2-curves"]),
    *_numbered("G", 1, "gaps", [
        "tab-gaps-variants", "tab-gaps-accuracy", "tab-gaps-loss", "fig-gaps-l2", "fig-gaps-batch",
        "tab-gaps-swap", "fig-gaps-tuned", "tab-gaps-above", "tab-gaps-closing"]),
)
