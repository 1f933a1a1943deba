"""hwlib's errors: each says what was wrong and how to fix it; the CLI prints it as one paragraph
and exits with the class's ``exit_code``."""

from __future__ import annotations


class HwlibError(Exception):
    """Base class of every error hwlib raises on purpose."""
    exit_code = 1

    def _render_traceback_(self) -> list[str]:
        """IPython/Jupyter show this instead of a traceback: one clear paragraph."""
        return [f"{type(self).__name__}: {self}"]


class ConfigError(HwlibError, ValueError):
    """An experiment configuration (or a parameter) is invalid."""
    exit_code = 2


class DataError(HwlibError):
    """A dataset could not be found, read or validated."""
    exit_code = 3


class StoreError(HwlibError):
    """The run store cannot be written, or an entry in it is damaged."""
    exit_code = 4


class ClusterError(HwlibError):
    """A Dask scheduler cannot be reached, or a task failed on the cluster."""
    exit_code = 5
