"""How a step asserts a Finding: record it for the report, then pass, fail or
end the scenario as not verifiable. Used by the `check` and `record` fixtures."""
from __future__ import annotations

import json

import pytest

from provision.findings import Finding
from provision.report.outcomes import NOT_VERIFIABLE_PREFIX


def record(node, finding: Finding) -> Finding:
    """Keep the Finding on the test item (it reaches results.json and the sign-off report)."""
    node.user_properties.append(("finding", json.loads(json.dumps(finding.as_dict()))))
    return finding


def check(node, finding: Finding) -> Finding:
    """Record, then: passed -> return it; unverifiable -> not verifiable on this target; failed -> fail."""
    record(node, finding)
    if finding.unverifiable:
        # The probe could not see what it checks: the scenario is not verifiable here, never passed.
        pytest.skip(f"{NOT_VERIFIABLE_PREFIX} this target: {finding.line()}")
    if not finding.ok:
        pytest.fail("\n".join([finding.line(), *finding.evidence]), pytrace=False)
    return finding
