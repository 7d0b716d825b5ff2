"""Reference groups: FFHQ-Ref-style identity groups, splits and reference lists from any face collection.

Pipeline (``bfrbench build refgroups``; see docs/refgroups.md): :mod:`.embed` (identity embeddings, cached
and sharded) -> :mod:`.graph` (exact pairs under a cosine-distance threshold, union-find components) ->
:mod:`.split` (identity-disjoint split) -> :mod:`.select` (de-duplicated, farthest-point-ordered references)
-> :mod:`.ffhqref` (FFHQ-Ref CSV/TXT files) + parquet + :mod:`.report` -> :mod:`.checks`.
:func:`attach_references` copies references into a degraded test set.
"""

from __future__ import annotations

from bfrbench.refgroups.attach import attach_references
from bfrbench.refgroups.build import build_from_embeddings, build_refgroups
from bfrbench.refgroups.checks import check_refgroups, content_digest
from bfrbench.refgroups.embed import (
    EmbeddingTable,
    embed_files,
    embed_folder,
    load_embeddings,
    save_embeddings,
)
from bfrbench.refgroups.ffhqref import (
    read_ffhqref,
    read_reference_csv,
    write_reference_csv,
)
from bfrbench.refgroups.graph import (
    NeighbourPairs,
    connected_components,
    neighbour_pairs,
    neighbour_pairs_distributed,
)
from bfrbench.refgroups.select import fps_order, select_references
from bfrbench.refgroups.split import parse_split_spec, split_identities

__all__ = [
    "EmbeddingTable", "NeighbourPairs", "attach_references", "build_from_embeddings", "build_refgroups",
    "check_refgroups", "connected_components", "content_digest", "embed_files", "embed_folder", "fps_order",
    "load_embeddings", "neighbour_pairs", "neighbour_pairs_distributed", "parse_split_spec", "read_ffhqref", "read_reference_csv",
    "save_embeddings", "select_references", "split_identities", "write_reference_csv",
]
