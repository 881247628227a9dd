"""The backup bucket a DR scenario works with: on the shared emulator, the backup stack of the scenario's own
copy of the environment, applied on the fly (only that stack); elsewhere the one the operator applied."""
from __future__ import annotations

import botocore.exceptions

from provision import errors
from provision.aws import clients
from provision.aws import gaps as aws_gaps
from provision.aws.cfn import load, parameters
from provision.aws.stack_api import wait_stack
from provision.backup import store


def bucket(target, env) -> tuple[object, store.Location | None, str]:
    """(s3 client, Location or None, why not) of the environment's backup bucket on the target."""
    s3 = clients.client(target, "s3")
    try:
        if aws_gaps.shared_emulator(target):
            cf = clients.client(target, "cloudformation")
            doc = load.load(load.path(store.STACK, env.template_dir))
            params = parameters.for_template(store.STACK, doc, env, {})
            name = env.stack_name(store.STACK)
            cf.create_stack(StackName=name, TemplateBody=load.path(store.STACK, env.template_dir).read_text(),
                            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                            Capabilities=["CAPABILITY_NAMED_IAM"])
            wait_stack(cf, name, store.STACK, lambda m: None, set())
        loc = store.location(target, env)
        s3.list_objects_v2(Bucket=loc.bucket, Prefix=loc.prefix, MaxKeys=1)  # may this job read the sets?
        return s3, loc, ""
    except errors.BadInput as exc:
        return s3, None, str(exc)
    except botocore.exceptions.ClientError as exc:
        if store.readable(exc):
            return s3, None, (f"this job's role may not read the backups ({exc.response['Error']['Code']}): the drill "
                              "runs as its own role (backup.yaml DrillRole, verify-live.yml)")
        raise
