"""bfrbench.io.images: decode policy (formats, bit depths, modes, EXIF, bomb guard, errors), PNG encoding."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from bfrbench.errors import ImageError
from bfrbench.io import encode_png, images, list_images, read_image, write_png


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    base = np.zeros((24, 32, 3), np.uint8)
    base[..., 0] = np.arange(32, dtype=np.uint8)[None, :] * 8
    base[..., 1] = np.arange(24, dtype=np.uint8)[:, None] * 10
    base[..., 2] = 255 - (np.arange(24)[:, None] * 4 + np.arange(32)[None, :] * 3).astype(np.uint8)
    return base


@pytest.mark.parametrize("fmt,suffix,lossless", [("PNG", ".png", True), ("TIFF", ".tif", True),
                                                 ("WEBP", ".webp", True), ("JPEG", ".jpg", False),
                                                 ("BMP", ".bmp", True)])
def test_formats_decode_to_rgb_uint8(tmp_path: Path, rgb: np.ndarray, fmt: str, suffix: str, lossless: bool) -> None:
    f = tmp_path / f"x{suffix}"
    kw = {"lossless": True} if fmt == "WEBP" else ({"quality": 95} if fmt == "JPEG" else {})
    Image.fromarray(rgb).save(f, fmt, **kw)
    out = read_image(f)
    assert out.dtype == np.uint8 and out.shape == (24, 32, 3)
    if lossless:
        np.testing.assert_array_equal(out, rgb)
    else:  # JPEG: close to the original, and R/G/B not swapped
        assert np.abs(out.astype(int) - rgb.astype(int)).mean() < 6
        for c in range(3):
            assert np.corrcoef(out[..., c].ravel(), rgb[..., c].ravel())[0, 1] > 0.95


def test_gray_8bit_replicated(tmp_path: Path) -> None:
    g = (np.arange(20 * 10) % 256).astype(np.uint8).reshape(10, 20)
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], g)


def test_gray_16bit_scaled_by_257(tmp_path: Path) -> None:
    g16 = np.array([[0, 257, 65535, 1000], [128, 32896, 40000, 65534]], dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    out = read_image(tmp_path / "g16.png")
    expect = np.clip(np.rint(g16 / 257.0), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expect)
    np.testing.assert_array_equal(out[..., 2], expect)


def test_rgb_16bit_png_scaled_by_257_and_channel_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rgb16 = rng.integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    out = read_image(tmp_path / "c16.png")
    np.testing.assert_array_equal(out, np.clip(np.rint(rgb16 / 257.0), 0, 255).astype(np.uint8))


def test_float_tiff_clipped_and_nan_refused(tmp_path: Path) -> None:
    v = np.array([[-0.5, 0.0, 0.5], [0.999, 1.0, 7.0]], dtype=np.float32)
    Image.fromarray(v, mode="F").save(tmp_path / "f.tif")
    got = read_image(tmp_path / "f.tif")
    assert got.shape == (2, 3, 3) and (got[..., 0] == [[0, 0, 128], [255, 255, 255]]).all()
    v[0, 1] = np.nan
    Image.fromarray(v, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(ImageError, match=r"nan\.tif: float image has 1 NaN/inf pixel"):
        read_image(tmp_path / "nan.tif")


def test_rgba_composited_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [[0, 128, 255], [64, 255, 0]]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    a = rgba[..., 3:4] / 255.0
    expect = np.rint(rgba[..., :3] * a + 255 * (1 - a)).astype(np.uint8)
    np.testing.assert_array_equal(out, expect)
    assert out[0, 0].tolist() == [255, 255, 255]  # fully transparent -> white


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    pal = Image.new("P", (4, 2))
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.putdata([0, 1, 0, 1, 1, 1, 0, 0])
    pal.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert out[0, 0].tolist() == [10, 20, 30] and out[0, 1].tolist() == [200, 100, 50]
    pal.save(tmp_path / "pt.png", transparency=0)
    out_t = read_image(tmp_path / "pt.png")
    assert out_t[0, 0].tolist() == [255, 255, 255] and out_t[0, 1].tolist() == [200, 100, 50]


def test_exif_orientation_applied(tmp_path: Path) -> None:
    arr = np.zeros((10, 30, 3), np.uint8)
    arr[:, :5] = 255  # white band on the left of the stored pixels
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "o.jpg", quality=100, exif=exif.tobytes())
    out = read_image(tmp_path / "o.jpg")
    assert out.shape == (30, 10, 3)
    assert out[:5].mean() > 200 and out[-5:].mean() < 50  # the band is now at the top


def test_decompression_bomb_limit_names_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "big.png"
    Image.new("RGB", (40, 30)).save(f)
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ImageError) as ei:
        read_image(f)
    assert str(f) in str(ei.value) and "1200" in str(ei.value) and "BFRBENCH_MAX_PIXELS" in str(ei.value)


@pytest.mark.parametrize("content,problem", [(b"", "empty"), (b"hello, not an image", "not a recognised"),
                                             (None, "not found")])
def test_errors_name_the_file(tmp_path: Path, content: bytes | None, problem: str) -> None:
    f = tmp_path / "bad.png"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(ImageError) as ei:
        read_image(f)
    assert ei.value.path == str(f) and problem in str(ei.value)


def test_truncated_png_is_an_image_error(tmp_path: Path, rgb: np.ndarray) -> None:
    f = tmp_path / "t.png"
    data = encode_png(np.ascontiguousarray(np.tile(rgb, (8, 8, 1))))
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as ei:
        read_image(f)
    assert str(f) in str(ei.value)


def test_folder_and_min_size(tmp_path: Path, rgb: np.ndarray) -> None:
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)
    Image.fromarray(rgb).save(tmp_path / "s.png")
    with pytest.raises(ImageError, match="32x24, smaller than the minimum 30x30"):
        read_image(tmp_path / "s.png", min_size=30)


def test_png_roundtrip_deterministic_bytes(tmp_path: Path, rgb: np.ndarray) -> None:
    data = write_png(tmp_path / "w.png", rgb)
    assert data == encode_png(rgb.copy()) == (tmp_path / "w.png").read_bytes()
    np.testing.assert_array_equal(read_image(tmp_path / "w.png"), rgb)
    assert b"tEXt" not in data and b"tIME" not in data
    with pytest.raises(ValueError, match="RGB uint8"):
        encode_png(rgb.astype(np.float32))


def test_list_images_sorted_recursive_skips_hidden(tmp_path: Path) -> None:
    for rel in ["b.png", "a/c.JPG", ".hidden/x.png", "a/.y.png", "notes.txt", "a/b/d.webp"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    got = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert got == ["a/b/d.webp", "a/c.JPG", "b.png"]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_array_orientation_matches_pillow_exif_transpose(rgb: np.ndarray, orientation: int) -> None:
    from PIL import ImageOps

    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    img2 = Image.open(__import__("io").BytesIO(_png_with_exif(img, exif)))
    expect = np.asarray(ImageOps.exif_transpose(img2).convert("RGB"))
    np.testing.assert_array_equal(images._orient(rgb, orientation), expect)


def _png_with_exif(img: Image.Image, exif: Image.Exif) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, "PNG", exif=exif.tobytes())
    return buf.getvalue()
