"""app-secrets: which keys the manifests read, and the Secret made from the source."""
import base64

import pytest

from provision.kube import app_secret, render

pytestmark = [pytest.mark.offline, pytest.mark.unit]


def test_required_keys_are_the_secret_key_refs_of_the_workloads():
    keys = app_secret.required_keys(render.render("dev"))
    assert keys == ["auth0-client-id", "auth0-client-secret", "auth0-domain", "jwt-secret", "postgres-password"]


def test_secret_object_carries_values_base64_and_nothing_else():
    obj = app_secret.secret_object("ns1", {"b": "two", "a": "one"})
    assert obj["metadata"] == {"name": "app-secrets", "namespace": "ns1",
                               "labels": {"app.kubernetes.io/part-of": "cloudtolocalllm"}}
    assert {k: base64.b64decode(v).decode() for k, v in obj["data"].items()} == {"a": "one", "b": "two"}
    assert "stringData" not in obj


def test_leak_check_finds_a_value_and_names_only_its_key():
    f = app_secret.leaks({"jwt-secret": "s3cr3t-value"}, ["deploy ok", "history: s3cr3t-value"])
    assert not f.ok and f.evidence == ("value of jwt-secret found in text #1",)
    assert "s3cr3t-value" not in f.line() + "".join(f.evidence)
    assert app_secret.leaks({"jwt-secret": "s3cr3t-value"}, ["deploy ok"]).ok
