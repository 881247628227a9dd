"""Output of `provision check`: text (one line per issue), JSON, and SARIF 2.1.0 (the OASIS schema is
vendored next to this module, sarif-2.1.0.schema.json, for the tests)."""
from __future__ import annotations

import json
from pathlib import Path

from .issues import ERROR, Issue, Rule

FORMATS = ("text", "json", "sarif")
SARIF_SCHEMA = Path(__file__).with_name("sarif-2.1.0.schema.json")
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "provision check"


def summary(issues: list[Issue]) -> str:
    errors = sum(i.level == ERROR for i in issues)
    return f"{errors} findings" + (f", {len(issues) - errors} notes" if len(issues) > errors else "")


def text(issues: list[Issue], rules: list[Rule]) -> str:
    return "\n".join([i.text() for i in issues] + [summary(issues)])


def as_json(issues: list[Issue], rules: list[Rule]) -> str:
    return json.dumps({"findings": [i.as_dict() for i in issues], "summary": summary(issues),
                       "rules": [r.__dict__ for r in rules]}, indent=2)


def sarif(issues: list[Issue], rules: list[Rule]) -> str:
    """One run of one tool; every rule with its description, every issue a result with its location."""
    ids = [r.id for r in rules]
    results = []
    for i in issues:
        loc = {"artifactLocation": {"uri": i.file or ".", "uriBaseId": "SRCROOT"}}
        if i.line:
            loc["region"] = {"startLine": i.line}
        result = {"ruleId": i.rule, "level": i.level, "message": {"text": i.message},
                  "locations": [{"physicalLocation": loc}]}
        if i.rule in ids:
            result["ruleIndex"] = ids.index(i.rule)
        results.append(result)
    driver = {"name": TOOL_NAME, "rules": [
        {"id": r.id, "shortDescription": {"text": r.what}, "properties": {"kind": r.kind, "scope": r.scope}}
        for r in rules]}
    doc = {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0",
           "runs": [{"tool": {"driver": driver}, "results": results}]}
    return json.dumps(doc, indent=2)


def render(fmt: str, issues: list[Issue], rules: list[Rule]) -> str:
    return {"text": text, "json": as_json, "sarif": sarif}[fmt](issues, rules)
