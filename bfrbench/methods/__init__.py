"""Restoration methods: the :class:`Restorer` interface, its registry, the runner and the adapters.

Built-in methods are registered lazily by ``"module:Class"`` so listing them imports nothing heavy.
Third-party methods register through the entry-point group ``bfrbench.methods`` (see
``docs/methods/interface.md``); ``bfrbench.methods.runner.restore`` runs any of them over a test set.
"""

from __future__ import annotations

from bfrbench.methods._base import DTYPES, BatchPartialError, Restorer, parse_options
from bfrbench.registry import Registry

METHODS: Registry[type[Restorer]] = Registry("method", Restorer, entry_point_group="bfrbench.methods")

_BUILTIN = {
    "lq": "bfrbench.methods.baselines:LQ",
    "bicubic": "bfrbench.methods.baselines:Bicubic",
    "classical": "bfrbench.methods.baselines:Classical",
    "command": "bfrbench.methods.command:CommandRestorer",
    "refldm": "bfrbench.methods.refldm:RefLDM",
    "dtbfr": "bfrbench.methods.dtbfr.restorer:DTBFR",
    "interlcm": "bfrbench.methods.interlcm:InterLCM",
    "clrface": "bfrbench.methods.clrface.restorer:CLRFace",
}
for _name, _target in _BUILTIN.items():
    METHODS.register(_name, _target)

__all__ = ["METHODS", "Restorer", "DTYPES", "BatchPartialError", "parse_options"]
