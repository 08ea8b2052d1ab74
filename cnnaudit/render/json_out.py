"""The JSON documents (schema_version'd public contract, cnnaudit/schema/report.schema.json):
one report, a batch of reports, or a diff."""

from __future__ import annotations

import json
from typing import Any

from ..report import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def render_document(doc: dict[str, Any]) -> str:
    """Any of the documents' dicts (Batch.to_dict, ReportDiff.to_dict) as JSON text."""
    return json.dumps(doc, indent=2) + "\n"
