"""hwlib: regenerate the CNN homework report (MNIST, CIFAR-10) from code."""

import os as _os

# Keep TensorFlow's C++ start-up chatter (oneDNN, absl) out of notebooks and the CLI.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
