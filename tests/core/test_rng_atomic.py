import json
import os

import numpy as np

from bfrbench.io import atomic_write_json, canonical_json, sha256_file, sha256_json
from bfrbench.rng import item_generator, item_seed


def test_item_generator_depends_only_on_seed_and_id():
    a = item_generator(7, "00001").random(5)
    b = item_generator(7, "00001").random(5)
    c = item_generator(7, "00002").random(5)
    d = item_generator(8, "00001").random(5)
    e = item_generator(7, "00001", stream="noise").random(5)
    np.testing.assert_array_equal(a, b)
    for other in (c, d, e):
        assert not np.allclose(a, other)
    s = item_seed(7, "00001")
    assert s == item_seed(7, "00001") and 0 <= s < 2**63 and s != item_seed(7, "00002")


def test_item_generator_known_value_is_stable_across_versions():
    # The derivation is part of the reproducibility contract (docs/reproducibility.md): SHA-256 of "0:a:".
    import hashlib

    key = hashlib.sha256(b"0:a:").digest()
    expected = np.random.Generator(np.random.PCG64(int.from_bytes(key[:16], "little"))).integers(0, 1 << 30)
    assert item_generator(0, "a").integers(0, 1 << 30) == expected


def test_atomic_json_is_canonical_and_leaves_no_temp_files(tmp_path):
    p = tmp_path / "sub" / "x.json"
    atomic_write_json(p, {"b": 1, "a": np.float32(0.5), "c": [np.int64(3)]})
    text = p.read_text()
    assert text == canonical_json({"a": 0.5, "b": 1, "c": [3]})
    assert json.loads(text) == {"a": 0.5, "b": 1, "c": [3]}
    assert os.listdir(p.parent) == ["x.json"]
    assert sha256_json({"a": 1, "b": 2}) == sha256_json({"b": 2, "a": 1})
    assert len(sha256_file(p)) == 64
