"""The inputs under the paths `provision check` is given: kustomizations (rendered from their roots),
plain manifests, workflows, CloudFormation templates, every text file (for the secret scan), and the
settings.yaml that switches this project's policy rules on. A file that does not parse is kept with its
reason: it becomes a finding, never a crash."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import config, errors
from ..aws.cfn import load as cfn_load
from ..ci import workflow_model

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", ".ruff_cache"}
MAX_BYTES = 2_000_000
NO_PATH = "check: {path} does not exist"
BAD_SETTINGS = "check: settings {path}: {why}"
_DOC_START = re.compile(r"^---")


@dataclass
class Inputs:
    root: Path
    settings: dict | None = None
    settings_path: Path | None = None
    kustomizations: list[Path] = field(default_factory=list)   # roots: rendered one by one
    manifests: dict[Path, list[dict]] = field(default_factory=dict)   # plain files -> their objects
    workflows: list[Path] = field(default_factory=list)
    templates: list[Path] = field(default_factory=list)
    text_files: list[Path] = field(default_factory=list)
    malformed: dict[Path, str] = field(default_factory=dict)
    skipped: dict[Path, str] = field(default_factory=dict)
    index: dict[str, tuple[Path, int]] = field(default_factory=dict)   # "Kind/name" -> where it is written

    def rel(self, p: Path | str) -> str:
        p = Path(p)
        try:
            return str(p.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(p)


def default_paths() -> tuple[Path, list[Path]]:
    """This repository's inputs: its overlays' top directory, its workflows, its templates."""
    envs = config.settings()["environments"].values()
    tops = sorted({Path(e[k]).parts[0] for e in envs for k in ("overlay", "cluster_overlay") if e.get(k)})
    return config.ROOT, [config.ROOT / t for t in tops] + [workflow_model.WORKFLOWS_DIR, cfn_load.TEMPLATE_DIR]


def read_settings(path: Path) -> dict:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise errors.BadInput(BAD_SETTINGS.format(path=path, why=str(exc).splitlines()[0])) from None
    if not isinstance(doc, dict):
        raise errors.BadInput(BAD_SETTINGS.format(path=path, why="not a mapping"))
    return doc


def _walk(path: Path):
    if path.is_file():
        yield path
        return
    for p in sorted(path.iterdir()):
        if p.is_dir():
            if p.name in SKIP_DIRS or (p.name.startswith(".") and p.name != ".github"):
                continue
            yield from _walk(p)
        elif p.is_file():
            yield p


def documents(text: str) -> list[tuple[int, object]]:
    """(first line, parsed document) of each YAML document; yaml.YAMLError when one does not parse."""
    starts, chunks, cur = [1], [], []
    for n, line in enumerate(text.splitlines(), 1):
        if _DOC_START.match(line) and cur:
            chunks.append(cur)
            cur, starts = [], starts + [n + 1]
        elif _DOC_START.match(line):
            starts[-1] = n + 1
        else:
            cur.append(line)
    chunks.append(cur)
    # CloudFormation's short tags (!Ref, !Sub) read as their long forms; otherwise a SafeLoader
    loader = cfn_load._CfnLoader  # noqa: SLF001 - the one loader of templates
    return [(s, yaml.load("\n".join(c), Loader=loader)) for s, c in zip(starts, chunks, strict=False)]  # noqa: S506


def _is_template(doc) -> bool:
    res = doc.get("Resources") if isinstance(doc, dict) else None
    return isinstance(res, dict) and ("AWSTemplateFormatVersion" in doc or any(
        isinstance(r, dict) and str(r.get("Type", "")).startswith("AWS::") for r in res.values()))


def _is_workflow(p: Path, doc) -> bool:
    in_dir = p.parent.name == "workflows" and p.parent.parent.name == ".github"
    return isinstance(doc, dict) and "jobs" in doc and (in_dir or True in doc or "on" in doc)


def _kustomize_refs(kdir: Path, doc) -> list[Path]:
    entries = [e for k in ("resources", "bases", "components") for e in (doc or {}).get(k) or []
               if isinstance(e, str) and "://" not in e]
    return [(kdir / e).resolve() for e in entries]


def discover(paths: list[Path], settings_file: Path | None = None) -> Inputs:
    """Classify every file under `paths`; settings from `settings_file` or <root>/settings.yaml."""
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.exists():
            raise errors.BadInput(NO_PATH.format(path=p))
    root = _common(paths)
    found = Path(settings_file) if settings_file else root / "settings.yaml"
    inputs = Inputs(root=root)
    if settings_file or found.is_file():
        inputs.settings, inputs.settings_path = read_settings(found), found
    kdirs: dict[Path, object] = {}
    parsed: dict[Path, list[tuple[int, object]]] = {}
    for top in paths:
        for p in _walk(top):
            docs = _read(inputs, p)
            if docs is None:
                continue
            if p.name in KUSTOMIZATION_NAMES:
                kdirs[p.parent.resolve()] = docs[0][1] if docs else {}
            else:
                parsed[p] = docs
    _classify(inputs, kdirs, parsed)
    return inputs


def _read(inputs: Inputs, p: Path) -> list[tuple[int, object]] | None:
    """The documents of a YAML/JSON file (None for other files); text files are noted for the secret scan."""
    if p.stat().st_size > MAX_BYTES:
        return None
    try:
        text = p.read_text()
    except (UnicodeDecodeError, OSError):
        return None   # binary
    inputs.text_files.append(p)
    if p.suffix not in (".yaml", ".yml", ".json") and p.name != "Kustomization":
        return None
    if "{{" in text and any((a / "Chart.yaml").exists() for a in p.parents):
        inputs.skipped[p] = "Helm chart template: render it first (helm template), then check the output"
        return None
    try:
        return [(1, json.loads(text))] if p.suffix == ".json" else documents(text)
    except (ValueError, yaml.YAMLError) as exc:
        if p.suffix != ".json" or '"Resources"' in text:
            inputs.malformed[p] = f"does not parse: {str(exc).splitlines()[0]}"
        return None


def _classify(inputs: Inputs, kdirs: dict[Path, object], parsed: dict[Path, list[tuple[int, object]]]) -> None:
    referenced = {r for kdir, doc in kdirs.items() for r in _kustomize_refs(kdir, doc)}
    inputs.kustomizations = sorted(k for k in kdirs if k not in referenced)
    for p, docs in parsed.items():
        first = docs[0][1] if docs else None
        if _is_template(first):
            inputs.templates.append(p)
            continue
        if len(docs) == 1 and _is_workflow(p, first):
            inputs.workflows.append(p)
            continue
        objs = []
        for line, d in docs:
            if isinstance(d, dict) and d.get("apiVersion") and d.get("kind"):
                objs.append(d)
                name = (d.get("metadata") or {}).get("name")
                inputs.index.setdefault(f"{d['kind']}/{name}", (p, line))
        covered = p.resolve() in referenced or any(a.resolve() in kdirs for a in p.parents)
        if objs and not covered:
            inputs.manifests[p] = objs


def _common(paths: list[Path]) -> Path:
    resolved = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    common = resolved[0]
    while not all(r == common or common in r.parents for r in resolved):
        common = common.parent
    return common
