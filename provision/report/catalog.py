"""The requirement/property catalog and the scenarios of the feature files."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

from ..config import ROOT

FEATURES_DIR = ROOT / "features"
CATALOG_FILE = FEATURES_DIR / "catalog.yaml"
ID_RE = re.compile(r"^(R\d+\.\d+|P\d+)$")
TARGET_TAGS = ("offline", "live")


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
def catalog(path: Path = CATALOG_FILE) -> dict[str, str]:
    """Every ID -> its short text, requirements first, in catalog order."""
    data = yaml.safe_load(Path(path).read_text())
    out = dict(data["requirements"])
    out.update({k: v["text"] for k, v in data["properties"].items()})
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
            if re.match(r"^[RP]\d", t) and t not in cat:
                out.append(f"{where}: cites unknown ID @{t}")
        if not s.ids:
            out.append(f"{where}: cites no catalog ID")
        if not s.targets:
            out.append(f"{where}: has no target tag (@offline or @live)")
    return out
