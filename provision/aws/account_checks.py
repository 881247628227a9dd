"""Live checks of what settings.yaml says about the account: the alert topic's confirmed subscriber and the
account's GitHub OIDC provider (github.oidc_provider), each beside its static twin.

A read the job's role is refused (AccessDenied) fails, naming the refusal: the role lacks what
the probe calls (live_checks.could_not_read). A read the endpoint cannot answer (an API it does not
serve) is unverifiable with the reason, never passed; graded as the target grades its AWS.
"""

from __future__ import annotations

import botocore.exceptions

from .. import config
from ..config import Environment
from ..findings import Finding, combine, failed, passed, unverifiable
from .clients import client
from .live_checks import could_not_read, rendered
from .monitoring_checks import alert_subscription
from .stack_api import listed as _listed
from .stack_api import outputs as _outputs
from .trust_checks import oidc_provider_setting

PENDING = "PendingConfirmation"


def confirmed_subscribers(subscriptions: list[dict], email: str) -> tuple[list[str], list[str]]:
    """(confirmed, problems) of the topic's e-mail subscriptions to `email` (pure).

    SNS lists an unconfirmed e-mail subscription with SubscriptionArn "PendingConfirmation"
    (and a deleted one with "Deleted"); only a real subscription ARN delivers."""
    mine = [s for s in subscriptions if s.get("Protocol") in ("email", "email-json") and s.get("Endpoint") == email]
    confirmed = [s["SubscriptionArn"] for s in mine if str(s.get("SubscriptionArn", "")).startswith("arn:")]
    problems = [f"FAIL {email}: {s.get('SubscriptionArn')} (open the mail from AWS Notifications and confirm)"
                for s in mine if not str(s.get("SubscriptionArn", "")).startswith("arn:")]
    if not mine:
        others = ", ".join(f"{s.get('Protocol')}:{s.get('Endpoint')}" for s in subscriptions) or "none"
        problems.append(f"FAIL no subscription of {email} (subscribers: {others})")
    return confirmed, problems


def subscription_live(target, env: Environment) -> Finding:
    """R7.3: the alert topic has a CONFIRMED e-mail subscription to settings' alerts.email."""
    email = str((config.settings().get("alerts") or {}).get("email", ""))
    static = alert_subscription(rendered(env, "monitoring"), email)
    g = target.grade("aws")
    subject, want = "alert topic subscribers (SNS API)", f"a confirmed subscription of {email}"
    topic = _outputs(target, env, "monitoring").get("AlertTopicArn", "")
    if not topic:
        return combine(static.subject, [static, failed(subject, want, "no alert topic (is monitoring applied?)",
                                                       grade=g)])
    try:
        subs = client(target, "sns").list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
    except botocore.exceptions.ClientError as exc:
        return combine(static.subject, [static, could_not_read(target, subject, want, exc)])
    confirmed, problems = confirmed_subscribers(subs, email)
    gap = target.gap("AWS::SNS::Subscription")
    if not subs and gap:  # the endpoint's CloudFormation made no subscription, and nobody can confirm one
        return combine(static.subject, [static, unverifiable(subject, want, gap, evidence=[gap], grade=g)])
    live = Finding(bool(confirmed), subject, want,
                   f"confirmed: {confirmed[0]}" if confirmed else "; ".join(p.removeprefix("FAIL ") for p in problems),
                   tuple(problems if not confirmed else confirmed), grade=g)
    return combine(static.subject, [static, live])


def oidc_provider_live(target, env: Environment) -> Finding:
    """github.oidc_provider as IAM shows it: with `create`, no provider of the issuer exists that the iam
    stack of oidc_provider_env did not create (its create would fail); with an ARN, that provider exists
    and accepts the audience."""
    gh = config.settings()["github"]
    static = oidc_provider_setting()
    g = target.grade("aws")
    subject = f"the account's {gh['oidc_issuer']} provider (IAM API)"
    setting = str(gh.get("oidc_provider", "create"))
    iam = client(target, "iam")
    try:
        arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
        found = next((a for a in arns if a.endswith(f":oidc-provider/{gh['oidc_issuer']}")), "")
        audiences = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=found)["ClientIDList"] if found else []
    except botocore.exceptions.ClientError as exc:
        return combine(static.subject, [static, could_not_read(target, subject, setting, exc)])
    gap = target.gap("AWS::IAM::OIDCProvider")
    if setting == "create" and gap:
        # the endpoint's CloudFormation never creates the provider, so no stack can own it here
        live = unverifiable(subject, "absent, or the iam stack's own", gap, evidence=[gap], grade=g)
    elif setting == "create":
        owner_env = Environment.named(gh["oidc_provider_env"])
        ours = _listed(target, owner_env, "iam").get("GitHubOidcProvider", "")
        if found and found != ours:
            live = failed(subject, "absent, or the iam stack's own", f"{found} exists outside the iam stack",
                          evidence=[f"FAIL {found} already exists: set github.oidc_provider to it, or the iam "
                                    f"stack of {owner_env.name} fails to create it"], grade=g)
        else:
            live = passed(subject, "absent, or the iam stack's own", found or "absent (the iam stack creates it)",
                          grade=g)
    elif found != setting:
        live = failed(subject, setting, found or "absent", evidence=[f"FAIL github.oidc_provider {setting} not in IAM"],
                      grade=g)
    elif gh["oidc_audience"] not in audiences:
        live = failed(subject, f"client id {gh['oidc_audience']}", ", ".join(audiences) or "none",
                      evidence=[f"FAIL {found} does not accept {gh['oidc_audience']}"], grade=g)
    else:
        live = passed(subject, setting, f"{found} accepts {gh['oidc_audience']}", grade=g)
    return combine(static.subject, [static, live])

