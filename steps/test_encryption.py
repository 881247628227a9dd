"""Steps of features/encryption.feature."""
from __future__ import annotations

import base64
import contextlib
import itertools
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pytest_bdd import given as bdd_given
from pytest_bdd import parsers, scenarios, then

from provision import findings
from provision.findings import combine, failed, passed, wait_until
from provision.kube import access, client, encryption, kubectl
from provision.local import controlplane, kubeconfig, stack

scenarios("encryption.feature")


@pytest.fixture
def scratch_ns(target):
    name = f"enc-{uuid.uuid4().hex[:8]}"
    kubectl.run(target, ["create", "namespace", name])
    yield name
    kubectl.run(target, ["delete", "namespace", name, "--wait=false"], check=False)


@bdd_given("a secret written through the API server", target_fixture="written")
def _written(target, scratch_ns):
    value = b"s3cr3t-" + uuid.uuid4().hex.encode()
    encryption.write_secret(target, scratch_ns, "app-secrets", {"password": value})
    return {"namespace": scratch_ns, "name": "app-secrets", "plaintexts": (value,)}


@then(parsers.parse('its raw value in etcd starts with "{prefix}"'))
def _starts_with(target, written, prefix, check):
    check(encryption.secret_encrypted_at_rest(target, written["namespace"], written["name"],
                                              written["plaintexts"], prefix=prefix.encode()))


# the seeded faults: a second, short-lived API server that stores secrets as plaintext
FAULT_CONFIGS = {"no encryption config": {"encrypt": False},
                 "the identity provider alone": {"provider": "identity"}}


@bdd_given(parsers.parse("a raw etcd value written by a control plane with {config}"), target_fixture="raw_value")
def _unencrypted(tmp_path, request, config):
    if FAULT_CONFIGS[config] == {"encrypt": False}:   # the session's own (conftest.py), under a name of this test's
        return _raw_value(request.getfixturevalue("unencrypted_control_plane")["target"], config)
    with controlplane.temporary(tmp_path / "plain", apiserver_only=True, **FAULT_CONFIGS[config]) as info:
        return _raw_value(stack.target({"components": {"controlplane": info}}), config)


def _raw_value(t, config: str) -> dict:
    name, value = f"app-secrets-{uuid.uuid4().hex[:8]}", b"s3cr3t-" + uuid.uuid4().hex.encode()
    encryption.write_secret(t, "default", name, {"password": value})
    key = encryption.etcd_key("secrets", "default", name)
    return {"subject": f"Secret default/{name} at rest in etcd ({key}), control plane with {config}",
            "raw": encryption.raw_etcd_value(t, key), "plaintexts": (value,)}


@then(parsers.parse('the encryption check fails naming "{word}"'))
def _fails_naming(raw_value, word, record, check):
    check(findings.caught(record(encryption.judge_at_rest(raw_value["subject"], raw_value["raw"],
                                                          raw_value["plaintexts"])), word))


# Secret names are unique per example (hypothesis replays); the data is what varies.
# Kubernetes' rule for a Secret's data keys (IsConfigMapKey): [-._a-zA-Z0-9]+, and not ".", ".." nor
# starting with ".." (the API server refuses those with 422; hypothesis found "..PnFrS").
_keys = st.from_regex(r"[A-Za-z0-9_.-]{1,40}", fullmatch=True).filter(
    lambda k: k not in (".", "..") and not k.startswith(".."))
_data = st.dictionaries(_keys, st.binary(min_size=0, max_size=256), min_size=1, max_size=5)


@then("for at least 100 generated secrets the raw etcd value is ciphertext "
      "and only authorised service accounts can read it")
def _property(target, scratch_ns, check):
    reader = access.grant_secret_reader(target, scratch_ns, "app-reader")
    intruder = access.create_service_account(target, scratch_ns, "intruder")
    default = access.service_account_user(scratch_ns, "default")
    encryption.write_secret(target, scratch_ns, "rbac-probe", {"k": b"v"})
    wait_until("RBAC to admit the reader", lambda: access.secret_readable_only_by(
        target, scratch_ns, "rbac-probe", [reader], [intruder]), 15, 0.2)
    counter = itertools.count()
    seen: list = []

    @settings(max_examples=100, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=_data)
    def example(data):
        name = f"gen-{next(counter)}"
        encryption.write_secret(target, scratch_ns, name, data)
        f = combine(f"generated Secret {scratch_ns}/{name}", [
            encryption.secret_encrypted_at_rest(target, scratch_ns, name, tuple(data.values())),
            access.secret_readable_only_by(target, scratch_ns, name, [reader], [intruder, default],
                                           expected_data={k: base64.b64encode(v).decode() for k, v in data.items()}),
        ])
        seen.append(f)
        assert f.ok, "\n".join([f.line(), *f.evidence])

    try:
        example()
    except AssertionError as exc:
        check(failed("P8 over generated secrets", "every secret ciphertext at rest and readable only by app-reader",
                     f"counterexample after {len(seen)} examples",
                     evidence=[*getattr(exc, "__notes__", []), *str(exc).splitlines()[:20]]))
    check(passed("P8 over generated secrets", f">= 100 secrets ciphertext, read only by {reader}",
                 f"{len(seen)} secrets: all ciphertext; {intruder} and {default} got 403")
          if len(seen) >= 100 else
          failed("P8 over generated secrets", ">= 100 examples", f"{len(seen)} examples"))


# ---- P8 under varied encryption configs: one API server per provider, many secrets each

PROVIDERS = ("secretbox", "aescbc", "aesgcm")
_names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?){0,2}",
                       fullmatch=True)
_big = st.builds(lambda n, seed: random.Random(seed).randbytes(n), st.integers(1024, 300_000), st.integers())
_values = st.one_of(st.binary(min_size=0, max_size=512), _big)
_secret = st.dictionaries(_keys, _values, min_size=1, max_size=4).filter(
    lambda d: sum(len(v) for v in d.values()) < 700_000)   # a Secret holds at most 1 MiB


def _generated_keys(provider: str, rnd: random.Random) -> list[tuple[str, bytes]]:
    """1 to 3 keys of the sizes the provider takes, with generated names; the first one writes."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
    names = set()
    while len(names) < rnd.randint(1, 3):
        names.add("k" + "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 20))).rstrip("-"))
    return [(n, rnd.randbytes(rnd.choice(kubeconfig.PROVIDERS[provider]))) for n in sorted(names, key=str)]


def _stored_as(t, provider: str, keys, name: str, data: dict) -> list:
    """The at-rest judgment with the writing key's prefix, and the value read back through the API."""
    f = encryption.secret_encrypted_at_rest(t, "default", name, tuple(data.values()),
                                            prefix=encryption.provider_prefix(provider, keys[0][0]))
    got = (client.get(t, "v1", "Secret", name, "default") or {}).get("data") or {}
    want = {k: base64.b64encode(v).decode() for k, v in data.items()}
    back = passed(f"Secret default/{name} read back through the API server (decrypted)") if got == want else \
        failed(f"Secret default/{name} read back through the API server (decrypted)", "the written data",
               f"{sorted(got)} differ from {sorted(want)}")
    return [f, back]


def _one_config(t, provider: str, keys, per: int, seen: dict) -> list:
    """`per` generated secrets on the API server `t` encrypting with `provider` and `keys`."""
    counter = itertools.count()

    @settings(max_examples=per, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @given(name=_names, data=_secret)
    def example(name, data):
        name = f"{name}-{next(counter)}"[-253:]  # hypothesis replays names; each example its own Secret
        encryption.write_secret(t, "default", name, data)
        f = combine(f"Secret default/{name} under {provider}", _stored_as(t, provider, keys, name, data))
        seen[provider] = seen.get(provider, 0) + 1
        assert f.ok, "\n".join([f.line(), *f.evidence])

    subject = f"{provider}, keys {', '.join(n for n, _ in keys)} ({len(keys[0][1])}-byte writer)"
    prefix = encryption.provider_prefix(provider, keys[0][0])
    try:
        example()
        out = [passed(subject, f">= {per} secrets with prefix {prefix!r}",
                      f"{seen.get(provider, 0)} secrets ciphertext, read back intact", grade="real")]
    except AssertionError as exc:
        out = [failed(subject, f"every secret with prefix {prefix!r}", f"counterexample after {seen.get(provider, 0)}",
                      evidence=[*(f"FAIL {ln}" for ln in str(exc).splitlines()[:20]),
                                *getattr(exc, "__notes__", [])], grade="real")]
    # the same check expecting a key that does not write (an older one, or one not configured) comes out
    # red, naming the key that does: the judgment tells keys apart
    other = keys[1][0] if len(keys) > 1 else keys[0][0] + "-not-configured"
    encryption.write_secret(t, "default", "probe", {"k": b"v" * 16})
    wrong = encryption.secret_encrypted_at_rest(t, "default", "probe",
                                                prefix=encryption.provider_prefix(provider, other))
    out.append(findings.caught(wrong, prefix.decode()))
    return out


@contextlib.contextmanager
def _planes(tmp_path, configs: dict[str, dict]):
    """One temporary API server per config, all started (and stopped) at once: a start is mostly waiting for
    the server's health check, so three take little longer than one. Yields name -> the plane's info."""
    cms = {name: controlplane.temporary(tmp_path / name, apiserver_only=True, **kw) for name, kw in configs.items()}
    with ThreadPoolExecutor(len(cms)) as pool:
        started = {name: pool.submit(cm.__enter__) for name, cm in cms.items()}
        try:
            yield {name: f.result() for name, f in started.items()}   # the first start that failed raises here
        finally:   # every plane that started is stopped (one that failed to start stopped itself)
            up = [cm for name, cm in cms.items() if started[name].exception() is None]
            list(pool.map(lambda cm: cm.__exit__(None, None, None), up))


@then("for control planes encrypting with secretbox, aescbc and aesgcm under generated keys, at least 100 "
      "generated secrets in all are ciphertext of that provider and key in etcd")
def _providers_property(tmp_path, check):
    seed = random.randrange(2 ** 32)
    rnd = random.Random(seed)
    per = -(-100 // len(PROVIDERS))
    seen: dict[str, int] = {}
    out = []
    keys = {provider: _generated_keys(provider, rnd) for provider in PROVIDERS}
    with _planes(tmp_path, {p: {"provider": p, "keys": keys[p]} for p in PROVIDERS}) as planes:
        for provider in PROVIDERS:
            out += _one_config(stack.target({"components": {"controlplane": planes[provider]}}), provider,
                               keys[provider], per, seen)
    total = sum(seen.values())
    check(combine(f"P8 under {len(PROVIDERS)} encryption configs (key seed {seed})", out))
    check(passed("hypothesis ran enough examples", ">= 100", f"{total} ({seen})") if total >= 100
          else failed("hypothesis ran enough examples", ">= 100", f"{total} ({seen})"))
