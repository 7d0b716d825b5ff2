"""The Restorer interface every restoration method implements.

A restorer maps a batch of 512x512 FFHQ-aligned LQ faces (RGB uint8, shape (B, 512, 512, 3)) to restored
faces of the same shape and dtype. Reference-based methods also receive, per image, a list of HQ reference
faces (each (512, 512, 3) uint8, in their stored order). Stochastic methods receive one integer seed per
image (derived by the runner from (run seed, image id)) and must draw all randomness from generators
seeded with it, so results do not depend on batch composition.

Constructor keyword arguments are the configuration (typed, JSON-serialisable); ``device``, ``dtype`` and
``batch_size`` are always among them so CPU tests exercise the GPU code path. ``parse_options`` turns
``key=value`` strings from the command line into typed constructor arguments using the annotations.

A method that can restore some images of a batch but not others raises :class:`BatchPartialError` with
the images it did produce; the runner keeps those and records the rest as failures.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import ConfigError, MethodError

DType = Literal["fp32", "fp16", "bf16"]
DTYPES: tuple[str, ...] = ("fp32", "fp16", "bf16")
FACE_SIZE = 512

__all__ = ["Restorer", "DTYPES", "DType", "FACE_SIZE", "BatchPartialError", "parse_options", "method_info"]


class BatchPartialError(MethodError):
    """Some images of a batch were restored and some were not.

    Args:
        message: what went wrong overall (e.g. the command's exit status).
        outputs: per image of the batch, the (512, 512, 3) uint8 result or None.
        reasons: per image, None when restored, else the reason it failed.
    """

    def __init__(self, message: str, outputs: Sequence[np.ndarray | None], reasons: Sequence[str | None]) -> None:
        super().__init__(message)
        self.outputs = list(outputs)
        self.reasons = list(reasons)


class Restorer:
    """Base class of restoration methods.

    Class attributes (metadata shown by ``bfrbench methods list``):
        name: registry name.
        paper: citation (venue, year).
        code_url: official code.
        license: license of code/weights.
        weights: names of entries in the weights registry it needs.
        needs_refs: True when reference images are required (False: optional or unused).
        uses_refs: True when the method can use reference images at all.
        max_refs: how many references it can use (0 when none).
        stochastic: True when outputs depend on the seed.
        default_steps: sampling steps by default (None for feed-forward methods).
        default_batch_size: batch size the runner uses when none is given.
        version: bumped whenever outputs for the same inputs change.
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    code_url: ClassVar[str] = ""
    license: ClassVar[str] = ""
    weights: ClassVar[tuple[str, ...]] = ()
    needs_refs: ClassVar[bool] = False
    uses_refs: ClassVar[bool] = False
    max_refs: ClassVar[int] = 0
    stochastic: ClassVar[bool] = False
    default_steps: ClassVar[int | None] = None
    default_batch_size: ClassVar[int] = 1
    version: ClassVar[str] = "1"

    def __init__(self, *, device: str = "cpu", dtype: str = "fp32", batch_size: int = 1) -> None:
        if dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if not isinstance(device, str) or not device:
            raise ConfigError(f"device must be a string such as 'cpu', 'cuda' or 'cuda:1', got {device!r}")
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.run_dir: Path | None = None

    # -- configuration ----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-able dict (subclasses add theirs via ``_config``).

        ``from_config(type(r), r.config())`` rebuilds an equivalent restorer.
        """
        return {"device": self.device, "dtype": self.dtype, "batch_size": self.batch_size, **self._config()}

    def _config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Restorer:
        """Rebuild a restorer from :meth:`config` output."""
        return cls(**dict(config))

    @classmethod
    def info(cls) -> dict[str, Any]:
        """Class metadata as a JSON-able dict (what ``bfrbench methods list`` shows)."""
        return method_info(cls)

    def torch_dtype(self) -> Any:
        """The torch dtype for ``self.dtype`` (fp32 -> float32, fp16 -> float16, bf16 -> bfloat16)."""
        import torch

        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.dtype]

    def torch_device(self) -> Any:
        """``torch.device(self.device)``; a CUDA device on a machine without CUDA is a ConfigError."""
        import torch

        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {self.device!r} requested but CUDA is not available here; use `device=cpu`")
        return dev

    def weight_hashes(self) -> dict[str, str | None]:
        """SHA-256 of each weight file the method uses (for run.json).

        The default covers the names in ``weights``: the registered (or first-use recorded) SHA-256 of the
        verified local file, else the file's own hash, else None (absent or bad). Override when weights are
        custom files.
        """
        from bfrbench.weights import weight_hashes

        return weight_hashes(self.weights)

    def bind_run(self, run_dir: str | Path) -> None:
        """Called by the runner before restoring: the run folder (methods may log to ``run_dir/run.log``)."""
        self.run_dir = Path(run_dir)

    # -- work -------------------------------------------------------------------------------
    def restore(
        self,
        lq: np.ndarray,
        *,
        refs: Sequence[Sequence[np.ndarray]] | None = None,
        seeds: Sequence[int] | None = None,
        context: Sequence[dict[str, Any]] | None = None,
    ) -> np.ndarray:
        """Restore a batch.

        Args:
            lq: (B, 512, 512, 3) uint8 RGB LQ faces.
            refs: per image, a list of (512, 512, 3) uint8 reference faces (may be empty), or None.
            seeds: per image, an integer seed (always given by the runner).
            context: per image, the test-set manifest row (e.g. ``scale`` for the bicubic baseline).

        Returns:
            (B, 512, 512, 3) uint8 RGB restored faces.

        Raises:
            MethodError: the batch failed; BatchPartialError: some images were restored, some not.
        """
        raise NotImplementedError


def method_info(cls: type[Restorer]) -> dict[str, Any]:
    """Metadata of a Restorer class as a JSON-able dict."""
    return {
        "name": cls.name,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "version": cls.version,
        "paper": cls.paper,
        "code_url": cls.code_url,
        "license": cls.license,
        "weights": list(cls.weights),
        "needs_refs": cls.needs_refs,
        "uses_refs": cls.uses_refs,
        "max_refs": cls.max_refs,
        "stochastic": cls.stochastic,
        "default_steps": cls.default_steps,
        "default_batch_size": cls.default_batch_size,
    }


# -- key=value options ----------------------------------------------------------------------------
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(text: str, ann: Any, key: str) -> Any:
    """Convert ``text`` to the annotated type (int, float, bool, str, Literal, X | None, list/tuple)."""
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if ann is inspect.Parameter.empty or ann is Any or ann is str:
        return text
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if text.lower() in ("none", "null") and len(non_none) < len(args):
            return None
        errors = []
        for a in non_none:
            try:
                return _convert(text, a, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"option {key}={text!r}: cannot convert")
    if origin is Literal:
        for a in args:
            if str(a) == text:
                return a
        raise ConfigError(f"option {key}={text!r}: accepted values are {', '.join(map(str, args))}")
    if ann is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"option {key}={text!r}: expected a boolean (true/false, 1/0, yes/no)")
    if ann is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"option {key}={text!r}: expected an integer") from None
    if ann is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"option {key}={text!r}: expected a number") from None
    if origin in (list, tuple, Sequence) or ann in (list, tuple):
        item = args[0] if args else str
        return [_convert(text, item, key)]
    raise ConfigError(f"option {key}: unsupported annotation {ann!r} for command-line conversion")


def parse_options(cls: type[Restorer], options: Mapping[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    """Typed constructor keyword arguments from ``key=value`` strings (or a dict, values kept as given).

    Each key must be a keyword parameter of ``cls.__init__``; string values are converted by the
    parameter's annotation (int, float, bool, str, Literal, ``X | None``, ``list[...]``). A list-typed
    key given several times collects every value in order (``env=A=1 env=B=2``).
    ``device``, ``dtype`` and ``batch_size`` are runner arguments and are refused here.

    Raises:
        ConfigError: malformed pair, unknown key (lists the accepted ones), or a value of the wrong type.
    """
    if options is None:
        return {}
    params = inspect.signature(cls.__init__).parameters
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolved forward references: fall back to raw annotations
        hints = {k: p.annotation for k, p in params.items()}
    accepted = [k for k, p in params.items() if k != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    pairs: list[tuple[str, Any]]
    if isinstance(options, Mapping):
        pairs = list(options.items())
    else:
        pairs = []
        for item in options:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"option {item!r} must look like key=value")
            pairs.append((key.strip(), value))
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in ("device", "dtype", "batch_size"):
            raise ConfigError(f"option {key!r} is a runner argument: use --{key.replace('_', '-')} instead")
        if key not in accepted:
            raise ConfigError(f"method {cls.name!r} has no option {key!r}; accepted options: "
                              f"{', '.join(k for k in accepted if k not in ('device', 'dtype', 'batch_size')) or '(none)'}")
        if not isinstance(value, str):
            out[key] = value
            continue
        ann = hints.get(key, params[key].annotation)
        conv = _convert(value, ann, key)
        origin = typing.get_origin(ann)
        is_list = origin in (list, tuple) or any(typing.get_origin(a) in (list, tuple) for a in typing.get_args(ann))
        if is_list and isinstance(conv, list):
            out.setdefault(key, [])
            out[key].extend(conv)
        else:
            out[key] = conv
    return out
