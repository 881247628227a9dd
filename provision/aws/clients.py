"""The one way to make a boto3 client for a target (its endpoint, region and credentials)."""

from __future__ import annotations

from functools import lru_cache

import boto3
import botocore.config


def client(target, service: str, credentials=None, attempts: int | None = None, region: str | None = None):
    """A boto3 client of `service` on the target.

    `credentials`: temporary credentials (an object with access_key_id,
    secret_access_key, session_token, or a dict of boto3's aws_* keywords);
    without them the ambient ones. `attempts`: retries (1: an unimplemented
    call is not retried). `region`: for global APIs served from one region.
    """
    region = region or target.region
    if credentials is None:
        return _shared(target.aws_endpoint_url, region, service, attempts)
    return _new(target.aws_endpoint_url, region, service, attempts, **_keywords(credentials))


@lru_cache(maxsize=64)
def _shared(endpoint: str | None, region: str, service: str, attempts: int | None):
    # Building a boto3 client costs ~50 ms; probes and properties make hundreds of calls.
    return _new(endpoint, region, service, attempts)


def _new(endpoint: str | None, region: str, service: str, attempts: int | None, **creds):
    cfg = botocore.config.Config(retries={"max_attempts": attempts, "mode": "standard"}) if attempts else None
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=cfg, **creds)


def _keywords(credentials) -> dict[str, str]:
    if isinstance(credentials, dict):
        return dict(credentials)
    return {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": str(credentials.secret_access_key),
        "aws_session_token": str(credentials.session_token),
    }
