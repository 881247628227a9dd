"""The requirement/property catalog, its release grades, and the scenarios of the feature files."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

from ..config import ROOT
from ..findings import GRADES
from .outcomes import TARGETS, tagged_for

FEATURES_DIR = ROOT / "features"
CATALOG_FILE = FEATURES_DIR / "catalog.yaml"
ID_RE = re.compile(r"^(R\d+\.\d+|P\d+|T\d+)$")
TARGET_TAGS = ("offline", "rehearsal", "live")


@dataclass(frozen=True)
class Scenario:
    feature: str  # feature file name, e.g. "deploy.feature"
    name: str
    tags: tuple[str, ...]
    line: int

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t for t in self.tags if ID_RE.match(t))

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t for t in self.tags if t in TARGET_TAGS)


@cache
def _data(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


@cache
def catalog(path: Path = CATALOG_FILE) -> dict[str, str]:
    """Every ID -> its short text, requirements first, in catalog order."""
    data = _data(path)
    out = dict(data["requirements"])
    out.update({k: v["text"] for k, v in data["properties"].items()})
    # Tasks of the original plan that no requirement states (their scenarios cite the task, not a
    # requirement they do not verify).
    out.update({k: v["text"] for k, v in (data.get("tasks") or {}).items()})
    return out


def release(path: Path = CATALOG_FILE) -> dict[str, dict[str, str]]:
    """Every ID -> {target: the evidence grade a release needs from that target's run}."""
    return {k: dict(v or {}) for k, v in (_data(path).get("release") or {}).items()}


def groups(path: Path = CATALOG_FILE) -> dict[str, str]:
    """Requirement group -> its title (R1 -> "Deploy on EKS"); the properties are one group, P."""
    return dict(_data(path).get("groups") or {})


def group_of(id_: str) -> str:
    """R1.3 -> R1, P4 -> P, T18 -> T."""
    return id_.split(".")[0] if id_.startswith("R") else id_[0]


def release_problems(rel: dict | None = None, cat: dict[str, str] | None = None,
                     scs: list[Scenario] | None = None) -> list[str]:
    """What is wrong with the release grades: missing or unknown IDs, bad targets or grades,
    a need on a target where no scenario of the ID runs."""
    rel = release() if rel is None else rel
    cat = catalog() if cat is None else cat
    scs = scenarios() if scs is None else scs
    out = [f"{i}: no release grade in the catalog" for i in cat if i not in rel]
    out += [f"release: unknown ID {i}" for i in rel if i not in cat]
    for i, needs in rel.items():
        if not needs:
            out.append(f"{i}: release names no target")
        for target, grade in needs.items():
            if target not in TARGETS:
                out.append(f"{i}: release target {target!r} is not one of {', '.join(TARGETS)}")
            elif not any(i in s.ids and tagged_for(target, s.tags) for s in scs):
                out.append(f"{i}: release needs {grade} on {target}, but no scenario of {i} runs there")
            if grade not in GRADES:
                out.append(f"{i}: release grade {grade!r} on {target} is not one of {', '.join(GRADES)}")
    return out


def scenarios(features_dir: Path = FEATURES_DIR) -> list[Scenario]:
    """All scenarios of all feature files, with feature tags folded into each."""
    out = []
    for path in sorted(Path(features_dir).glob("*.feature")):
        doc = Parser().parse(TokenScanner(path.read_text()))
        feature = doc.get("feature") or {}
        ftags = [t["name"].lstrip("@") for t in feature.get("tags", [])]
        for child in feature.get("children", []):
            sc = child.get("scenario")
            if not sc:
                continue
            tags = ftags + [t["name"].lstrip("@") for t in sc.get("tags", [])]
            for ex in sc.get("examples", []):
                tags += [t["name"].lstrip("@") for t in ex.get("tags", [])]
            out.append(Scenario(path.name, sc["name"], tuple(dict.fromkeys(tags)), sc["location"]["line"]))
    return out


def problems(cat: dict[str, str] | None = None, scs: list[Scenario] | None = None) -> list[str]:
    """What the traceability meta-test complains about; empty when all is well."""
    cat = catalog() if cat is None else cat
    scs = scenarios() if scs is None else scs
    out = []
    cited = {i for s in scs for i in s.ids}
    for i in cat:
        if i not in cited:
            out.append(f"{i}: no scenario cites it")
    for s in scs:
        where = f"{s.feature}:{s.line} {s.name!r}"
        for t in s.tags:
            if re.match(r"^[RPT]\d", t) and t not in cat:
                out.append(f"{where}: cites unknown ID @{t}")
        if not s.ids:
            out.append(f"{where}: cites no catalog ID")
        if not s.targets:
            out.append(f"{where}: has no target tag (@offline, @rehearsal or @live)")
    return out + release_problems(cat=cat, scs=scs)
