"""Steps shared by several features live here."""

import uuid

import pytest
from pytest_bdd import given, parsers, then, when

from harness.faults import aws as aws_faults
from harness.faults import manifests as manifest_faults
from provision.aws import gaps as aws_gaps
from provision.aws import stacks
from provision.cli import progress
from provision.config import Environment
from provision.findings import caught, unverifiable
from provision.kube import render

# ---- AWS stacks and templates (infrastructure.feature, monitoring.feature) ----

@pytest.fixture
def aws_env(target):
    """name -> the environment as a test sees it: its own copy (a suffix) on a shared
    emulated AWS endpoint, the real one elsewhere (parallel-safe)."""
    def named(name: str) -> Environment:
        shared = aws_gaps.shared_emulator(target)
        return Environment.named(name, uuid.uuid4().hex[:8] if shared else None)
    return named


@given(parsers.parse("the {name} environment"), target_fixture="env")
def the_environment(target, aws_env, check, name):
    """The environment's stacks under a unique prefix on the target (parallel-safe). A run that holds one
    environment's roles (live, rehearsal) reports another environment as not verifiable, with the reason."""
    why = target.not_held(name)
    if why:
        check(unverifiable(f"the {name} environment on the {target.name} target", f"a run holding {name}'s roles",
                           why, grade=target.grade("aws")))
    return aws_env(name)


@when("the stacks are applied", target_fixture="applied")
def stacks_applied(target, env):
    return stacks.up_or_read(target, env, progress)


@then(parsers.parse('the static check "{name}" fails naming "{evidence}"'))
def static_check_fails(env, record, check, name, evidence):
    """A seeded template fault turns that very check red (harness/faults/aws.py STATIC_CHECKS)."""
    check(caught(record(aws_faults.static_check(name, env)), evidence, case_sensitive=True))


# ---- Kubernetes manifests (manifests.feature, security.feature) ---------------


@pytest.fixture(scope="session")
def _render_cache():
    return {}


@pytest.fixture
def rendered():
    """Every overlay rendered in this scenario, by environment."""
    return {}


@given(parsers.parse("the {env} overlay rendered with kustomize"), target_fixture="objects")
def rendered_overlay(env, rendered, _render_cache):
    if env not in _render_cache:
        _render_cache[env] = render.render(env)
    rendered[env] = _render_cache[env]
    return rendered[env]


@given(parsers.parse('the {env} overlay with the seeded fault "{fault}"'), target_fixture="objects")
def seeded_overlay(env, fault, rendered, tmp_path):
    # Seeded into a copy of manifests/ under tmp_path; committed files stay untouched.
    rendered[env] = render.render_dir(manifest_faults.seed_fault(fault, env, tmp_path))
    return rendered[env]


@pytest.fixture
def scratch_namespace(target):
    """A fresh namespace, deleted after the scenario. A scratch namespace is a write: the read-only nightly
    job (and its rehearsal) never makes one, so there the scenario is not verifiable, with the reason."""
    from harness import kube as testing
    from provision.kube import rbac
    from provision.report.outcomes import NOT_VERIFIABLE_PREFIX

    why = testing.refuses_test_deploys(target)
    if why:
        pytest.skip(f"{NOT_VERIFIABLE_PREFIX} this target: {why}")
    ns = rbac.fresh_namespace_name()
    yield ns
    rbac.delete_namespace(target, ns)
