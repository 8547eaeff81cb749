"""JUnit XML for CI dashboards: one `testcase` per chat case, a broken file as an `error`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tui.chattest.cases import ChatCase, shown


@dataclass(frozen=True)
class JunitCase:
    """A case's line in the report: failure text when it failed; a broken file has no case."""

    case: ChatCase | None
    seconds: float
    failure: str | None
    error_name: str | None = None


def write_junit(path: Path, cases: list[JunitCase]) -> None:
    """Write the report (JUnit's common schema, as pytest's --junitxml writes it)."""
    failures = sum(1 for c in cases if c.case is not None and c.failure is not None)
    errors = sum(1 for c in cases if c.case is None)
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root,
        "testsuite",
        name="steadychat test",
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{sum(c.seconds for c in cases):.3f}",
    )
    for item in cases:
        if item.case is None:
            element = ET.SubElement(
                suite, "testcase", classname="steadychat.broken", name=item.error_name or "", time="0"
            )
            ET.SubElement(element, "error", message=item.failure or "").text = item.failure
            continue
        case = item.case
        element = ET.SubElement(
            suite,
            "testcase",
            classname=shown(case.file).removesuffix(".chat.yaml").replace("/", "."),
            name=case.name,
            file=shown(case.file),
            line=str(case.line),
            time=f"{item.seconds:.3f}",
        )
        if item.failure is not None:
            first = item.failure.splitlines()[0] if item.failure else "failed"
            ET.SubElement(element, "failure", message=first).text = item.failure
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
