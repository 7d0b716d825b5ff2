"""FFHQ-Ref file format round trip, parsed the way ReF-LDM's loader parses it."""

from __future__ import annotations

import ast

import pandas as pd
import pytest

from bfrbench.errors import ArtifactError
from bfrbench.refgroups.ffhqref import (
    read_ffhqref,
    read_reference_csv,
    read_split_file,
    write_reference_csv,
    write_split_file,
)


def test_round_trip_like_refldm_loader(tmp_path):
    mapping = {"00001.png": ["00007.png", "00003.png"], "sub/x, y.png": ["it's.png", 'q"uote.png', "00002.png"],
               "00009.png": ["00010.png"]}
    f = tmp_path / "reference_mapping" / "test_references.csv"
    write_reference_csv(f, list(mapping.items()), with_lq=True)
    # ReF-LDM ldm/data/ir.py: pd.read_csv, then df['ref_image'].apply(literal_eval); gt/lq joined to dirs
    df = pd.read_csv(f)
    assert list(df.columns) == ["gt_image", "lq_image", "ref_image"]
    df["ref_image"] = df["ref_image"].apply(ast.literal_eval)
    assert dict(zip(df["gt_image"], df["ref_image"])) == mapping
    assert list(df["lq_image"]) == list(mapping)  # FFHQ-Ref names LQ test images like their GT
    assert list(df["gt_image"]) == list(mapping)  # row order preserved
    assert read_reference_csv(f) == mapping
    text = f.read_text()
    assert text.splitlines()[1] == "00001.png,00001.png,\"['00007.png', '00003.png']\""


def test_train_csv_has_no_lq_column_and_split_files(tmp_path):
    write_reference_csv(tmp_path / "reference_mapping" / "train_references.csv", [("a.png", ["b.png"])], with_lq=False)
    write_split_file(tmp_path / "id_based_ffhq_split" / "train_image.txt", ["b.png", "a.png", "c.png"])
    df = pd.read_csv(tmp_path / "reference_mapping" / "train_references.csv")
    assert list(df.columns) == ["gt_image", "ref_image"]
    assert read_split_file(tmp_path / "id_based_ffhq_split" / "train_image.txt") == ["a.png", "b.png", "c.png"]
    refs, splits = read_ffhqref(tmp_path)
    assert refs == {"train": {"a.png": ["b.png"]}} and splits == {"train": ["a.png", "b.png", "c.png"]}


def test_bad_csv_is_reported(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("gt_image,ref_image\na.png,not a list\n")
    with pytest.raises(ArtifactError, match="a.png"):
        read_reference_csv(f)
    with pytest.raises(ArtifactError, match="no reference_mapping"):
        read_ffhqref(tmp_path / "empty")


def test_public_api_is_complete():
    import bfrbench.refgroups as rg

    assert [n for n in rg.__all__ if not hasattr(rg, n)] == []
