"""Exceptions raised by bfrbench.

Every error a user can cause derives from :class:`BfrbenchError`; the CLI turns
these into a one-line message and exit status 1 instead of a traceback::

    BfrbenchError
    ├── ConfigError          bad argument, option, recipe or suite file
    ├── ImageError           an input image is unreadable, corrupt, too small or too large
    ├── ArtifactError        a test set / run / evaluation folder is missing files or inconsistent
    ├── WeightsError
    │   ├── MissingWeightsError   a weight file is not in the cache (names file, URL, how to import)
    │   ├── ChecksumError         a file's SHA-256 differs from the registered one
    │   └── DownloadError         a download failed (offline, HTTP error, interrupted)
    ├── MethodError          a restoration method failed (command adapter exit status, bad output)
    └── RegistryError        unknown name in a registry (also a KeyError; suggests near names)

Messages of library errors name the Python parameter, in backquotes: ```src```, ```device=cpu```,
```options` scale=4``; the CLI shows each as its flag (``--src``, ``--device cpu``, ``--option scale=4``)
with :func:`bfrbench.cli.flags`.
"""

from __future__ import annotations

__all__ = [
    "BfrbenchError",
    "ConfigError",
    "ImageError",
    "ArtifactError",
    "WeightsError",
    "MissingWeightsError",
    "ChecksumError",
    "DownloadError",
    "MethodError",
    "RegistryError",
]


class BfrbenchError(Exception):
    """Base class of every error bfrbench raises on purpose."""


class ConfigError(BfrbenchError, ValueError):
    """A bad argument, option value, recipe or suite file."""


class ImageError(BfrbenchError):
    """An image file cannot be used. The message always names the file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ArtifactError(BfrbenchError):
    """A bfrbench artifact folder (test set, run, evaluation, suite) is incomplete or inconsistent."""


class WeightsError(BfrbenchError):
    """Base class for weight-file problems."""


class MissingWeightsError(WeightsError):
    """A needed weight file is not present locally."""


class ChecksumError(WeightsError):
    """A file's SHA-256 does not match the registered value."""


class DownloadError(WeightsError):
    """A download failed."""


class MethodError(BfrbenchError):
    """A restoration method failed or produced unusable output."""


class RegistryError(BfrbenchError, KeyError):
    """Unknown name in a registry."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""
