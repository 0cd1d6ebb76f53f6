"""template.yaml with one change, written beside a test: for tests that deploy what the template
would be if someone edited it (a setting added, a permission removed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from infra.runtime import template as tpl


def variant(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Write template.yaml with `change(resources)` applied; short-form tags (!Ref, !Sub...)
    survive the round trip as text."""
    sam = yaml.safe_load(tpl.TEMPLATE_PATH.read_text().replace("!", "__BANG__"))
    change(sam["Resources"])
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(sam, sort_keys=False).replace("__BANG__", "!"))
    return path
