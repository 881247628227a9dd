"""The pure part of provision.kube.rbac: rules to rights, the allowed matrix, the comparison."""
import pytest

from provision.kube import rbac

pytestmark = [pytest.mark.offline, pytest.mark.unit]

BASE = {"resourceRules": [{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                           "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}],
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/version"]}]}
API = {"resourceRules": BASE["resourceRules"] + [
    {"verbs": ["get", "watch"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app-config"]}],
    "nonResourceRules": BASE["nonResourceRules"]}
ADMIN = {"resourceRules": BASE["resourceRules"] + [
    {"verbs": ["*"], "apiGroups": ["", "apps"], "resources": ["secrets", "deployments"]}]}


def test_expand():
    rights = rbac.expand(API)
    assert ("", "configmaps", "app-config", "watch") in rights
    assert ("url", "/healthz", "", "get") in rights
    assert len(rights) == 2 + 2 + 2


def test_allowed_matrix_from_rows():
    m = rbac.allowed_matrix([{"serviceaccount": "web-app", "verbs": "", "resource": "", "name": ""},
                             {"serviceaccount": "api-backend", "verbs": "get,watch", "resource": "configmaps",
                              "name": "app-config"},
                             {"serviceaccount": "x", "verbs": "list", "resource": "deployments.apps", "name": ""}])
    assert m["web-app"] == set()
    assert m["api-backend"] == {("", "configmaps", "app-config", "get"), ("", "configmaps", "app-config", "watch")}
    assert m["x"] == {("apps", "deployments", "*", "list")}


def test_compare_passes_on_exact_match_and_names_the_offender():
    base = rbac.expand(BASE)
    allowed = rbac.allowed_matrix([{"serviceaccount": "web-app"},
                                   {"serviceaccount": "api-backend", "verbs": "get,watch", "resource": "configmaps",
                                    "name": "app-config"}])
    good = {"web-app": rbac.expand(BASE) - base, "api-backend": rbac.expand(API) - base}
    assert rbac.compare(good, allowed, "ns").ok
    bad = {**good, "web-app": rbac.expand(ADMIN) - base}
    f = rbac.compare(bad, allowed, "ns")
    assert not f.ok and any(e.startswith("FAIL web-app: may * secrets") for e in f.evidence)


def test_compare_reports_missing_rights_and_unknown_accounts():
    allowed = rbac.allowed_matrix([{"serviceaccount": "api-backend", "verbs": "get", "resource": "configmaps",
                                    "name": "app-config"}])
    f = rbac.compare({"api-backend": set(), "stray": set()}, allowed, "ns")
    assert not f.ok
    assert "FAIL stray: ServiceAccount has no row in the allowed matrix" in f.evidence
    assert any("may not get configmaps/app-config" in e for e in f.evidence)
