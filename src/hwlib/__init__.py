"""hwlib: regenerate the CNN homework report (MNIST, CIFAR-10) from code."""

import os as _os
import sys as _sys

# Keep TensorFlow's C++ info messages out of notebooks and the CLI.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Every run trains with one intra-op thread (the thread count changes the results) and two
# inter-op threads: set before TensorFlow starts, so any later import of it in this process obeys.
from hwlib import runtime as _runtime  # noqa: E402

_runtime.note_import_order("tensorflow" in _sys.modules)
_runtime.set_thread_environment()

__version__ = "0.1.0"
