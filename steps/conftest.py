"""Steps shared by several features live here."""

import pytest
from pytest_bdd import given, parsers

from provision.kube import manifests


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
