"""Steps shared by several features live here."""

import pytest
from pytest_bdd import given, parsers, when

from provision.aws import stacks
from provision.cli import progress
from provision.kube import manifests

# ---- AWS stacks (infrastructure.feature, monitoring.feature) ------------------

@given(parsers.parse("the {name} environment"), target_fixture="env")
def the_environment(target, name):
    """The environment's stacks under a unique prefix on the target (parallel-safe)."""
    return stacks.isolated(target, name)


@when("the stacks are applied", target_fixture="applied")
def stacks_applied(target, env):
    return stacks.up(target, env, progress)


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
        _render_cache[env] = manifests.render(env)
    rendered[env] = _render_cache[env]
    return rendered[env]


@given(parsers.parse('the {env} overlay with the seeded fault "{fault}"'), target_fixture="objects")
def seeded_overlay(env, fault, rendered, tmp_path):
    # Seeded into a copy of manifests/ under tmp_path; committed files stay untouched.
    rendered[env] = manifests.render_dir(manifests.seed_fault(fault, env, tmp_path))
    return rendered[env]
