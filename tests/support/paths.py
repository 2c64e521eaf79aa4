"""Where tests find the repository and the upstream reference data (../shared/reference)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("MLPLAT_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))


def reference(*parts: str) -> Path:
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        raise AssertionError(
            f"upstream reference data missing: {path}. The tests read ../shared/reference (CRDs, chart values, metric "
            f"lists) next to the repository; set MLPLAT_REFERENCE_DIR to its location."
        )
    return path
