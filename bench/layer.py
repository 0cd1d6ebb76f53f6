"""The product's domain package (layers/timeline/python), importable from the benchmark: its
store layer writes the seed graph straight to the tables, as the demo loader does."""

from __future__ import annotations

import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[1] / "layers" / "timeline" / "python"


def import_layer() -> None:
    """Put the layer on sys.path (once)."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
