"""CI gates on the offline run's sign-off verdict, not only on pytest's exit status (.ci/run, .ci/signoff-gate)."""
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
    assert line.startswith("signoff-gate: the offline run's sign-off is refused: 4 of 8 IDs not signed off: "
                           "R2.1 (not implemented), R2.2 (skipped), R2.4 (not verifiable on this target), "
                           "R2.5 (failed); see ")


def test_a_signed_off_run_passes_the_gate(tmp_path):
    got = gate(written(tmp_path, keep={"r23 passes", "r23 skipped by check()"}))
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "signoff-gate: the offline run's sign-off is sign-off (1 of 1 IDs)"


def test_a_missing_report_fails_the_gate(tmp_path):
    got = gate(tmp_path / "nothing")
    assert got.returncode == 1 and "no readable sign-off report" in got.stderr


def test_ci_run_installs_chromium_and_gates_after_make_test():
    text = (ROOT / ".ci" / "run").read_text()
    assert "need_apt+=(chromium)" in text
    assert text.index("make test") < text.index(".ci/signoff-gate reports/latest ||")
