"""`provision check [manifests|workflows|templates] [PATH...] [--format text|json|sarif] [--settings FILE]`.

Exit 0 when clean, 1 on findings (notes do not count), 2 on bad usage (an unknown path or settings file).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .. import errors
from ..findings import Finding, failed, passed
from . import discover, formats, manifests, templates, workflows
from .issues import ERROR, Issue, Rule

KINDS = ("manifests", "workflows", "templates")
SKIPPED_RULE = Rule("input.skipped", "input", "generic", "files not checked, with the reason")


def rules() -> list[Rule]:
    """Every rule, in the order of the table in docs/check.md."""
    return ([r for r, _ in manifests.RULES + manifests.APP_RULES + manifests.CLUSTER_RULES]
            + [r for r, _ in workflows.RULES] + workflows.TOOLS + [r for r, _ in templates.RULES]
            + [manifests.SECRET_RULE, manifests.RENDER_RULE, manifests.MALFORMED_RULE, SKIPPED_RULE])


def check(paths: list[Path] | None = None, kind: str | None = None, settings_file: Path | None = None,
          tools: bool = True) -> list[Issue]:
    """Every rule of `kind` (all kinds when None) on `paths` (this repository's inputs when none)."""
    if not paths:
        root, paths = discover.default_paths()
        settings_file = settings_file or root / "settings.yaml"
    inputs = discover.discover(paths, settings_file)
    kinds = [kind] if kind else list(KINDS)
    issues: list[Issue] = []
    scanned: list[Path] = []
    if "manifests" in kinds:
        issues += manifests.run(inputs)
        not_yaml = set(inputs.workflows) | set(inputs.templates)
        scanned += [p for p in inputs.text_files if p not in not_yaml] if kind else inputs.text_files
        issues += manifests.malformed(inputs, {p: w for p, w in inputs.malformed.items() if kind is None
                                               or ".github" not in p.parts})
    if "workflows" in kinds:
        issues += workflows.run(inputs, tools)
        scanned += inputs.workflows if kind else []
        if kind:
            issues += manifests.malformed(inputs, {p: w for p, w in inputs.malformed.items() if ".github" in p.parts})
    if "templates" in kinds:
        issues += templates.run(inputs)
        scanned += inputs.templates if kind else []
    issues += manifests.scan_secrets(inputs, list(dict.fromkeys(scanned)))
    issues += [Issue(SKIPPED_RULE.id, why, inputs.rel(p), 0, "note") for p, why in inputs.skipped.items()]
    return list(dict.fromkeys(issues))


def register(sub) -> None:
    p = sub.add_parser("check", help="static checks on any manifests, workflows and templates (default: this "
                       "repository's); exit 1 on findings",
                       description=__doc__.splitlines()[0].strip("`"))
    p.add_argument("args", nargs="*", metavar="[KIND] PATH",
                   help=f"optional kind ({', '.join(KINDS)}) then files or directories (default: this repository's "
                        "manifests, workflows and templates; write ./manifests for a directory of that name)")
    p.add_argument("--format", choices=formats.FORMATS, default="text")
    p.add_argument("--settings", type=Path, default=None,
                   help="a settings.yaml whose project policy rules apply (default: settings.yaml at the root of "
                        "the checked path, if any)")
    p.add_argument("--no-linters", action="store_true", help="skip actionlint and zizmor on workflows")
    p.set_defaults(func=_check)


def _check(args) -> int:
    rest = list(args.args)
    kind = rest.pop(0) if rest and rest[0] in KINDS else None
    issues = check([Path(a) for a in rest], kind, args.settings, tools=not args.no_linters)
    sys.stdout.write(formats.render(args.format, issues, rules()) + "\n")
    return errors.EXIT_FAILED if any(i.level == ERROR for i in issues) else errors.EXIT_OK


def finding(issues: list[Issue], subject: str = "provision check finds nothing on this repository") -> Finding:
    """The issues as one static Finding: red with a FAIL line per error, notes (exemptions) as evidence."""
    bad = [f"FAIL {i.text()}" for i in issues if i.level == ERROR]
    notes = [i.text() for i in issues if i.level != ERROR]
    if bad:
        return failed(subject, "0 findings", formats.summary(issues), bad + notes, grade="static")
    return passed(subject, "0 findings", formats.summary(issues), notes, grade="static")
