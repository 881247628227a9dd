"""CI gates on the rehearsal's and the offline run's sign-off verdicts, not only on pytest's exit status
(.ci/run, .ci/signoff-gate)."""
import json
import subprocess
from pathlib import Path

import pytest

from provision.report import catalog, signoff

pytestmark = [pytest.mark.offline, pytest.mark.unit]

ROOT = Path(__file__).resolve().parent.parent
GATE = ROOT / ".ci" / "signoff-gate"
DATA = Path(__file__).parent / "data"


def gate(run_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(GATE), str(run_dir)], cwd=ROOT, capture_output=True, text=True, timeout=60)


def written(tmp_path: Path, results: str = "results-strict.json", keep=None) -> Path:
    data = json.loads((DATA / results).read_text())
    if keep is not None:
        data["tests"] = [t for t in data["tests"] if t["scenario"] in keep]
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(data))
    scs = [catalog.Scenario("s.feature", t["scenario"], tuple(t["tags"]), n) for n, t in enumerate(data["tests"])]
    ids = sorted({i for s in scs for i in s.ids})
    rep = signoff.build(data, {i: i for i in ids}, scs, {})
    (run / "signoff.json").write_text(json.dumps(rep.as_dict()))
    return run


def test_a_refused_sign_off_fails_the_gate_with_one_line_naming_the_ids(tmp_path):
    got = gate(written(tmp_path))
    assert got.returncode == 1 and got.stdout == ""
    line = got.stderr.strip()
    assert "\n" not in line
    assert line.startswith("signoff-gate: the offline run's sign-off is refused: 4 of 8 IDs refuse it: "
                           "R2.1 (not implemented), R2.2 (skipped), R2.4 (not verifiable on this target), "
                           "R2.5 (failed); see ")


def test_a_signed_off_run_passes_the_gate(tmp_path):
    got = gate(written(tmp_path, keep={"r23 passes", "r23 skipped by check()"}))
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "signoff-gate: the offline run's sign-off is sign-off (1 of 1 required IDs)"


def test_a_missing_report_fails_the_gate(tmp_path):
    got = gate(tmp_path / "nothing")
    assert got.returncode == 1 and "no readable sign-off report" in got.stderr


def test_ci_run_installs_chromium_and_gates_after_make_test():
    text = (ROOT / ".ci" / "run").read_text()
    assert "need_apt+=(chromium)" in text
    assert text.index("make test") < text.index('.ci/signoff-gate "reports/latest-$t" ||')
    assert "for t in rehearsal offline; do" in text


def rehearsal_run(tmp_path: Path, failing: bool) -> Path:
    """A rehearsal run: R2.3 is required there and passes; R2.1 is needed only from offline and live."""
    data = json.loads((DATA / "results-strict.json").read_text())
    data["run"] = {**data.get("run", {}), "target": "rehearsal"}
    keep = {"r23 passes"} | ({"r21 fails"} if failing else set())
    tests = [t for t in data["tests"] if t["scenario"] == "r23 passes"]
    for t in tests:
        t["tags"] = ["R2.3", "live"]
    if failing:
        tests.append({**tests[0], "nodeid": "x::r21", "scenario": "r21 fails", "tags": ["R2.1", "live"],
                      "outcome": "failed"})
    data["tests"] = tests
    run = tmp_path / "run"
    run.mkdir()
    scs = [catalog.Scenario("s.feature", n, ("R2.3" if n == "r23 passes" else "R2.1", "live"), i)
           for i, n in enumerate(sorted(keep))]
    if not failing:
        scs.append(catalog.Scenario("s.feature", "r21 offline only", ("R2.1", "offline"), 9))
    release = {"R2.3": {"offline": "static", "rehearsal": "static", "live": "static"},
               "R2.1": {"offline": "static", "live": "real"}}
    rep = signoff.build(data, {"R2.1": "x", "R2.3": "y"}, scs, release)
    (run / "signoff.json").write_text(json.dumps(rep.as_dict()))
    return run


def test_a_rehearsal_run_needs_only_the_ids_the_release_needs_from_it(tmp_path):
    got = gate(rehearsal_run(tmp_path, failing=False))
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == ("signoff-gate: the rehearsal run's sign-off is sign-off (1 of 1 required IDs; "
                                  "1 not required from this target)")


def test_a_failed_scenario_of_an_id_not_required_there_still_fails_the_gate(tmp_path):
    got = gate(rehearsal_run(tmp_path, failing=True))
    assert got.returncode == 1
    assert "1 of 2 IDs refuse it: R2.1 (failed (not required on rehearsal))" in got.stderr
