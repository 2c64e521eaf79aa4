"""`mlplat bootstrap`: create the terraform state bucket the blueprint names (state_bucket), with versioning,
SSE-KMS, public access blocked, a TLS-only policy and ACLs disabled; or check an existing one and refuse it, naming
what is weaker. Idempotent: a second run checks and changes nothing."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from mlplat.blueprint import load
from mlplat.bootstrap import bootstrap, tls_only_policy
from mlplat.cli.base import Command
from mlplat.errors import EXIT_BAD_INPUT, MlplatError
from mlplat.runner import Progress
from mlplat.settings import Settings
from mlplat.state import StateBucket, state_bucket
from mlplat.workflow import account


def run(args: argparse.Namespace) -> dict[str, Any]:
    bp = load(args.blueprint)
    if args.local:
        # The embedded AWS keeps state in local files; bootstrap there exercises the bucket itself.
        target = StateBucket(bp.state_bucket, bp.state_bucket_region or bp.region, bp.state_key_prefix) \
            if bp.state_bucket else None
    else:
        target = state_bucket(bp, Settings.from_env())
    if target is None:
        raise MlplatError(f"{args.blueprint}: no state bucket to bootstrap: set state_bucket = \"<bucket name>\" "
                          f"(and state_bucket_region if it is not {bp.region}) in the blueprint",
                          exit_code=EXIT_BAD_INPUT)
    progress = Progress(quiet=False)
    with account(bp, local=args.local, progress=progress) as aws:
        result = bootstrap(aws, target, {"Platform": bp.name, "ManagedBy": "mlplat", **bp.tags}, progress.say)
    stacks = [f"{bp.name}-aws", f"{bp.name}-kubernetes"]
    return {
        "bucket": result.bucket, "region": result.region, "created": result.created,
        "checks": [asdict(f) for f in result.findings],
        "state_keys": {stack: target.key(stack, bp.name) for stack in stacks},
        "locking": "S3 lock file (terraform use_lockfile)",
        "tls_only_policy": tls_only_policy(result.bucket, result.region),
    }


def render(r: dict[str, Any]) -> str:
    verb = "created" if r["created"] else "checked (already there, unchanged)"
    lines = [f"state bucket {r['bucket']} ({r['region']}): {verb}"]
    lines += [f"  ok  {c['check']}: {c['detail']}" for c in r["checks"]]
    lines.append(f"  ok  locking: {r['locking']}")
    lines += [f"state of {stack}: s3://{r['bucket']}/{key}" for stack, key in r["state_keys"].items()]
    return "\n".join(lines)


COMMAND = Command(
    name="bootstrap", help="create (or check) the terraform state bucket the blueprint names",
    run=run, render=render, uses_terraform=False, uses_aws=True,
)
