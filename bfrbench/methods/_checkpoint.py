"""The one strict check of a checkpoint's state dict against the layout a model expects (every native method).

Official code loads with ``load_state_dict(strict=True)``; bfrbench checks first so the error names the file, counts
what differs and shows examples, instead of torch's long key dump.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bfrbench.errors import WeightsError

__all__ = ["check_layout"]


def check_layout(path: object, sd: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]], what: str,
                 hint: str = "") -> None:
    """Raise :class:`WeightsError` unless ``sd`` has exactly the keys of ``expected``, each a tensor of its shape.

    Args:
        path: the checkpoint file (for the message).
        sd: the state dict read from it.
        expected: ``{key: shape}`` of the model (e.g. from ``model.state_dict()`` on the meta device).
        what: what the layout belongs to (``"ReF-LDM checkpoint"``), for the message.
        hint: a sentence appended to the message (what to check).
    """
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    present = [k for k in expected if k in sd]
    not_tensor = [k for k in present if not hasattr(sd[k], "shape")]
    bad = [k for k in present if k not in not_tensor and tuple(sd[k].shape) != tuple(expected[k])]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
    if not_tensor:
        problems.append(f"{len(not_tensor)} values that are not tensors (e.g. {not_tensor[0]} is a "
                        f"{type(sd[not_tensor[0]]).__name__})")
    if bad:
        k = bad[0]
        problems.append(f"{len(bad)} keys with a wrong shape (e.g. {k} has shape {tuple(sd[k].shape)}, expected "
                        f"{tuple(expected[k])})")
    if problems:
        raise WeightsError(f"{path}: does not match the {what} layout for this config: " + "; ".join(problems)
                           + (f". {hint}" if hint else ""))
