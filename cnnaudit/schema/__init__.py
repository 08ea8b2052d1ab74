"""The published JSON Schema (draft 2020-12) of every JSON document cnnaudit writes."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

FILE = "report.schema.json"


def schema_text() -> str:
    return resources.files(__name__).joinpath(FILE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text())
    return data
