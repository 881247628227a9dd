"""Style that a reviewer would otherwise have to catch: no value of settings.yaml
restated as a literal under provision/ (settings.yaml is the one source of truth)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from provision import config

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.static]

# Name-like values: cluster, node group, namespace, workloads, images, domains, account...
NAME_KEYS = [
    ("project",), ("aws", "account_id"), ("github", "repository"), ("images",), ("kubernetes",), ("domains",),
    ("backup", "database"), ("edge", "load_balancer_hostname"),
]
ENV_KEYS = ("cluster_name", "node_group")
MIN_LEN = 6
# "postgres" names the StatefulSet and the image after PostgreSQL itself; the word also
# names the server's binary, its superuser and database, which are not settings.
NOT_NAMES = {"postgres"}
# The one module for constants settings.yaml does not hold (label domains and the like).
CONSTANTS = "provision/constants.py"


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def name_values(settings: dict) -> set[str]:
    out: set[str] = set()
    for path in NAME_KEYS:
        node = settings
        for k in path:
            node = node.get(k, {}) if isinstance(node, dict) else {}
        out |= set(_strings(node))
    for env in settings["environments"].values():
        out |= {str(env[k]) for k in ENV_KEYS if k in env}
    return {v for v in out if len(v) >= MIN_LEN and v not in NOT_NAMES}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def literals_restating(source: str, values: set[str], filename: str = "<src>") -> list[str]:
    """'file:line: value' for every string literal (docstrings aside) naming one of `values` as a whole name."""
    tree = ast.parse(source, filename)
    skip = _docstrings(tree)
    pats = {v: re.compile(rf"(?<![A-Za-z0-9_.-]){re.escape(v)}(?![A-Za-z0-9_-]|\.[A-Za-z0-9])") for v in values}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            for v, pat in pats.items():
                if pat.search(node.value):
                    out.append(f"{filename}:{node.lineno}: {v!r}")
    return out


def test_no_settings_value_is_restated_under_provision():
    values = name_values(config.settings())
    found = []
    for path in sorted((config.ROOT / "provision").rglob("*.py")):
        if str(path.relative_to(config.ROOT)) == CONSTANTS:
            continue
        found += literals_restating(path.read_text(), values, str(path.relative_to(config.ROOT)))
    assert not found, "values of settings.yaml restated as literals (read them from settings):\n" + "\n".join(found)


def test_the_scan_sees_a_restated_namespace_and_node_group():
    values = name_values(config.settings())
    ns = config.settings()["kubernetes"]["namespace"]
    ng = config.settings()["environments"]["dev"]["node_group"]
    src = f'"""docstring naming {ns} is fine"""\nNS = "{ns}"\nX = f"{{a}}/{ng}"\nOK = "{ns}-provision"\n'
    assert literals_restating(src, values) == [f"<src>:2: {ns!r}", f"<src>:3: {ng!r}"]


def test_name_values_cover_the_kinds_of_names():
    values = name_values(config.settings())
    s = config.settings()
    envs = s["environments"]
    for v in (s["kubernetes"]["namespace"], s["kubernetes"]["deployments"][0], s["images"]["web"], s["domains"]["zone"],
              s["aws"]["account_id"], envs["prod"]["cluster_name"], envs["dev"]["node_group"]):
        assert v in values


# provision/ is the library a user installs: it never imports the test side.
TEST_SIDE = ("pytest", "hypothesis", "harness", "pytest_bdd")
# The real-system packages never reach the offline stand-ins; what a target can and
# cannot show is declared on the Target. `local.build` is the tool build (kubectl,
# actionlint binaries), not a stand-in.
REAL_SYSTEM = ("aws", "kube", "dns", "backup", "ci", "cost", "report")
ALLOWED_LOCAL = {"provision.local.build"}


def imports_of(source: str, module: str) -> set[str]:
    """Absolute names a module imports (relative imports resolved against `module`)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join(parent + ([base] if base else []))
            out |= {f"{base}.{a.name}" for a in node.names} | {base}
    return out


def layering_problems(root: Path) -> list[str]:
    problems = []
    for path in sorted((root / "provision").rglob("*.py")):
        rel = path.relative_to(root)
        module = ".".join(rel.with_suffix("").parts)
        names = imports_of(path.read_text(), module)
        for n in sorted(names):
            if n.split(".")[0] in TEST_SIDE:
                problems.append(f"{rel}: imports {n} (test side)")
            if (len(rel.parts) > 2 and rel.parts[1] in REAL_SYSTEM and n.startswith("provision.local.")
                    and not any(n == a or n.startswith(a + ".") for a in ALLOWED_LOCAL)):
                problems.append(f"{rel}: imports {n} (an offline stand-in)")
    return problems


def test_provision_imports_neither_the_test_side_nor_the_stand_ins():
    assert layering_problems(config.ROOT) == []


def test_the_layering_scan_sees_a_test_import_and_a_stand_in_import(tmp_path):
    (tmp_path / "provision" / "kube").mkdir(parents=True)
    (tmp_path / "provision" / "kube" / "x.py").write_text(
        "import pytest\nfrom ..local import edge\nfrom ..local.build import kubectl\nfrom harness.faults import dns\n")
    assert layering_problems(tmp_path) == [
        "provision/kube/x.py: imports harness.faults (test side)",
        "provision/kube/x.py: imports harness.faults.dns (test side)",
        "provision/kube/x.py: imports provision.local.edge (an offline stand-in)",
        "provision/kube/x.py: imports pytest (test side)",
    ]


MAX_LINES = 400
LONG_REASON = "long module:"  # a module over MAX_LINES says why in its docstring's first line, after this


def oversized(root: Path) -> list[str]:
    out = []
    for path in sorted([*(root / "provision").rglob("*.py"), *(root / "harness").rglob("*.py")]):
        text = path.read_text()
        n = len(text.splitlines())
        doc = (ast.get_docstring(ast.parse(text)) or "").splitlines()
        if n > MAX_LINES and not (doc and doc[0].startswith(LONG_REASON)):
            out.append(f"{path.relative_to(root)}: {n} lines")
    return out


def test_no_module_over_400_lines_without_a_reason():
    assert oversized(config.ROOT) == []


def test_the_size_rule_sees_a_long_module_and_accepts_a_stated_reason(tmp_path):
    (tmp_path / "provision").mkdir()
    body = "x = 1\n" * (MAX_LINES + 1)
    (tmp_path / "provision" / "big.py").write_text(body)
    (tmp_path / "provision" / "why.py").write_text(f'"""{LONG_REASON} one table of prices."""\n' + body)
    assert oversized(tmp_path) == [f"provision/big.py: {MAX_LINES + 1} lines"]
