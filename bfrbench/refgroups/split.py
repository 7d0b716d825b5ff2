"""Identity-disjoint train/val/test split, optionally over-sampling under-represented groups in test.

FFHQ-Ref (ReF-LDM, NeurIPS 2024, Sec. 4 and its release notes) splits FFHQ by identity (train 6,073 /
val 300 / test 150 identities) and deliberately over-samples under-represented groups in the test split
using attribute labels (FairFace). This module does the same for any identity labelling:

* only identities with at least two images (targets that have references) are split; images without any
  reference are handled by the caller (``build.py`` puts them in train, see ``docs/refgroups.md``);
* split sizes are counted in identities: fractions (``train=0.9,val=0.05,test=0.05``, summing to 1,
  rounded by the largest-remainder method, every split with a positive fraction getting at least one
  identity when there are enough) or integer counts with at most one ``*`` meaning "the rest"
  (``train=*,val=300,test=150``);
* assignment order: test, then val, then train. With ``strata`` (identity -> group value), test is filled
  round-robin over groups in sorted group order (one identity per group per round, groups that run out
  drop out), which balances groups in test and so over-samples the rare ones; val and train are drawn
  uniformly from what is left;
* randomness: ``bfrbench.rng.item_generator(seed, "refgroups", "split")``; identities are first sorted by
  their key, so the result depends only on (keys, spec, strata, seed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from bfrbench.errors import ConfigError
from bfrbench.rng import item_generator

__all__ = ["SPLITS", "identity_strata", "parse_split_spec", "split_identities", "split_sizes"]

SPLITS = ("train", "val", "test")
SplitSpec = dict[str, float | int | None]  # None = "*" (the rest)

DEFAULT_SPLIT = "train=0.9,val=0.05,test=0.05"


def parse_split_spec(text: str) -> SplitSpec:
    """Parse ``"train=0.9,val=0.05,test=0.05"`` or ``"train=*,val=300,test=150"``.

    Fractions are values containing a ``.``; integers are identity counts; ``*`` is the remainder.
    """
    spec: SplitSpec = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        name, eq, val = part.partition("=")
        name, val = name.strip(), val.strip()
        if not eq or name not in SPLITS:
            raise ConfigError(f"split: bad entry {part!r}; expected NAME=VALUE with NAME in {', '.join(SPLITS)}")
        if name in spec:
            raise ConfigError(f"split: {name!r} given twice in {text!r}")
        if val == "*":
            spec[name] = None
            continue
        try:
            spec[name] = float(val) if ("." in val or "e" in val.lower()) else int(val)
        except ValueError:
            raise ConfigError(f"split: value {val!r} for {name!r} is not a number or '*'") from None
        if spec[name] < 0:  # type: ignore[operator]
            raise ConfigError(f"split: value for {name!r} must be >= 0, got {val}")
    if not spec:
        raise ConfigError(f"split: nothing to split in {text!r}")
    kinds = {type(v) for v in spec.values() if v is not None}
    if len(kinds) > 1:
        raise ConfigError(f"split: mix of fractions and counts in {text!r}; use one kind")
    stars = sum(v is None for v in spec.values())
    if stars > 1:
        raise ConfigError(f"split: at most one '*' allowed, got {text!r}")
    if kinds == {float} and stars == 0 and not math.isclose(sum(spec.values()), 1.0, abs_tol=1e-6):  # type: ignore[arg-type]
        raise ConfigError(f"split: fractions must sum to 1, got {sum(spec.values())} in {text!r}")  # type: ignore[arg-type]
    return spec


def split_sizes(spec: SplitSpec, n: int) -> dict[str, int]:
    """Number of identities per split for ``n`` identities (see the module docstring)."""
    sizes = {s: 0 for s in SPLITS}
    star = next((k for k, v in spec.items() if v is None), None)
    fixed = {k: v for k, v in spec.items() if v is not None}
    if any(isinstance(v, float) for v in fixed.values()):
        total_frac = sum(float(v) for v in fixed.values())
        if star is not None:
            if total_frac > 1 + 1e-9:
                raise ConfigError(f"split: fractions sum to {total_frac} > 1 next to '*'")
            fixed[star] = 1.0 - total_frac
        raw = {k: float(v) * n for k, v in fixed.items()}
        base = {k: math.floor(r) for k, r in raw.items()}
        left = n - sum(base.values())
        for k in sorted(raw, key=lambda k: (-(raw[k] - base[k]), SPLITS.index(k)))[:left]:
            base[k] += 1
        for k in sorted(base, key=SPLITS.index):  # every positive fraction gets one identity if possible
            if fixed[k] > 0 and base[k] == 0:
                donor = max(base, key=lambda d: (base[d], -SPLITS.index(d)))
                if base[donor] > 1:
                    base[donor] -= 1
                    base[k] += 1
        sizes.update(base)
        return sizes
    counts = {k: int(v) for k, v in fixed.items()}
    if sum(counts.values()) > n:
        raise ConfigError(f"split asks for {sum(counts.values())} identities but only {n} have references")
    sizes.update(counts)
    if star is not None:
        sizes[star] = n - sum(counts.values())
    return sizes


def identity_strata(image_identity: Mapping[str, str], image_value: Mapping[str, str]) -> dict[str, str]:
    """Group value per identity: the most frequent value among its images (ties: smallest value);
    identities none of whose images has a value get ``"unknown"``."""
    votes: dict[str, dict[str, int]] = {}
    for img, ident in image_identity.items():
        v = image_value.get(img)
        if v is None or v == "":
            continue
        d = votes.setdefault(ident, {})
        d[str(v)] = d.get(str(v), 0) + 1
    out: dict[str, str] = {}
    for ident in set(image_identity.values()):
        tally = votes.get(ident) or {}
        out[ident] = min(tally, key=lambda v: (-tally[v], v)) if tally else "unknown"
    return out


def split_identities(keys: Sequence[str], spec: SplitSpec, *, seed: int,
                     strata: Mapping[str, str] | None = None) -> dict[str, str]:
    """Assign each identity key to "train", "val" or "test".

    Args:
        keys: identity keys (unique; order is irrelevant, they are sorted first).
        spec: from :func:`parse_split_spec`.
        seed: split seed.
        strata: optional identity key -> group value; balances groups in the test split.

    Returns:
        identity key -> split name.
    """
    ordered = sorted(set(keys))
    if len(ordered) != len(keys):
        raise ConfigError("split_identities: identity keys must be unique")
    sizes = split_sizes(spec, len(ordered))
    rng = item_generator(seed, "refgroups", "split")
    perm = [ordered[k] for k in rng.permutation(len(ordered))]
    out: dict[str, str] = {}
    if strata is not None and sizes["test"] > 0:
        groups: dict[str, list[str]] = {}
        for k in perm:  # already shuffled: order inside a group is random
            groups.setdefault(str(strata.get(k, "unknown")), []).append(k)
        names = sorted(groups)
        pos = {g: 0 for g in names}
        taken = 0
        while taken < sizes["test"]:
            progressed = False
            for g in names:
                if taken >= sizes["test"]:
                    break
                if pos[g] < len(groups[g]):
                    out[groups[g][pos[g]]] = "test"
                    pos[g] += 1
                    taken += 1
                    progressed = True
            if not progressed:  # pragma: no cover - sizes never exceed the identities
                break
        rest = [k for k in perm if k not in out]
    else:
        for k in perm[:sizes["test"]]:
            out[k] = "test"
        rest = perm[sizes["test"]:]
    for k in rest[:sizes["val"]]:
        out[k] = "val"
    for k in rest[sizes["val"]:sizes["val"] + sizes["train"]]:
        out[k] = "train"
    for k in rest[sizes["val"] + sizes["train"]:]:  # counts that leave identities over: they go to train
        out[k] = "train"
    return out

