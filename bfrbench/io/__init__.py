"""Image decode/encode policy, atomic writes and hashing used by every stage."""

from bfrbench.io.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, canonical_json
from bfrbench.io.hashing import sha256_bytes, sha256_file, sha256_json
from bfrbench.io.images import IMAGE_SUFFIXES, MAX_PIXELS, encode_png, list_images, read_image, write_png

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "canonical_json",
    "encode_png",
    "list_images",
    "read_image",
    "sha256_bytes",
    "sha256_file",
    "sha256_json",
    "write_png",
]
