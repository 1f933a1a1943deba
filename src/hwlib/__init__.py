"""hwlib: regenerate the CNN homework report (MNIST, CIFAR-10) from code."""

__version__ = "0.1.0"
