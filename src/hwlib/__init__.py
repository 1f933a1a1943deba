"""hwlib: regenerate the CNN homework report (MNIST, CIFAR-10) from code."""

from hwlib import runtime  # noqa: F401 - sets TensorFlow's environment before anything imports TensorFlow

__version__ = "0.1.0"
