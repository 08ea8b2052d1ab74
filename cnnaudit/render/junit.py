"""JUnit XML for CI test reports (GitLab, Jenkins, GitHub test-report actions).

One <testsuite> per model and one <testcase> per (model, board). FAIL is a <failure> with
the reasons; WARN passes (a warning must not block a merge) and says why in <system-out>,
as does every board's numbers. A model that could not be audited is one testcase with an
<error>.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..batch import Batch
from ..report import Report
from ..verdict import BoardResult, Verdict, kib

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: object) -> str:
    """Text XML 1.0 can hold (a model file may put anything in its names)."""
    return _NOT_XML.sub("?", str(text))


def _numbers(r: BoardResult) -> str:
    text = (f"{r.verdict.value}: RAM {kib(r.ram_bytes)} of {kib(r.board.ram_budget_bytes)}, "
            f"flash {kib(r.flash_bytes)} of {kib(r.board.flash_budget_bytes)}, "
            f"headroom {r.headroom_pct:.1f} %")
    if r.latency_ms is not None:
        text += f", latency {r.latency_ms:,.1f} ms"
    return text


def _suite(parent: ET.Element, report: Report) -> tuple[int, int]:
    m = report.model
    fails = sum(b.verdict is Verdict.FAIL for b in report.boards)
    suite = ET.SubElement(parent, "testsuite", name=_x(m.source), tests=str(len(report.boards)),
                          failures=str(fails), errors="0", skipped="0", time="0")
    props = ET.SubElement(suite, "properties")
    for key, value in (("model", m.name), ("dtype", m.dtype), ("params", m.params),
                       ("macs", m.macs), ("flash_bytes", m.flash_bytes),
                       ("arena_bytes", m.arena_bytes), *report.budgets):
        ET.SubElement(props, "property", name=_x(key), value=_x(value))
    for r in report.boards:
        case = ET.SubElement(suite, "testcase", classname=_x(m.name), name=_x(r.board.id),
                             time="0")
        if r.verdict is Verdict.FAIL:
            failure = ET.SubElement(case, "failure", type="FAIL",
                                    message=_x("; ".join(r.reasons)))
            failure.text = _x("\n".join(r.reasons))
        out = _numbers(r) + "".join(f"\n{reason}" for reason in r.reasons)
        ET.SubElement(case, "system-out").text = _x(out)
    return len(report.boards), fails


def render_junit(batch: Batch) -> str:
    root = ET.Element("testsuites", name="cnnaudit")
    tests = failures = errors = 0
    for outcome in batch.outcomes:
        if outcome.report is not None:
            n, f = _suite(root, outcome.report)
            tests, failures = tests + n, failures + f
            continue
        suite = ET.SubElement(root, "testsuite", name=_x(outcome.model), tests="1",
                              failures="0", errors="1", skipped="0", time="0")
        case = ET.SubElement(suite, "testcase", classname="cnnaudit", name="audit", time="0")
        error = ET.SubElement(case, "error", type="internal" if outcome.internal else "input",
                              message=_x(outcome.error or ""))
        error.text = _x(outcome.error or "")
        tests, errors = tests + 1, errors + 1
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"
