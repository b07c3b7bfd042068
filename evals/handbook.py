"""The sample handbook, indexed into its own collection so evaluations never touch real documents."""

from __future__ import annotations

from core.errors import DocumentError
from core.paths import SAMPLES

HANDBOOK = SAMPLES / "handbook"
EVAL_COLLECTION = "eval-handbook"


def ensure_indexed(services, progress=None) -> str:
    """Index (incrementally: unchanged files are skipped) and return the collection name."""
    report = services.indexer.index_paths([HANDBOOK], EVAL_COLLECTION, progress)
    if report.failed:
        raise DocumentError(f"the sample handbook did not index: {report.failed}")
    return EVAL_COLLECTION
