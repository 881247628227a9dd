"""The release sign-off of one commit (offline + rehearsal + live runs) and its Ed25519 signature."""
import base64
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provision import cli, errors
from provision.report import catalog, outcomes, release, signing

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]

SHA = "a" * 40
OTHER = "b" * 40
CAT = {"R1.1": "one", "R1.2": "two", "R1.3": "three"}
SCS = [
    catalog.Scenario("a.feature", "on both", ("R1.1", "offline", "live"), 1),
    catalog.Scenario("a.feature", "offline only", ("R1.2", "offline"), 2),
    catalog.Scenario("a.feature", "live only", ("R1.3", "live"), 3),
]
GRADE = {"offline": "emulated", "rehearsal": "emulated", "live": "real"}


def make_run(base, target, commit=SHA, scs=SCS, cat=CAT, outcome_of=None, finished="2026-11-29T10:00:00+00:00",
             name=None, grade=None):
    """A run directory in the shape `provision signoff build` writes (results.json + signoff.json).

    `outcome_of`: {scenario name: outcome} for the scenarios this target runs (others pass).
    """
    outcome_of = outcome_of or {}
    run = {"id": name or f"run-{target}-{finished[11:19].replace(':', '')}", "target": target, "commit": commit,
           "started": finished, "finished": finished, "host": "h", "user": "u", "tools": {}, "exitstatus": 0}
    ids = []
    for id_, text in cat.items():
        rows = []
        for s in (s for s in scs if id_ in s.ids):
            mine = outcomes.tagged_for(target, s.tags)
            out = outcome_of.get(s.name, outcomes.PASSED) if mine else outcomes.NOT_VERIFIABLE
            rows.append({"feature": s.feature, "name": s.name, "outcome": out, "reasons": [], "evidence": [],
                         "gaps": [], "grade": (grade or GRADE[target]) if out == outcomes.PASSED else ""})
        ids.append({"id": id_, "text": text, "outcome": outcomes.for_id(r["outcome"] for r in rows),
                    "scenarios": rows})
    verdict = "sign-off" if all(i["outcome"] == outcomes.PASSED for i in ids) else "refused"
    d = base / run["id"]
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"run": run, "tests": []}))
    (d / "signoff.json").write_text(json.dumps({"run": run, "verdict": verdict, "reasons": [], "counts": {},
                                                "gaps": [], "ids": ids}))
    return d


def runs(tmp_path, targets=("offline", "rehearsal", "live"), **kw):
    return [make_run(tmp_path, t, **kw) for t in targets]


def build(dirs, commit=SHA, grades=None):
    return release.build(commit, dirs, CAT, SCS, grades=grades, created="2026-11-29T12:00:00+00:00")


# --- the verdict -------------------------------------------------------------------------------------------------

def test_matching_offline_rehearsal_and_live_runs_sign_off(tmp_path):
    rep = build(runs(tmp_path))
    assert rep["verdict"] == release.SIGNOFF and rep["reasons"] == []
    assert rep["counts"] == {release.SIGNOFF: 3, release.REFUSED: 0, release.INCOMPLETE: 0}
    r13 = next(r for r in rep["ids"] if r["id"] == "R1.3")
    assert set(r13["targets"]) == {"rehearsal", "live"}  # a live-only scenario is not asked of offline
    assert r13["targets"]["live"]["grade"] == "real"


@pytest.mark.parametrize("got", [OTHER, SHA + "+uncommitted"])
def test_a_run_of_another_commit_is_refused_by_name(tmp_path, got):
    dirs = runs(tmp_path, ("offline", "live")) + [make_run(tmp_path, "rehearsal", commit=got)]
    with pytest.raises(errors.BadInput) as e:
        build(dirs)
    assert str(e.value) == release.OTHER_COMMIT.format(dir=dirs[-1], got=got, want=SHA)
    assert e.value.exit_code == errors.EXIT_USAGE


@pytest.mark.parametrize("commit", [SHA + "\n", SHA[:12], SHA.upper(), ""])
def test_the_commit_must_be_a_full_sha(tmp_path, commit):
    with pytest.raises(errors.BadInput) as e:
        build(runs(tmp_path), commit=commit)
    assert str(e.value) == release.INVALID_COMMIT.format(commit=commit)


def test_a_missing_target_is_incomplete_and_named(tmp_path):
    rep = build(runs(tmp_path, ("offline", "live")))
    assert rep["verdict"] == release.INCOMPLETE
    assert rep["reasons"] == [f"no rehearsal run of {SHA[:12]}: the release needs offline, rehearsal and live runs"]
    assert rep["runs"]["rehearsal"] is None
    by_id = {r["id"]: r for r in rep["ids"]}
    assert by_id["R1.2"]["status"] == release.SIGNOFF  # offline only: nothing missing
    assert by_id["R1.3"]["status"] == release.INCOMPLETE and by_id["R1.3"]["why"] == "no rehearsal run"


def test_an_id_failed_live_refuses_the_release_naming_it(tmp_path):
    dirs = runs(tmp_path, ("offline", "rehearsal")) + [make_run(tmp_path, "live", outcome_of={"live only": "failed"})]
    rep = build(dirs)
    assert rep["verdict"] == release.REFUSED
    assert rep["reasons"] == ["R1.3: live: 'live only' failed"]
    assert next(r for r in rep["ids"] if r["id"] == "R1.3")["targets"]["live"]["outcome"] == outcomes.FAILED


def test_a_failure_refuses_even_when_a_target_is_missing(tmp_path):
    rep = build([make_run(tmp_path, "offline", outcome_of={"offline only": "failed"})])
    assert rep["verdict"] == release.REFUSED
    assert "R1.2: offline: 'offline only' failed" in rep["reasons"]


def test_a_gap_beside_a_pass_refuses_the_id_whatever_the_run_said(tmp_path):
    """Strict: every scenario of the ID meant for the target must pass there, not just one."""
    scs = SCS + [catalog.Scenario("b.feature", "todo", ("R1.1", "offline"), 9)]
    dirs = [make_run(tmp_path, t, scs=scs, outcome_of={"todo": outcomes.NOT_IMPLEMENTED})
            for t in ("offline", "rehearsal", "live")]
    so = json.loads((dirs[0] / "signoff.json").read_text())
    r11 = next(i for i in so["ids"] if i["id"] == "R1.1")
    r11["outcome"] = outcomes.PASSED  # a per-run rule that lets one pass hide the gap
    (dirs[0] / "signoff.json").write_text(json.dumps(so))
    rep = release.build(SHA, dirs, CAT, scs, grades=None)
    assert rep["verdict"] == release.REFUSED
    assert rep["reasons"] == ["R1.1: offline: 'todo' not implemented"]


def test_not_verifiable_refuses_nothing_but_something_must_pass(tmp_path):
    scs = SCS + [catalog.Scenario("b.feature", "cannot here", ("R1.3", "live"), 9)]
    nv = {"cannot here": outcomes.NOT_VERIFIABLE}
    dirs = [make_run(tmp_path, t, scs=scs, outcome_of=nv) for t in ("offline", "rehearsal", "live")]
    assert release.build(SHA, dirs, CAT, scs, grades=None)["verdict"] == release.SIGNOFF
    nv["live only"] = outcomes.NOT_VERIFIABLE
    dirs = [make_run(tmp_path / "x", t, scs=scs, outcome_of=nv) for t in ("offline", "rehearsal", "live")]
    rep = release.build(SHA, dirs, CAT, scs, grades=None)
    assert rep["verdict"] == release.REFUSED
    nv_text = outcomes.NOT_VERIFIABLE
    nothing = f"no scenario passed ('live only' {nv_text}, 'cannot here' {nv_text})"
    assert rep["reasons"] == [f"R1.3: rehearsal: {nothing}; live: {nothing}"]


def test_an_id_missing_from_a_run_is_not_passed(tmp_path):
    dirs = runs(tmp_path)
    so = json.loads((dirs[2] / "signoff.json").read_text())
    so["ids"] = [i for i in so["ids"] if i["id"] != "R1.3"]
    (dirs[2] / "signoff.json").write_text(json.dumps(so))
    rep = build(dirs)
    assert rep["reasons"] == ["R1.3: live: 'live only' not run, not in the run's sign-off"]


def test_the_newest_run_of_a_target_wins_and_it_says_so(tmp_path):
    old = make_run(tmp_path, "live", outcome_of={"live only": "failed"}, finished="2026-11-29T09:00:00+00:00")
    new = make_run(tmp_path, "live", finished="2026-11-29T11:00:00+00:00")
    rep = build(runs(tmp_path, ("offline", "rehearsal")) + [new, old])
    assert rep["verdict"] == release.SIGNOFF
    assert rep["runs"]["live"]["id"] == new.name
    assert rep["notes"] == [f"2 runs for live: the newest, {new.name} (finished 2026-11-29T11:00:00+00:00), "
                            f"is used; ignored: {old.name}"]
    # and the other way round: the newest failed, so the release is refused
    newer = make_run(tmp_path, "live", outcome_of={"live only": "failed"}, finished="2026-11-29T12:00:00+00:00")
    assert build(runs(tmp_path / "x", ("offline", "rehearsal")) + [new, newer])["verdict"] == release.REFUSED


def test_release_grades_of_the_catalog_are_required(tmp_path):
    grades = {"R1.1": {"offline": "emulated", "live": "real"}, "R1.2": {"offline": "static"},
              "R1.3": {"live": "real", "rehearsal": "emulated"}}
    assert build(runs(tmp_path), grades=grades)["verdict"] == release.SIGNOFF
    weak = runs(tmp_path / "w", ("offline", "rehearsal")) + [make_run(tmp_path / "w", "live", grade="emulated")]
    rep = build(weak, grades=grades)
    assert rep["verdict"] == release.REFUSED
    assert rep["reasons"] == ["R1.1: live: evidence emulated, the release needs real",
                              "R1.3: live: evidence emulated, the release needs real"]


def test_a_run_dir_without_its_files_is_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.BadInput) as e:
        build([tmp_path / "empty"])
    assert str(e.value) == release.NOT_A_RUN.format(dir=tmp_path / "empty", name="results.json")


# --- the signature -----------------------------------------------------------------------------------------------

def key_pair():
    key = Ed25519PrivateKey.generate()
    return key, signing.SigningKey(key, signing.KEY_ENV)


def signed(tmp_path, key: signing.SigningKey, dirs=None):
    out = tmp_path / "release"
    release.write(build(dirs or runs(tmp_path)), key, out)
    return out


def test_signed_with_a_key_verifies_with_its_public_key(tmp_path):
    raw, key = key_pair()
    out = signed(tmp_path, key)
    report, sig, _ = release.load_signed(out)
    assert (out / release.REPORT_NAME).read_bytes() == signing.canonical(report)
    result = signing.check(report, sig, raw.public_key())
    assert result.ok and result.line == f"signature ok: signed by {signing.fingerprint(raw.public_key())}"
    assert "note" not in report["signing"]


@pytest.mark.parametrize("field, change, named", [
    ("verdict", lambda r: r.update(verdict="refused"), "verdict"),
    ("an ID", lambda r: r["ids"][2]["targets"]["live"].update(grade="static"), "ids R1.3"),
    ("a new field", lambda r: r.update(extra=1), "extra"),
])
def test_a_tampered_field_is_refused_by_name(tmp_path, field, change, named):
    raw, key = key_pair()
    out = signed(tmp_path, key)
    report, sig, _ = release.load_signed(out)
    change(report)
    result = signing.check(report, sig, raw.public_key())
    assert not result.ok
    assert result.line == f"the report's content changed since it was signed: {named}"


def test_a_throwaway_signed_report_never_verifies_as_a_release(tmp_path, monkeypatch):
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    key = signing.signing_key()
    assert key.throwaway
    out = signed(tmp_path, key)
    report, sig, _ = release.load_signed(out)
    assert report["signing"]["note"] == signing.THROWAWAY_NOTE
    assert signing.THROWAWAY_NOTE in (out / release.MD_NAME).read_text()
    committed = signing.load_public(signing.PUBLIC_KEY_FILE)
    assert signing.check(report, sig, committed) == signing.Check(False, signing.THROWAWAY_NOTE)
    # not even with the throwaway's own public key
    assert signing.check(report, sig, key.public) == signing.Check(False, signing.THROWAWAY_NOTE)


def test_another_key_is_named(tmp_path):
    raw, key = key_pair()
    report, sig, _ = release.load_signed(signed(tmp_path, key))
    committed = signing.load_public(signing.PUBLIC_KEY_FILE)
    assert signing.check(report, sig, committed).line == (
        f"signed by key {signing.fingerprint(raw.public_key())}, not the release key {signing.fingerprint(committed)}")


def test_the_private_key_is_read_from_pem_or_base64_and_never_shown(tmp_path):
    raw = Ed25519PrivateKey.generate()
    pem = raw.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    b64 = base64.b64encode(raw.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                             serialization.NoEncryption())).decode()
    for value in (pem, b64):
        key = signing.signing_key({signing.KEY_ENV: value})
        assert key.source == signing.KEY_ENV and signing.public_raw(key.public) == signing.public_raw(raw.public_key())
        assert b64 not in repr(key) and "PRIVATE" not in repr(key)
    out = signed(tmp_path, signing.signing_key({signing.KEY_ENV: pem}))
    for f in out.iterdir():
        assert b64 not in f.read_text() and "PRIVATE" not in f.read_text()
    with pytest.raises(errors.BadInput) as e:
        signing.signing_key({signing.KEY_ENV: "c2VjcmV0LXZhbHVl"})
    assert str(e.value) == signing.BAD_PRIVATE_KEY


def test_the_committed_release_public_key_is_an_ed25519_key():
    assert signing.fingerprint(signing.load_public(signing.PUBLIC_KEY_FILE)).startswith("sha256:")


# --- through the CLI ---------------------------------------------------------------------------------------------

def real_catalog_runs(base, targets=("offline", "rehearsal", "live")):
    return [str(make_run(base, t, scs=catalog.scenarios(), cat=catalog.catalog(), grade="real")) for t in targets]


def test_cli_release_and_verify(tmp_path, monkeypatch, capsys):
    raw, _ = key_pair()
    b64 = base64.b64encode(raw.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                             serialization.NoEncryption())).decode()
    monkeypatch.setenv(signing.KEY_ENV, b64)
    pub = tmp_path / "release.pub"
    pub.write_text(signing.public_pem(raw.public_key()))
    out = tmp_path / "rel"
    assert cli.main(["signoff", "release", "--commit", SHA, "--out", str(out), *real_catalog_runs(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"release verdict: sign-off ({SHA})") and b64 not in text
    assert json.loads((out / release.REPORT_NAME).read_text())["rule"] == "catalog release grades"
    assert cli.main(["signoff", "verify", str(out), "--public-key", str(pub)]) == 0
    assert capsys.readouterr().out.startswith(f"{out / release.REPORT_NAME}: signature ok")
    # the committed key is not this test key: refused, one line
    assert cli.main(["signoff", "verify", str(out / release.REPORT_NAME)]) == errors.EXIT_REFUSED
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not the release key" in err
    # tampered
    report = json.loads((out / release.REPORT_NAME).read_text())
    report["verdict"] = "sign-off" if report["verdict"] != "sign-off" else "refused"
    (out / release.REPORT_NAME).write_text(json.dumps(report))
    assert cli.main(["signoff", "verify", str(out), "--public-key", str(pub)]) == errors.EXIT_REFUSED
    assert capsys.readouterr().err == (f"provision signoff verify: {out / release.REPORT_NAME}: the report's content "
                                       "changed since it was signed: verdict\n")


def test_cli_release_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    dirs = real_catalog_runs(tmp_path, ("offline", "live"))
    out = tmp_path / "rel"
    assert cli.main(["signoff", "release", "--commit", SHA, "--out", str(out), *dirs]) == errors.EXIT_REFUSED
    captured = capsys.readouterr()
    assert "no rehearsal run" in captured.out and signing.THROWAWAY_NOTE in captured.out
    assert captured.err.startswith("provision signoff release: sign-off refused: the release is incomplete")
    assert json.loads((out / release.REPORT_NAME).read_text())["verdict"] == release.INCOMPLETE
    assert cli.main(["signoff", "verify", str(out)]) == errors.EXIT_REFUSED
    err = capsys.readouterr().err
    assert err == f"provision signoff verify: {out / release.REPORT_NAME}: {signing.THROWAWAY_NOTE}\n"
    assert cli.main(["signoff", "release", "--commit", OTHER, *dirs]) == errors.EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "provision signoff release: " + release.OTHER_COMMIT.format(dir=dirs[0], got=SHA, want=OTHER))


@pytest.mark.parametrize("damage", ["garbage", "no sig", "bad sig", "not a release"])
def test_cli_verify_of_a_malformed_report_is_bad_input(tmp_path, monkeypatch, capsys, damage):
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    out = signed(tmp_path, signing.signing_key())
    if damage == "garbage":
        (out / release.REPORT_NAME).write_text("{not json")
    elif damage == "no sig":
        (out / release.SIG_NAME).unlink()
    elif damage == "bad sig":
        sig = json.loads((out / release.SIG_NAME).read_text())
        sig["signature"] = "AAAA"
        (out / release.SIG_NAME).write_text(json.dumps(sig))
    else:
        (out / release.REPORT_NAME).write_text(json.dumps({"run": {}, "ids": []}))
    assert cli.main(["signoff", "verify", str(out)]) == errors.EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"provision signoff verify: {out}: not a signed release report: ")


def test_cli_keygen_writes_a_0600_private_key_and_prints_only_the_public_key(tmp_path, capsys):
    path = tmp_path / "release.key"
    assert cli.main(["signoff", "keygen", "--private-key-out", str(path)]) == 0
    printed = capsys.readouterr().out
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert printed == signing.public_pem(private.public_key()) and "PRIVATE" not in printed
    assert cli.main(["signoff", "keygen", "--private-key-out", str(path)]) == errors.EXIT_USAGE
    assert capsys.readouterr().err.strip() == "provision signoff keygen: " + signing.KEY_EXISTS.format(path=path)


def test_cli_release_needs_the_catalog_release_grades(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    dirs = [str(make_run(tmp_path, t, scs=catalog.scenarios(), cat=catalog.catalog(), grade="model"))
            for t in ("offline", "rehearsal", "live")]
    out = tmp_path / "rel"
    assert cli.main(["signoff", "release", "--commit", SHA, "--out", str(out), *dirs]) == errors.EXIT_REFUSED
    rep = json.loads((out / release.REPORT_NAME).read_text())
    needs = {i: {t: g for t, g in n.items() if g != "model"} for i, n in catalog.release().items()}
    refused = {r["id"] for r in rep["ids"] if r["status"] == release.REFUSED}
    assert refused == {i for i, n in needs.items() if n}
    assert f"R1.2: offline: evidence model, the release needs {catalog.release()['R1.2']['offline']}" in rep["reasons"]
