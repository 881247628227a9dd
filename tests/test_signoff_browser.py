"""The HTML sign-off report as headless Chromium renders it.

A probe script is added to a copy of the page; on load it reads, through the
DOM, every tile's data, rendered colour (computed style), grade mark and size,
the legend's colours, every resource the page loaded (Resource Timing) and every
URL an element or style rule names, and writes them into the page, which
Chromium then dumps (`--dump-dom`). Name resolution is mapped to nothing, so a
page that tried to fetch anything could not; the probe sees the attempt.

Needs Debian's `chromium` (installed by .ci/run). Without it these tests fail
with one line saying how to install it.
"""
import json
import re
import shutil
import subprocess
from collections import Counter

import pytest

from provision.report import catalog, outcomes, signoff
from provision.report.signoff_md import GRADE_MARKS

pytestmark = [pytest.mark.offline]

INSTALL = ("chromium is not installed: `apt-get install -y chromium` (Debian's package; .ci/run installs it) "
           "to check the HTML sign-off report in a browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000", "--window-size=1280,1024")

PROBE = """<script>
window.addEventListener('load', () => {
  const out = {tiles: [], legend: {}, resources: [], urls: []};
  for (const t of document.querySelectorAll('.tile')) {
    const cs = getComputedStyle(t), box = t.getBoundingClientRect();
    out.tiles.push({id: t.dataset.id, outcome: t.dataset.outcome, grade: t.dataset.grade,
      group: t.closest('.group') ? t.closest('.group').dataset.group : null,
      colour: cs.backgroundColor, hatched: cs.backgroundImage !== 'none', outline: cs.outlineStyle,
      mark: t.querySelector('.mark') ? t.querySelector('.mark').innerText : null,
      shown: box.width > 0 && box.height > 0 && cs.visibility !== 'hidden'});
  }
  for (const s of document.querySelectorAll('.legend .swatch')) {
    out.legend[s.dataset.outcome] = getComputedStyle(s).backgroundColor;
  }
  out.resources = performance.getEntriesByType('resource').map(e => e.name);
  for (const el of document.querySelectorAll('*')) {
    if (el.id === 'ctl-probe-script') continue;
    for (const a of ['src', 'href', 'srcset', 'poster', 'data', 'action', 'background']) {
      const v = el.getAttribute(a);
      if (v !== null && !v.startsWith('#')) out.urls.push(el.tagName.toLowerCase() + ' ' + a + '=' + v);
    }
  }
  for (const sheet of document.styleSheets) {
    if (sheet.href) out.urls.push('stylesheet ' + sheet.href);
    for (const rule of sheet.cssRules) {
      const m = rule.cssText.match(/url\\([^)]*\\)|@import[^;]*/g);
      if (m) out.urls.push(...m.map(x => 'css ' + x));
    }
  }
  const pre = document.createElement('pre'); pre.id = 'ctl-probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    # Debian's chromium; GitHub's Ubuntu runners ship Google Chrome, the same engine and flags
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        pytest.fail(INSTALL, pytrace=False)
    return found


def render(page: str, tmp_path) -> dict:
    """What Chromium rendered of `page`: the probe's findings, read back from the dumped DOM."""
    path = tmp_path / "signoff.html"
    path.write_text(page.replace("</body>", PROBE.replace("<script>", "<script id='ctl-probe-script'>") + "</body>"))
    run = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r"<pre id=\"ctl-probe\">(.*?)</pre>", run.stdout, re.S)
    assert m, f"chromium rendered no probe output (exit {run.returncode}): {run.stderr[-800:]}"
    return json.loads(m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", colour)[:3])


def problems(seen: dict, rep: signoff.Report) -> list[str]:
    """Where the rendered page differs from the report's rows (one line each); empty when it shows them."""
    out = []
    tiles = {t["id"]: t for t in seen["tiles"]}
    legend = seen["legend"]
    if set(legend) != set(outcomes.ORDER):
        out.append(f"legend shows {sorted(legend)}, not every outcome")
    if len(set(legend.values())) != len(legend):
        out.append(f"two outcomes share a colour in the legend: {legend}")
    for r in rep.rows:
        t = tiles.get(r.id)
        if t is None:
            out.append(f"{r.id}: no tile")
            continue
        if not t["shown"]:
            out.append(f"{r.id}: tile not visible")
        if t["outcome"] != r.outcome:
            out.append(f"{r.id}: tile says {t['outcome']}, the results {r.outcome}")
        if t["colour"] != legend.get(r.outcome):
            out.append(f"{r.id}: tile colour {t['colour']} is not the legend's {r.outcome} {legend.get(r.outcome)}")
        if t["mark"] != GRADE_MARKS[r.grade] or t["grade"] != r.grade:
            out.append(f"{r.id}: grade mark {t['mark']!r} ({t['grade']!r}), the results {r.grade!r}")
        if t["group"] != catalog.group_of(r.id):
            out.append(f"{r.id}: in group {t['group']}")
        weak = r.outcome == outcomes.PASSED and r.grade in ("static", "model", "")
        if t["hatched"] != weak:
            out.append(f"{r.id}: hatched={t['hatched']} but passed on {r.grade or 'no'} evidence: {r.outcome}")
        if (t["outline"] == "dashed") != r.below:
            out.append(f"{r.id}: outline {t['outline']} but below the release grade: {r.below}")
    out += [f"{i}: a tile that is no catalog ID" for i in tiles.keys() - {r.id for r in rep.rows}]
    out += [f"loaded from outside: {u}" for u in seen["resources"]]
    out += [f"names an outside asset: {u}" for u in seen["urls"]]
    return out


def report_with_every_outcome() -> signoff.Report:
    """Every real catalog ID with one scenario of its own, whose outcomes and grades take every value."""
    cycle = [outcomes.PASSED] * 3 + [outcomes.FAILED, outcomes.NOT_IMPLEMENTED, outcomes.SKIPPED,
                                     outcomes.NOT_VERIFIABLE, None]
    grades = ["real", "emulated", "static", "model", ""]
    tests, scs = [], []
    for n, id_ in enumerate(catalog.catalog()):
        sc = catalog.Scenario("tiles.feature", f"scenario of {id_}", (id_, "offline"), n)
        scs.append(sc)
        outcome = cycle[n % len(cycle)]
        if outcome is None:
            continue  # not run
        f = {"status": "passed" if outcome == outcomes.PASSED else "failed", "subject": f"check {n}",
             "expected": "x", "actual": "x", "evidence": [], "gaps": [], "grade": grades[n % len(grades)]}
        tests.append({"nodeid": f"t::{n}", "feature": sc.feature, "scenario": sc.name, "tags": list(sc.tags),
                      "outcome": outcome, "reason": f"{outcome}: seeded", "duration": 0, "findings": [f]})
    results = {"run": {"id": "run-browser", "target": "offline", "commit": "0" * 40}, "tests": tests}
    return signoff.build(results, catalog.catalog(), scs, catalog.release())


@pytest.fixture(scope="module")
def report() -> signoff.Report:
    rep = report_with_every_outcome()
    assert set(Counter(r.outcome for r in rep.rows)) == set(outcomes.ORDER), "the data must show every outcome"
    assert {r.grade for r in rep.rows if r.outcome == outcomes.PASSED} == {"real", "emulated", "static", "model", ""}
    assert any(r.below for r in rep.rows) and any(r.signed for r in rep.rows)
    return rep


def test_every_catalog_id_is_a_tile_coloured_and_marked_as_the_results_say(report, tmp_path):
    seen = render(signoff.to_html(report), tmp_path)
    assert problems(seen, report) == []
    assert [t["id"] for t in seen["tiles"]] == list(catalog.catalog())
    legend = {o: rgb(c) for o, c in seen["legend"].items()}
    r, g, b = legend[outcomes.PASSED]
    assert g > r and g > b, f"passed is not green: {legend[outcomes.PASSED]}"
    r, g, b = legend[outcomes.FAILED]
    assert r > g and r > b, f"failed is not red: {legend[outcomes.FAILED]}"


def test_the_browser_check_names_a_missing_tile_a_wrong_colour_or_mark_and_an_outside_asset(report, tmp_path):
    page = signoff.to_html(report)
    failed = next(r for r in report.rows if r.outcome == outcomes.FAILED)
    gone = report.rows[0]
    real = next(r for r in report.rows if r.grade == "real" and r is not gone)
    seeded = re.sub(rf"<a class='[^']*' id='tile-{re.escape(gone.id)}'.*?</a>", "", page, count=1)
    seeded = seeded.replace("</style>", f"#tile-{failed.id.replace('.', chr(92) + '.')}{{background-color:"
                                        f"#2e7d32 !important}}</style>")
    seeded = re.sub(rf"(id='tile-{re.escape(real.id)}'.*?<span class='mark'>)real<", r"\1static only<", seeded,
                    count=1, flags=re.S)
    seeded = seeded.replace("</body>", "<img src='http://assets.example.invalid/logo.png'></body>")
    found = problems(render(seeded, tmp_path), report)
    assert f"{gone.id}: no tile" in found
    assert any(p.startswith(f"{failed.id}: tile colour rgb(46, 125, 50) is not the legend's failed") for p in found)
    assert any(p.startswith(f"{real.id}: grade mark 'static only'") for p in found)
    assert "loaded from outside: http://assets.example.invalid/logo.png" in found
    assert "names an outside asset: img src=http://assets.example.invalid/logo.png" in found


def test_without_chromium_the_test_fails_saying_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception) as e:
        chromium()
    assert str(e.value) == INSTALL and "\n" not in INSTALL
