"""The release sign-off: the offline, rehearsal and live runs of one commit combined into one signed verdict.

Each run directory holds results.json and signoff.json (`provision signoff
build`). Per catalog ID and target, none of the scenarios of that ID tagged
for the target (`outcomes.tagged_for`: @live counts on rehearsal and live)
may have failed, been skipped, not implemented or not run there, at least one
must have passed, and the per-run sign-off must have passed the ID. The
catalog's release grades (`catalog.release()`: ID -> {target: grade}) say
which targets are required and the least grade of the ID's strongest passing
evidence there; a catalog without them requires every target where the ID
has scenarios, at any grade. Verdicts: `sign-off`, `refused` (an ID did not pass
on a target whose run is there), `incomplete` (a target's run is missing).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .. import config, errors
from . import catalog as cat_mod
from . import outcomes, signing
from .results import RESULTS_NAME
from .signoff import JSON_NAME as SIGNOFF_JSON
from .signoff import rank, strongest

SIGNOFF = "sign-off"
REFUSED = "refused"
INCOMPLETE = "incomplete"
KIND = "release sign-off"
TARGETS = outcomes.TARGETS
REPORT_NAME = "release.json"
MD_NAME = "release.md"
SIG_NAME = "release.sig"

INVALID_COMMIT = "invalid commit {commit!r}: expected a full 40-character lowercase hex commit SHA"
NO_RUNS = "no run directory given: a release combines the offline, rehearsal and live runs of one commit"
OTHER_COMMIT = "{dir} is a run of commit {got}, not {want}: a release combines the runs of one commit"
NOT_A_RUN = "{dir} is not a run directory: no {name} (run the suite, then `provision signoff build {dir}`)"
UNREADABLE = "{dir}/{name} is not a {what}: {why}"
UNKNOWN_TARGET = "{dir} is a run of target {target!r}: a release combines offline, rehearsal and live runs"
MISMATCHED_FILES = ("{dir}: signoff.json is of run {signoff}, results.json of run {results} "
                    "(rebuild it: `provision signoff build {dir}`)")
FROM_CATALOG = "catalog"  # build()'s default for `grades`
MALFORMED = "{path}: not a signed release report: {why}"


def validate_commit(commit: str) -> str:
    # fullmatch: a trailing newline is not part of a SHA
    if not isinstance(commit, str) or not config.SHA_RE.fullmatch(commit):
        raise errors.BadInput(INVALID_COMMIT.format(commit=commit))
    return commit


@dataclass(frozen=True)
class Run:
    dir: Path
    run: dict       # results.json's run: id, target, commit, started, finished, tools...
    signoff: dict   # signoff.json

    @property
    def target(self) -> str:
        return self.run.get("target", "")

    def newer_key(self) -> tuple:
        return (self.run.get("finished") or "", self.run.get("started") or "", self.run.get("id") or "")


def _read_json(d: Path, name: str, what: str) -> dict:
    path = d / name
    if not path.is_file():
        raise errors.BadInput(NOT_A_RUN.format(dir=d, name=name))
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadInput(UNREADABLE.format(dir=d, name=name, what=what, why=exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("run"), dict):
        raise errors.BadInput(UNREADABLE.format(dir=d, name=name, what=what, why="no run record"))
    return data


def load_run(d: Path, commit: str) -> Run:
    """A run directory of `commit` on one of the release targets, or BadInput naming the directory."""
    d = Path(d)
    results = _read_json(d, RESULTS_NAME, "result file")
    so = _read_json(d, SIGNOFF_JSON, "sign-off report")
    run = results["run"]
    if not isinstance(so.get("ids"), list):
        raise errors.BadInput(UNREADABLE.format(dir=d, name=SIGNOFF_JSON, what="sign-off report", why="no ids"))
    if (so["run"].get("id"), so["run"].get("commit")) != (run.get("id"), run.get("commit")):
        raise errors.BadInput(MISMATCHED_FILES.format(dir=d, signoff=so["run"].get("id"), results=run.get("id")))
    if run.get("commit") != commit:
        raise errors.BadInput(OTHER_COMMIT.format(dir=d, got=run.get("commit"), want=commit))
    if run.get("target") not in TARGETS:
        raise errors.BadInput(UNKNOWN_TARGET.format(dir=d, target=run.get("target")))
    return Run(d, run, so)


def newest_per_target(runs: list[Run]) -> tuple[dict[str, Run], list[str]]:
    """The newest run of each target, and a note for each target given more than once."""
    chosen: dict[str, Run] = {}
    notes = []
    for target in TARGETS:
        mine = sorted((r for r in runs if r.target == target), key=Run.newer_key, reverse=True)
        if mine:
            chosen[target] = mine[0]
        if len(mine) > 1:
            notes.append(f"{len(mine)} runs for {target}: the newest, {mine[0].run.get('id')} (finished "
                         f"{mine[0].run.get('finished')}), is used; ignored: "
                         + ", ".join(str(r.run.get("id")) for r in mine[1:]))
    return chosen, notes


def release_grades() -> dict[str, dict[str, str]] | None:
    """The catalog's release grades (ID -> {target: least grade}); None when the catalog has none."""
    return cat_mod.release() or None


def judge_on(id_: str, scs: list[cat_mod.Scenario], target: str, run: Run, need: str) -> tuple[dict, list[str]]:
    """One ID on one target's run: (its outcome, grade and run; what kept it from passing there)."""
    mine = [s for s in scs if outcomes.tagged_for(target, s.tags)]
    row = next((r for r in run.signoff["ids"] if isinstance(r, dict) and r.get("id") == id_), None)
    got = {(s.get("feature"), s.get("name")): s for s in (row or {}).get("scenarios", [])}
    bad, grades, seen = [], [], []
    for s in mine:
        srow = got.get((s.feature, s.name)) or {}
        outcome = srow.get("outcome", outcomes.NOT_RUN)
        seen.append(outcome)
        if outcome == outcomes.PASSED:
            grades.append(srow.get("grade", ""))
        elif outcome in outcomes.REFUSING:
            bad.append(f"{s.name!r} {outcome}")
    if mine and not grades and not bad:
        bad.append("no scenario passed (" + ", ".join(f"{s.name!r} {o}" for s, o in zip(mine, seen, strict=True)) + ")")
    if not mine:
        bad.append(f"no scenario runs on {target}")
    elif row is None:
        bad.append("not in the run's sign-off")
    elif row.get("outcome") != outcomes.PASSED:
        seen.append(row.get("outcome", outcomes.NOT_RUN))
        if not bad:
            bad.append(f"the run's sign-off has it {row.get('outcome')}")
    grade = strongest(grades) if not bad else ""
    if not bad and need and not (grade and rank(grade) <= rank(need)):
        bad.append(f"evidence {grade or 'ungraded'}, the release needs {need}")
    outcome = outcomes.worst(seen) if seen else outcomes.NOT_RUN
    return {"outcome": outcome, "grade": grade, "required": need, "run": run.run.get("id")}, bad


def judge_id(id_: str, scs: list[cat_mod.Scenario], chosen: dict[str, Run],
             required: dict[str, str] | None) -> dict:
    """One ID across the targets: its status, its outcome per required target, and why in one line."""
    targets = list(required) if required is not None else \
        [t for t in TARGETS if any(outcomes.tagged_for(t, s.tags) for s in scs)]
    per_target, problems, missing = {}, [], []
    for target in targets:
        need = (required or {}).get(target, "")
        if target not in TARGETS:
            problems.append(f"the catalog names an unknown target {target!r}")
        elif target not in chosen:
            per_target[target] = {"outcome": outcomes.NOT_RUN, "grade": "", "required": need, "run": None}
            missing.append(f"no {target} run")
        else:
            per_target[target], bad = judge_on(id_, scs, target, chosen[target], need)
            if bad:
                problems.append(f"{target}: " + ", ".join(bad))
    if not targets:
        problems.append("no scenario on any release target")
    status = REFUSED if problems else INCOMPLETE if missing else SIGNOFF
    return {"id": id_, "status": status, "targets": per_target, "why": "; ".join(problems + missing)}


def build(commit: str, run_dirs: list[Path], catalog: dict[str, str] | None = None,
          scenarios: list[cat_mod.Scenario] | None = None, grades=FROM_CATALOG, created: str | None = None) -> dict:
    """The release report object (what is signed). BadInput for a run of another commit or a bad run dir.

    `grades`: ID -> {target: grade}, None for none (the strict rule on every target with scenarios),
    or from the catalog (the default). An ID the grades do not name gets the strict rule.
    """
    commit = validate_commit(commit)
    if not run_dirs:
        raise errors.BadInput(NO_RUNS)
    catalog = cat_mod.catalog() if catalog is None else catalog
    scenarios = cat_mod.scenarios() if scenarios is None else scenarios
    grades = release_grades() if grades is FROM_CATALOG else grades
    chosen, notes = newest_per_target([load_run(Path(d), commit) for d in run_dirs])
    ids = [judge_id(i, [s for s in scenarios if i in s.ids], chosen, (grades or {}).get(i)) for i in catalog]
    missing = [t for t in TARGETS if t not in chosen]
    refused = [r for r in ids if r["status"] == REFUSED]
    verdict = REFUSED if refused or not ids else INCOMPLETE if missing else SIGNOFF
    reasons = [f"no {t} run of {commit[:12]}: the release needs offline, rehearsal and live runs" for t in missing]
    reasons += [f"{r['id']}: {r['why']}" for r in refused]
    if not ids:
        reasons.append("the catalog is empty")
    return {
        "kind": KIND,
        "commit": commit,
        "verdict": verdict,
        "reasons": reasons,
        "notes": notes,
        "rule": "catalog release grades" if grades is not None else
                "every scenario of the ID passed on every target where it has scenarios",
        "created": created or datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": {t: ({"id": r.run.get("id"), "dir": str(r.dir), "started": r.run.get("started"),
                      "finished": r.run.get("finished"), "verdict": r.signoff.get("verdict")}
                     if (r := chosen.get(t)) else None) for t in TARGETS},
        "counts": {s: sum(1 for r in ids if r["status"] == s) for s in (SIGNOFF, REFUSED, INCOMPLETE)},
        "ids": [{"id": r["id"], "text": catalog[r["id"]], "status": r["status"], "targets": r["targets"],
                 "why": r["why"]} for r in ids],
    }


def _cell(x: dict | None) -> str:
    if x is None:
        return "-"
    return x["outcome"] + (f" ({x['grade']})" if x["grade"] else "") + (f", needs {x['required']}"
                                                                        if x["required"] else "")


def to_markdown(report: dict, sig: dict) -> str:
    signed_by = report.get("signing", {})
    out = [f"# Release sign-off of `{report['commit']}`: **{report['verdict'].upper()}**", ""]
    if signed_by.get("key") == signing.THROWAWAY:
        out += [f"> **{signing.THROWAWAY_NOTE}**", ""]
    out += [f"- signed: {sig['algorithm']} key {sig['fingerprint']} ({signed_by.get('key', '?')}); "
            "check it with `provision signoff verify`", f"- created: {report['created']}",
            f"- rule: {report['rule']}",
            "- IDs: " + ", ".join(f"{v} {k}" for k, v in report["counts"].items()), "",
            "| target | run | finished | the run's own verdict |", "|---|---|---|---|"]
    for t, r in report["runs"].items():
        out.append(f"| {t} | `{r['id']}` | {r['finished']} | {r['verdict']} |" if r else f"| {t} | missing | | |")
    out.append("")
    if report["reasons"]:
        out += ["## Why not signed off", ""] + [f"- {r}" for r in report["reasons"]] + [""]
    if report["notes"]:
        out += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    out += ["## IDs", "", "| ID | release | " + " | ".join(TARGETS) + " | why |", "|---" * (len(TARGETS) + 3) + "|"]
    for r in report["ids"]:
        cells = " | ".join(_cell(r["targets"].get(t)) for t in TARGETS)
        out.append(f"| {r['id']} | {r['status']} | {cells} | {r['why'].replace('|', '/')} |")
    return "\n".join(out) + "\n"


def write(report: dict, key: signing.SigningKey, out_dir: Path) -> dict:
    """Record the signing key in the report, sign it, write release.json (canonical), release.sig and release.md."""
    report = dict(report, signing={"key": key.source, "fingerprint": signing.fingerprint(key.public),
                                   **({"note": signing.THROWAWAY_NOTE} if key.throwaway else {})})
    sig = signing.sign(report, key)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / REPORT_NAME).write_bytes(signing.canonical(report))
    (out_dir / SIG_NAME).write_text(json.dumps(sig, indent=1, sort_keys=True) + "\n")
    (out_dir / MD_NAME).write_text(to_markdown(report, sig))
    return report


def default_dir(commit: str) -> Path:
    return config.REPORTS_DIR / f"release-{commit[:12]}"


def load_signed(path: Path) -> tuple[dict, dict, Path]:
    """(report, signature record, report file) of a release directory or its release.json; BadInput if malformed."""
    path = Path(path)
    report_file = path / REPORT_NAME if path.is_dir() else path
    sig_file = report_file.parent / SIG_NAME
    for f in (report_file, sig_file):
        if not f.is_file():
            raise errors.BadInput(MALFORMED.format(path=path, why=f"no {f.name}"))
    try:
        report = json.loads(report_file.read_text())
        sig = json.loads(sig_file.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadInput(MALFORMED.format(path=path, why=f"not JSON ({exc})")) from None
    if not isinstance(report, dict) or report.get("kind") != KIND:
        raise errors.BadInput(MALFORMED.format(path=path, why=f"{REPORT_NAME} is not a {KIND}"))
    problem = signing.well_formed(sig)
    if problem:
        raise errors.BadInput(MALFORMED.format(path=path, why=f"{SIG_NAME}: {problem}"))
    return report, sig, report_file
