"""`mlplat init`: write a commented starter blueprint for a real account (or copy an existing one with --from)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from mlplat import versions
from mlplat.blueprint import NAME_PATTERN, parse_text
from mlplat.cli.base import Command
from mlplat.errors import EXIT_BAD_INPUT, BlueprintError, MlplatError

STARTER = '''\
# mlplat blueprint for {name}. Every key is documented in README.md ("Blueprint reference"); `mlplat validate`
# checks this file and says what to fix. Keys left out take their defaults.

name   = "{name}"
region = "{region}"
# The newest Kubernetes version in EKS standard support ({version}); `validate` warns about extended support.
eks_cluster_version = "{version}"

# --- Set these before a real deploy -------------------------------------------------------------------------------
# Who administers the cluster (the identity that deploys is made an admin too, unless turned off):
# admin_principal_arns = ["arn:aws:iam::123456789012:role/PlatformAdmin"]
#
# The EKS API endpoint is private. To run the first deploy from outside the VPC (a laptop, a hosted CI runner),
# allow your egress range here, then remove it once a runner inside the VPC takes over:
# cluster_endpoint_public_access_cidrs = ["203.0.113.0/24"]
#
# Zones: by default the first 2 zones the account offers in the region. Name them (or use zone IDs, which mean the
# same physical zone in every account) when capacity is zonal, e.g. for Trainium or p5 instances:
# azs = ["{region}a", "{region}b", "{region}c"]

# --- Network and storage ------------------------------------------------------------------------------------------
vpc_cidr           = "10.1.0.0/16"
single_nat_gateway = true # one NAT gateway; false puts one in every zone (survives a zone outage, costs more)
enable_efs         = true # shared home/scratch volume in every workload namespace
enable_fsx         = false # FSx for Lustre linked to S3 for training data (billed by capacity, ~1.2 TiB minimum)

# --- Node pools (Karpenter). general (platform services) and gpu are on by default. -------------------------------
# nodepools = {{
#   gpu     = {{ max_accelerators = 16 }}
#   gpu-efa = {{ enabled = true }}   # multi-node training over EFA; needs cuda_efa_az
#   neuron  = {{ enabled = true }}   # Trainium / Inferentia2; needs neuron_az
# }}

# --- Modules ------------------------------------------------------------------------------------------------------
# enable_ai_ml_observability_stack = true  # Prometheus, Grafana, alerts, logs
# enable_kueue                     = true  # job queueing and quotas per pool
# enable_mlflow                    = true  # tracking server on Aurora PostgreSQL and S3
# enable_argocd                    = true  # GitOps; addons_delivery = "argocd" delivers every add-on through it

tags = {{
  team = "ml-platform"
}}
'''


def run(args: argparse.Namespace) -> dict[str, Any]:
    target: Path = args.blueprint
    if not re.fullmatch(NAME_PATTERN, args.name):
        raise MlplatError(f"--name: expected 3-32 lowercase letters, digits and hyphens, starting with a letter, got "
                          f"{args.name!r}", exit_code=EXIT_BAD_INPUT)
    if target.is_dir():
        raise MlplatError(f"{target} is a directory; pass a file path such as {target / 'blueprint.tfvars'}",
                          exit_code=EXIT_BAD_INPUT)
    if target.exists() and not args.force:
        raise MlplatError(f"{target} already exists; pass --force to overwrite it", exit_code=EXIT_BAD_INPUT)
    if args.source is not None:
        try:
            text = args.source.read_text(encoding="utf-8")
        except OSError as exc:
            raise MlplatError(f"--from: cannot read {args.source} ({exc.strerror})", exit_code=EXIT_BAD_INPUT) from None
        text = re.sub(r'(?m)^(\s*name\s*=\s*)"[^"]*"', rf'\1"{args.name}"', text, count=1)
        if args.region:
            text = re.sub(r'(?m)^(\s*region\s*=\s*)"[^"]*"', rf'\1"{args.region}"', text, count=1)
    else:
        text = STARTER.format(name=args.name, region=args.region or "us-west-2",
                              version=versions.EKS_DEFAULT_VERSION)
    try:
        parse_text(text, str(target))  # what is written must validate for the name and region given
    except BlueprintError as exc:
        raise MlplatError(f"the blueprint for --name {args.name!r}"
                          + (f" and --region {args.region!r}" if args.region else "")
                          + f" would not be valid:\n{exc}", exit_code=EXIT_BAD_INPUT) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return {"blueprint": str(target), "name": args.name}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default="mlplat", help="platform name (EKS cluster name, resource prefix)")
    p.add_argument("--region", help="AWS region (default us-west-2)")
    p.add_argument("--from", dest="source", type=Path, metavar="BLUEPRINT",
                   help="start from this blueprint (e.g. blueprints/gpu-training.tfvars) instead of the starter")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")


COMMAND = Command("init", "write a starter blueprint", run,
                  lambda r: f"wrote {r['blueprint']} (platform {r['name']}); next: edit it, then mlplat validate "
                            f"--blueprint {r['blueprint']}", add_arguments, uses_terraform=False)
