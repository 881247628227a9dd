"""pytest plugin: targets, catalog markers, outcomes, result files, sign-off.

Loaded with `-p harness.plugin` (pytest.ini). It
- adds --target offline|live (and --cluster, --kubeconfig, --run-id),
- registers every catalog ID as a marker (the catalog is the one list of IDs),
- reports a scenario whose steps are missing as "not implemented" (an xfail
  with that reason: it does not fail the run, and never counts as passed),
- reports a scenario of another target as "not verifiable on this target",
- writes JUnit XML, cucumber JSON, results.json and the sign-off report under
  reports/<run-id>/, and saves diagnostics of failing tests beside them.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from provision import config as settings_mod
from provision import errors
from provision.report import catalog, outcomes, results, signoff, signoff_md

RUN_DIR_ENV = "CTL_RUN_DIR"
TARGET_REASONS = {
    # why a scenario of the other target cannot be verified on this one
    "offline": "live-only scenario: needs the real AWS account, EKS cluster, Cloudflare or public DNS",
    "live": "offline-only scenario: seeded faults and emulator-backed checks never run against the real account",
    "rehearsal": "offline-only scenario: the rehearsal runs the live scenarios, with each job's production rights",
}
REHEARSAL_ONLY = "rehearsal-only scenario: it reads the rehearsal's own request logs"
_recorder_key = pytest.StashKey["results.Recorder"]()
collectors_key = pytest.StashKey[list]()


def pytest_addoption(parser):
    g = parser.getgroup("cloudtolocalllm", "CloudToLocalLLM harness")
    g.addoption("--target", choices=outcomes.TARGETS, default="offline",
                help="which target the suite runs against (default: offline; rehearsal: the live scenarios "
                     "against the offline stack made as strict as production)")
    g.addoption("--cluster", choices=("local", "kind"), default="local",
                help="offline cluster backend: the local control plane (default) or kind (needs Docker)")
    g.addoption("--kubeconfig", default=None, help="use this existing cluster instead of starting one")
    g.addoption("--run-id", default=None, help="name of the reports/<run-id>/ directory")


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    for id_, text in catalog.catalog().items():
        config.addinivalue_line("markers", f"{id_}: {text}")
    if _is_worker(config):
        return
    target = config.getoption("target")
    if target == "live":
        try:
            settings_mod.live_target()
        except errors.TargetUnavailable as exc:
            raise pytest.UsageError(str(exc)) from None
    if target == "offline" and config.getoption("cluster") == "kind" and not config.getoption("kubeconfig"):
        from provision.local import kind

        try:
            kind.preflight()
        except errors.TargetUnavailable as exc:
            raise pytest.UsageError(str(exc)) from None
    run_id = config.getoption("run_id") or results.new_run_id(target)
    run_dir = results.run_dir(run_id)
    os.environ[RUN_DIR_ENV] = str(run_dir)
    if not config.option.xmlpath:
        config.option.xmlpath = str(run_dir / "junit.xml")
    if hasattr(config.option, "cucumber_json_path") and not config.option.cucumber_json_path:
        config.option.cucumber_json_path = str(run_dir / "cucumber.json")
    config.stash[_recorder_key] = results.Recorder(run_id, target, run_dir)


def pytest_collection_modifyitems(config, items):
    target = config.getoption("target")
    for item in items:
        names = {m.name for m in item.iter_markers()}
        if names & set(outcomes.TARGET_TAGS) and not outcomes.tagged_for(target, names):
            why = REHEARSAL_ONLY if names & set(outcomes.TARGET_TAGS) == {"rehearsal"} else TARGET_REASONS[target]
            item.add_marker(pytest.mark.skip(reason=f"{outcomes.NOT_VERIFIABLE_PREFIX} the {target} target: {why}"))
    # Proofs over the whole run's logs go last (stable sort: the others keep their order).
    items.sort(key=lambda it: it.get_closest_marker("last") is not None)


def pytest_bdd_step_func_lookup_error(request, feature, scenario, step, exception):
    pytest.xfail(f"{outcomes.NOT_IMPLEMENTED_PREFIX}: no step definition for "
                 f"'{step.keyword.strip()} {step.name}'")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # Carried on the report as a plain dict so xdist ships it to the controller.
    report.ctl_scenario = _scenario_of(item)
    if report.failed and not hasattr(report, "wasxfail"):
        _save_diagnostics(item, report)


def _scenario_of(item) -> dict | None:
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    sc = scenario_wrapper_template_registry.get(getattr(item, "obj", None))
    if sc is None:
        return None
    return {"feature": Path(sc.feature.filename).name, "name": sc.name,
            "tags": sorted(set(sc.tags) | set(sc.feature.tags))}


def _save_diagnostics(item, report) -> None:
    """Like Chainsaw's collectors: keep what explains a failure beside the report."""
    base = os.environ.get(RUN_DIR_ENV)
    if not base:
        return
    d = Path(base) / "diagnostics" / re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
    d.mkdir(parents=True, exist_ok=True)
    (d / "failure.txt").write_text(f"{item.nodeid} ({report.when})\n\n{report.longreprtext}\n")
    findings = [v for k, v in item.user_properties if k == "finding"]
    if findings:
        (d / "findings.json").write_text(json.dumps(findings, indent=1))
    for collect in item.stash.get(collectors_key, []):
        try:
            collect(d)
        except Exception as exc:  # a collector must never hide the real failure
            (d / "collector-error.txt").write_text(repr(exc))


def pytest_runtest_logreport(report):
    # Runs on the controller for xdist workers' reports too.
    rec = _RECORDER.get("rec")
    if rec is not None:
        rec.add(report)


_RECORDER: dict = {}


def pytest_sessionstart(session):
    if not _is_worker(session.config):
        _RECORDER["rec"] = session.config.stash.get(_recorder_key, None)


def pytest_sessionfinish(session, exitstatus):
    rec = _RECORDER.pop("rec", None)
    if rec is None:
        return
    rec.write(int(exitstatus))
    rep = signoff.write(rec.directory)
    latest = rec.directory.parent / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(rec.directory.name)
        # `latest-<target>`: each target's last run, for the CI gate of each (.ci/run)
        per_target = rec.directory.parent / f"latest-{rep.target}"
        if per_target.is_symlink() or per_target.exists():
            per_target.unlink()
        per_target.symlink_to(rec.directory.name)
    except OSError:
        pass
    session.config.stash[_summary_key] = (rec.directory, rep)


_summary_key = pytest.StashKey[tuple]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    got = config.stash.get(_summary_key, None)
    if not got:
        return
    directory, rep = got
    tr = terminalreporter
    tr.section("sign-off")
    ids = ", ".join(f"{v} {k}" for k, v in sorted(rep.counts["ids"].items()))
    tr.write_line(f"{rep.title}: {rep.verdict} ({ids}; of {rep.counts['total_ids']} IDs; "
                  f"{rep.counts['signed_ids']} signed off{signoff_md.required_note(rep)})")
    unsigned: dict[str, list[str]] = {}
    not_required = [r.id for r in rep.rows if not r.signed and not r.refuses]
    for r in rep.rows:
        if r.refuses:
            unsigned.setdefault(r.label(), []).append(r.id)
    for label, ids_ in unsigned.items():
        tr.write_line(f"  {label}: {', '.join(ids_)}")
    if not_required:
        tr.write_line(f"  not signed, not required from this target (reported): {', '.join(not_required)}")
    weak = rep.counts["with_weaker_links"]
    if weak:
        tr.write_line(f"passed with weaker links (not refusing): {', '.join(weak)}")
    for g in rep.gaps:
        tr.write_line(f"gap of this target: {g}")
    tr.write_line(f"report: {directory / signoff.MD_NAME}")
    tr.write_line(f"        {directory / signoff.HTML_NAME}")
