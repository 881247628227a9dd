"""`provision cluster bootstrap`'s order of named steps (provision/kube/bootstrap.py), without a cluster:
which steps run is decided by what the target declares it cannot do, never by its name."""
from __future__ import annotations

import pytest

from provision.config import Target
from provision.kube import bootstrap

pytestmark = [pytest.mark.offline, pytest.mark.unit]


def _steps(calls: list, wrote: dict):
    def step(name, cannot=""):
        return bootstrap.Step(name, lambda t, e: calls.append(name) or list(wrote.get(name, ())), cannot)
    return [step("identity"), step("namespace"), step("secret source", "real_secret_source"),
            step("volumes", "volume_provisioning")]


@pytest.mark.parametrize("name", ["offline", "live", "rehearsal"])
def test_steps_for_what_the_target_cannot_do_run_by_its_declaration_not_its_name(name):
    calls = []
    bare = Target(name, "us-east-1", "123456789012")
    bootstrap.run(bare, "dev", steps=_steps(calls, {}))
    assert calls == ["identity", "namespace"]   # it declares nothing: it provides both itself
    calls.clear()
    lacking = Target(name, "us-east-1", "123456789012", cannot={"real_secret_source": "x", "volume_provisioning": "y"})
    out = bootstrap.run(lacking, "dev", steps=_steps(calls, {}))
    assert calls == ["identity", "namespace", "secret source", "volumes"] and not out.skipped


def test_a_run_that_writes_nothing_says_so_and_one_that_writes_names_each_write():
    t = Target("t", "us-east-1", "123456789012", cannot={"volume_provisioning": "y"})
    quiet = bootstrap.run(t, "dev", steps=_steps([], {}))
    assert quiet.lines()[-1] == bootstrap.NOTHING_TO_DO and all(f.ok for f in quiet.findings)
    assert any(line.startswith("skipped secret source") for line in quiet.lines())
    busy = bootstrap.run(t, "dev", steps=_steps([], {"identity": ["ConfigMap/kube-public/cluster-identity"],
                                                      "volumes": ["PersistentVolume/pv-0"]}))
    assert busy.written == ["ConfigMap/kube-public/cluster-identity", "PersistentVolume/pv-0"]
    assert busy.lines()[-1] == bootstrap.WROTE.format(n=2) and bootstrap.NOTHING_TO_DO not in busy.lines()


def test_the_steps_are_in_the_operators_order():
    names = [s.name for s in bootstrap.STEPS]
    assert names[:3] == ["cluster identity", "app namespace", "cluster overlay"]
    assert {s.when_target_cannot for s in bootstrap.STEPS} >= {"real_secret_source", "volume_provisioning"}
