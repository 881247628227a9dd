"""The GitHub Actions workflows, parsed: `Workflow`, `parse`, `load`, and the helpers the checks share.

The checks are pure predicates on a parsed Workflow (no I/O), each returning a
static-grade Finding: workflow_checks (permissions, credentials, hygiene, the
pull-request workflow), deploy_checks (the deploy workflow), live_checks (the
nightly live verification). The linters and the seeded faults are in
provision.ci.lint.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import config, errors
from . import outputs

WORKFLOWS_DIR = config.ROOT / ".github" / "workflows"
DEPLOY = "deploy-aws-eks.yml"
LIVE = "verify-live.yml"
CI = "ci.yml"

BAD_WORKFLOW = "workflow {path}: {why}"

PIN = re.compile(r"^[0-9a-f]{40}$")  # an action pinned by full commit SHA
_STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")


@dataclass(frozen=True)
class Workflow:
    name: str
    path: Path
    text: str
    doc: dict

    def jobs(self) -> dict:
        return self.doc.get("jobs") or {}

    def job(self, job_id: str) -> dict:
        return self.jobs().get(job_id) or {}

    def triggers(self) -> dict:
        on = self.doc.get("on")
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return {t: None for t in on}
        return on or {}

    def steps(self):
        """(job id, index, step) of every step."""
        for job_id, job in self.jobs().items():
            for i, step in enumerate((job or {}).get("steps") or []):
                yield job_id, i, step

    def line_of(self, needle: str) -> int:
        for n, line in enumerate(self.text.splitlines(), 1):
            if needle in line:
                return n
        return 0


def parse(text: str, name: str = "workflow.yml", path: Path | None = None) -> Workflow:
    """Parse workflow text; YAML 1.1 reads the key `on` as True, so it is put back."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise errors.BadInput(BAD_WORKFLOW.format(path=name, why=f"invalid YAML: {str(exc).splitlines()[0]}")) from None
    if not isinstance(doc, dict) or "jobs" not in doc:
        raise errors.BadInput(BAD_WORKFLOW.format(path=name, why="not a workflow (no jobs mapping)"))
    if True in doc:
        doc["on"] = doc.pop(True)
    return Workflow(name, path or Path(name), text, doc)


def load(path: Path) -> Workflow:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise errors.BadInput(BAD_WORKFLOW.format(path=path, why=exc.strerror or str(exc))) from None
    return parse(text, path.name, path)


def workflow(name: str, directory: Path = WORKFLOWS_DIR) -> Workflow:
    return load(Path(directory) / name)


def committed(directory: Path = WORKFLOWS_DIR) -> list[Workflow]:
    paths = sorted(Path(directory).glob("*.yml")) + sorted(Path(directory).glob("*.yaml"))
    if not paths:
        raise errors.BadInput(BAD_WORKFLOW.format(path=directory, why="no workflow files"))
    return [load(p) for p in paths]


# ---- helpers the checks share ----------------------------------------------

def action_of(step: dict) -> tuple[str, str]:
    """('owner/repo[/path]', ref) of a `uses:` step, ('', '') for a run step."""
    uses = step.get("uses") or ""
    name, _, ref = uses.partition("@")
    return name, ref


def steps_using(wf: Workflow, action: str, job_id: str | None = None) -> list[tuple[str, int, dict]]:
    return [(j, i, s) for j, i, s in wf.steps() if action_of(s)[0] == action and (job_id is None or j == job_id)]


def label(job_id: str, i: int, step: dict) -> str:
    return f"job {job_id} step {i + 1} ({step.get('name') or step.get('uses') or step.get('id') or 'run'})"


def env_of(wf: Workflow, job_id: str, step: dict) -> dict:
    return {**(wf.doc.get("env") or {}), **(wf.job(job_id).get("env") or {}), **(step.get("env") or {})}


def is_always(cond) -> bool:
    return isinstance(cond, str) and "always()" in cond


def settings_outputs(wf: Workflow, job_id: str, env: str = "dev") -> dict[str, str]:
    """`${{ steps.<id>.outputs.<key> }}` -> value, for the steps that run provision.ci.outputs."""
    out = {}
    for j, _, step in wf.steps():
        if j == job_id and step.get("id") and "provision.ci.outputs" in str(step.get("run", "")):
            for k, v in outputs.values(env).items():
                out[f"${{{{ steps.{step['id']}.outputs.{k} }}}}"] = v
    return out


def resolve(value: str, known: dict[str, str]) -> str:
    """Replace the settings outputs a value refers to with their values."""
    return _STEP_OUTPUT.sub(lambda m: known.get(m.group(0), m.group(0)), str(value))


def run_lines(step: dict) -> list[str]:
    return [ln.strip() for ln in str(step.get("run", "")).splitlines() if ln.strip()]


def fmt_permissions(perms) -> str:
    if isinstance(perms, dict):
        return ", ".join(f"{k}: {v}" for k, v in sorted(perms.items())) or "{}"
    return str(perms)
