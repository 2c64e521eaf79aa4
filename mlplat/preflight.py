"""Preflight: what would make a deploy fail half-way on this account, asked of AWS before anything is created.

Each check returns findings: `ok`, `warn` (deploy works, but read this) or `block` (deploy would fail, or the
platform would not work: exit 2). The checks read only; nothing is created or changed.

- identity, and the create permission of every resource type the AWS layer holds (IAM policy simulation);
- the region's zones by name and ID, and the platform's zones among them;
- the EKS version: still creatable (DescribeClusterVersions), and whether it costs the extended-support price;
- per enabled node pool: its instance families offered in the zones its subnets are in (DescribeInstanceTypeOfferings);
- EC2 On-Demand and Spot vCPU quotas against the pools' CPU limits (and the system node group's maximum);
- the EC2 Spot service-linked role, when a pool may launch Spot;
- names the AWS layer gives resources (IAM roles and policies, log groups, the EKS cluster, RDS groups) already taken
  by something that is not this platform (generated names, such as secrets and final snapshots, cannot collide);
- the FSx import path readable, and the pinned Aurora PostgreSQL version offered in the region.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from mlplat import versions
from mlplat.aws import Aws
from mlplat.blueprint import Blueprint
from mlplat.nodepools import NodePoolSpec
from mlplat.zones import is_zone_id

OK, WARN, BLOCK = "ok", "warn", "block"

# EC2 vCPU quotas (Service Quotas, service code ec2) by instance class, On-Demand and Spot. Codes and names as
# ListServiceQuotas lists them (recorded 2026-11-30; the emulator serves the same table).
QUOTAS: dict[tuple[str, str], tuple[str, str]] = {
    ("standard", "on-demand"): ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
    ("g", "on-demand"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("p", "on-demand"): ("L-417A185B", "Running On-Demand P instances"),
    ("inf", "on-demand"): ("L-1945791B", "Running On-Demand Inf instances"),
    ("trn", "on-demand"): ("L-2C3B7624", "Running On-Demand Trn instances"),
    ("standard", "spot"): ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
    ("g", "spot"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("p", "spot"): ("L-7212CCBC", "All P Spot Instance Requests"),
    ("inf", "spot"): ("L-B5D1601B", "All Inf Spot Instance Requests"),
    ("trn", "spot"): ("L-6B0D517C", "All Trn Spot Instance Requests"),
}

SPOT_ROLE = "AWSServiceRoleForEC2Spot"

# The create call of each resource type the AWS layer holds: what `terraform apply` needs to be allowed first.
CREATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws_vpc": ("ec2:CreateVpc",), "aws_subnet": ("ec2:CreateSubnet",),
    "aws_nat_gateway": ("ec2:CreateNatGateway",), "aws_eip": ("ec2:AllocateAddress",),
    "aws_internet_gateway": ("ec2:CreateInternetGateway",), "aws_route_table": ("ec2:CreateRouteTable",),
    "aws_security_group": ("ec2:CreateSecurityGroup",), "aws_vpc_endpoint": ("ec2:CreateVpcEndpoint",),
    "aws_launch_template": ("ec2:CreateLaunchTemplate",), "aws_flow_log": ("ec2:CreateFlowLogs",),
    "aws_eks_cluster": ("eks:CreateCluster",), "aws_eks_node_group": ("eks:CreateNodegroup",),
    "aws_eks_addon": ("eks:CreateAddon",), "aws_eks_access_entry": ("eks:CreateAccessEntry",),
    "aws_eks_pod_identity_association": ("eks:CreatePodIdentityAssociation",),
    "aws_iam_role": ("iam:CreateRole", "iam:PassRole"), "aws_iam_policy": ("iam:CreatePolicy",),
    "aws_iam_service_linked_role": ("iam:CreateServiceLinkedRole",),
    "aws_kms_key": ("kms:CreateKey",), "aws_kms_alias": ("kms:CreateAlias",),
    "aws_s3_bucket": ("s3:CreateBucket",), "aws_sqs_queue": ("sqs:CreateQueue",),
    "aws_cloudwatch_event_rule": ("events:PutRule",), "aws_cloudwatch_log_group": ("logs:CreateLogGroup",),
    "aws_efs_file_system": ("elasticfilesystem:CreateFileSystem",),
    "aws_fsx_lustre_file_system": ("fsx:CreateFileSystem",),
    "aws_rds_cluster": ("rds:CreateDBCluster",), "aws_rds_cluster_instance": ("rds:CreateDBInstance",),
    "aws_db_subnet_group": ("rds:CreateDBSubnetGroup",),
    "aws_rds_cluster_parameter_group": ("rds:CreateDBClusterParameterGroup",),
    "aws_secretsmanager_secret": ("secretsmanager:CreateSecret",),
    "aws_instance": ("ec2:RunInstances",), "aws_ssm_parameter": ("ssm:PutParameter",),
}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok | warn | block
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == BLOCK)

    def as_dict(self) -> dict[str, Any]:
        counts = {s: sum(f.status == s for f in self.findings) for s in (OK, WARN, BLOCK)}
        return {"findings": [asdict(f) for f in self.findings], "counts": counts}


def instance_class(family: str) -> str:
    """The vCPU quota class of an instance family: G and VT, P, Inf, Trn share theirs; the rest are Standard."""
    for prefix, cls in (("trn", "trn"), ("inf", "inf"), ("vt", "g"), ("g", "g"), ("p", "p")):
        if family.startswith(prefix):
            return cls
    return "standard"


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return str(exc)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Preflight:
    def __init__(self, bp: Blueprint, aws: Aws, aws_stack: dict[str, Any] | None = None,
                 say: Callable[[str], None] = lambda _: None) -> None:
        self.bp, self.aws, self.stack, self.say = bp, aws, aws_stack or {}, say
        self.findings: list[Finding] = []
        self.partition = "aws"
        self.account = ""
        self.zone_ids: dict[str, str] = {}  # zone name -> zone ID, the zones this account can use here
        self.platform_zones: list[str] = []
        self.deployed = False

    def add(self, check: str, status: str, detail: str, fix: str = "") -> None:
        self.findings.append(Finding(check, status, detail, fix))

    def run(self) -> Report:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("identity", self.identity), ("zones", self.zones), ("names", self.names),
            ("permissions", self.permissions), ("eks version", self.eks_version),
            ("instance offerings", self.offerings), ("vcpu quotas", self.quotas), ("spot role", self.spot_role),
            ("fsx import path", self.fsx_import_path), ("aurora version", self.aurora_version),
        ]
        for check, step in steps:
            self.say(f"preflight: {check}")
            try:
                step()
            except (ClientError, BotoCoreError) as exc:
                self.add(check, BLOCK, f"AWS refused the check: {_error(exc)}",
                         "give the deploying identity read access for this check (see README, Permissions)")
            if check == "identity" and self.findings[-1].status == BLOCK:
                break  # nothing else can be asked without credentials
        return Report(tuple(self.findings))

    # --- the checks ------------------------------------------------------------------------------------------

    def identity(self) -> None:
        try:
            me = self.aws.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            self.add("identity", BLOCK, f"no usable AWS credentials ({_error(exc)})",
                     "configure credentials (aws configure, AWS_PROFILE, SSO) or use --local")
            return
        self.account = me["Account"]
        self.partition = me["Arn"].split(":")[1]
        self.caller_arn = me["Arn"]
        self.add("identity", OK, f"{me['Arn']} in account {me['Account']}, region {self.bp.region}")

    def zones(self) -> None:
        ec2 = self.aws.client("ec2")
        zones = ec2.describe_availability_zones(Filters=[
            {"Name": "state", "Values": ["available"]},
            {"Name": "opt-in-status", "Values": ["opt-in-not-required"]}])["AvailabilityZones"]
        self.zone_ids = {z["ZoneName"]: z["ZoneId"] for z in sorted(zones, key=lambda z: z["ZoneName"])}
        by_id = {zone_id: name for name, zone_id in self.zone_ids.items()}
        listed = ", ".join(f"{n} ({i})" for n, i in self.zone_ids.items())
        if self.bp.azs:
            unknown = [z for z in self.bp.azs if z not in self.zone_ids and z not in by_id]
            if unknown:
                self.add("zones", BLOCK, f"azs: {', '.join(unknown)} not among this account's zones in "
                                         f"{self.bp.region}: {listed}", "fix azs (zone names or IDs)")
                return
            self.platform_zones = [by_id.get(z, z) for z in self.bp.azs]
        else:
            if len(self.zone_ids) < self.bp.availability_zones_count:
                self.add("zones", BLOCK, f"{self.bp.region} offers this account {len(self.zone_ids)} zones "
                                         f"({listed}), fewer than availability_zones_count = "
                                         f"{self.bp.availability_zones_count}", "lower availability_zones_count")
                return
            self.platform_zones = list(self.zone_ids)[: self.bp.availability_zones_count]
        self.add("zones", OK, "platform zones: " + ", ".join(f"{z} ({self.zone_ids[z]})"
                                                             for z in self.platform_zones))

    def _zone_name(self, zone: str) -> str:
        if is_zone_id(zone):
            return {i: n for n, i in self.zone_ids.items()}.get(zone, zone)
        return zone

    def pool_zones(self, pool: NodePoolSpec) -> list[str]:
        pinned = getattr(self.bp, pool.kind.az_key) if pool.kind.az_key else None
        return [self._zone_name(pinned)] if pinned else list(self.platform_zones)

    def offerings(self) -> None:
        if not self.platform_zones:
            return
        ec2 = self.aws.client("ec2")
        for pool in self.bp.enabled_pools:
            zones = self.pool_zones(pool)
            offered: dict[str, set[str]] = defaultdict(set)  # zone -> families offered there
            pages = ec2.get_paginator("describe_instance_type_offerings").paginate(
                LocationType="availability-zone",
                Filters=[{"Name": "instance-type", "Values": [f"{f}.*" for f in pool.instance_families]},
                         {"Name": "location", "Values": zones}])
            for page in pages:
                for o in page["InstanceTypeOfferings"]:
                    offered[o["Location"]].add(o["InstanceType"].split(".")[0])
            families = ", ".join(pool.instance_families)
            empty = [z for z in zones if not offered.get(z)]
            where = lambda zs: ", ".join(f"{z} ({self.zone_ids.get(z, '?')})" for z in zs)  # noqa: E731
            if pool.kind.az_key and getattr(self.bp, pool.kind.az_key) and empty:
                self.add("offerings", BLOCK,
                         f"pool {pool.name}: none of its instance families ({families}) is offered in its zone "
                         f"{where(empty)}",
                         f"pin it to a zone that offers them ({pool.kind.az_key}) or change "
                         f"nodepools.{pool.name}.instance_families")
            elif len(empty) == len(zones):
                self.add("offerings", BLOCK,
                         f"pool {pool.name}: none of its instance families ({families}) is offered in the "
                         f"platform's zones {where(zones)}",
                         f"change nodepools.{pool.name}.instance_families, or azs")
            elif empty:
                self.add("offerings", WARN,
                         f"pool {pool.name}: no {families} instance in {where(empty)}; its nodes go to the other zones")
            else:
                missing = [f for f in pool.instance_families if not any(f in fams for fams in offered.values())]
                note = f" ({', '.join(missing)} offered in none of them)" if missing else ""
                self.add("offerings", OK, f"pool {pool.name}: offered in {where(zones)}{note}")

    def _system_vcpus(self) -> int:
        types = self.aws.client("ec2").describe_instance_types(
            InstanceTypes=list(self.bp.system_node_instance_types))["InstanceTypes"]
        largest = max((t["VCpuInfo"]["DefaultVCpus"] for t in types), default=0)
        return largest * self.bp.system_node_max_size

    def quotas(self) -> None:
        need: dict[tuple[str, str], int] = defaultdict(int)
        users: dict[tuple[str, str], list[str]] = defaultdict(list)
        for pool in self.bp.enabled_pools:
            for cls in sorted({instance_class(f) for f in pool.instance_families}):
                for capacity in ("on-demand", "spot"):
                    if capacity in pool.capacity_types:
                        need[(cls, capacity)] += pool.max_cpu
                        users[(cls, capacity)].append(f"nodepools.{pool.name}.max_cpu = {pool.max_cpu}")
        system = self._system_vcpus()
        need[("standard", "on-demand")] += system
        users[("standard", "on-demand")].append(f"system nodes: {self.bp.system_node_max_size} x "
                                                f"{system // max(self.bp.system_node_max_size, 1)} vCPUs")
        quotas = self.aws.client("service-quotas")
        for key in sorted(need, key=lambda k: (k[1], k[0])):
            code, name = QUOTAS[key]
            try:
                value = quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
            except ClientError as exc:
                self.add(f"quota {code}", WARN, f"could not read {name} ({_error(exc)})")
                continue
            cls, capacity = key
            detail = f"{name}: {value:g} vCPUs for {need[key]} ({'; '.join(users[key])})"
            if value >= need[key]:
                self.add(f"quota {code}", OK, detail)
                continue
            # Karpenter falls back to On-Demand where a pool allows it, so a short Spot quota only limits Spot.
            spot_only_users = [p for p in self.bp.enabled_pools if p.capacity_types == ("spot",)
                               and cls in {instance_class(f) for f in p.instance_families}]
            status = BLOCK if capacity == "on-demand" or spot_only_users else WARN
            self.add(f"quota {code}", status, f"{detail}: below the pools' limit",
                     f"lower the max_cpu of those pools to fit {value:g} vCPUs, or ask for more: aws service-quotas "
                     f"request-service-quota-increase --service-code ec2 --quota-code {code} --desired-value "
                     f"{need[key]} --region {self.bp.region}")

    def spot_role(self) -> None:
        spot_pools = [p.name for p in self.bp.enabled_pools if "spot" in p.capacity_types]
        if not spot_pools:
            return
        try:
            self.aws.client("iam").get_role(RoleName=SPOT_ROLE)
            exists = True
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            exists = False
        creates = self.bp.create_spot_service_linked_role
        if exists and creates:
            self.add("spot role", BLOCK, f"{SPOT_ROLE} exists, and create_spot_service_linked_role = true would "
                                         f"create it again (IAM refuses)", "set create_spot_service_linked_role = false")
        elif not exists and not creates:
            # A pool that may also launch On-Demand still gets nodes; a Spot-only pool gets none.
            spot_only = [p.name for p in self.bp.enabled_pools if p.capacity_types == ("spot",)]
            self.add("spot role", BLOCK if spot_only else WARN,
                     f"{SPOT_ROLE} does not exist: Spot launches of {', '.join(spot_pools)} fail until it does "
                     f"(Karpenter may not create roles)" + (f"; {', '.join(spot_only)} may launch nothing else"
                                                            if spot_only else ""),
                     "set create_spot_service_linked_role = true (once per account), or remove 'spot' from those "
                     "pools' capacity_types")
        else:
            self.add("spot role", OK, f"{SPOT_ROLE} " + ("exists" if exists else "is created by this deploy"))

    def eks_version(self) -> None:
        minor = self.bp.eks_cluster_version
        found = self.aws.client("eks").describe_cluster_versions(clusterVersions=[minor], includeAll=True)
        info = next((v for v in found.get("clusterVersions", []) if v["clusterVersion"] == minor), None)
        status = (info or {}).get("versionStatus", "UNSUPPORTED")
        if status == "STANDARD_SUPPORT":
            self.add("eks version", OK, f"EKS {minor}: standard support")
        elif status == "EXTENDED_SUPPORT":
            self.add("eks version", WARN, f"EKS {minor}: extended support, ${versions.EKS_EXTENDED_PRICE_PER_HOUR:.2f} "
                                          f"per cluster-hour instead of ${versions.EKS_STANDARD_PRICE_PER_HOUR:.2f}",
                     "move eks_cluster_version to a version in standard support")
        elif self.deployed:
            self.add("eks version", WARN, f"EKS {minor} is no longer offered in {self.bp.region}; the deployed cluster "
                                          f"runs on, but a new one could not be created",
                     "upgrade eks_cluster_version one minor at a time")
        else:
            self.add("eks version", BLOCK, f"EKS {minor} is not offered for new clusters in {self.bp.region}",
                     f"set eks_cluster_version = \"{versions.EKS_DEFAULT_VERSION}\"")

    def permissions(self) -> None:
        actions = sorted({a for rtype in self.stack.get("resource", {}) for a in CREATE_ACTIONS.get(rtype, ())})
        if not actions:
            return
        if self.aws.local_env:
            self.add("permissions", OK, f"{len(actions)} create actions: the embedded AWS does not evaluate IAM "
                                        f"policies, every call of its caller is allowed")
            return
        principal = _policy_source(getattr(self, "caller_arn", ""))
        try:
            results = []
            pages = self.aws.client("iam").get_paginator("simulate_principal_policy").paginate(
                PolicySourceArn=principal, ActionNames=actions)
            for page in pages:
                results += page["EvaluationResults"]
        except ClientError as exc:
            self.add("permissions", WARN, f"could not simulate the policies of {principal} ({_error(exc)}); "
                                          f"{len(actions)} create actions unchecked",
                     "allow iam:SimulatePrincipalPolicy on yourself to have them checked")
            return
        denied = sorted(r["EvalActionName"] for r in results if r["EvalDecision"] != "allowed")
        if denied:
            self.add("permissions", BLOCK, f"{principal} may not: {', '.join(denied)}",
                     "grant these actions to the deploying role (or deploy with one that has them)")
        else:
            self.add("permissions", OK, f"{principal} may call all {len(actions)} create actions the AWS layer needs")

    def names(self) -> None:
        resources = self.stack.get("resource", {})
        fixed: list[tuple[str, str]] = []
        for rtype in ("aws_iam_role", "aws_iam_policy", "aws_cloudwatch_log_group", "aws_eks_cluster",
                      "aws_db_subnet_group", "aws_rds_cluster_parameter_group"):
            for body in resources.get(rtype, {}).values():
                name = body.get("name")
                if isinstance(name, str) and "${" not in name:
                    fixed.append((rtype, name))
        if not fixed:
            return
        ours, foreign = [], []
        for rtype, name in fixed:
            tags = self._tags_of(rtype, name)
            if tags is None:
                continue
            (ours if tags.get("Platform") == self.bp.name and tags.get("ManagedBy") == "mlplat" else foreign).append(
                f"{rtype.removeprefix('aws_')} {name}")
        self.deployed = bool(ours)
        if foreign:
            self.add("names", BLOCK, f"{len(foreign)} name(s) the AWS layer gives are taken by resources that are not "
                                     f"platform {self.bp.name!r}'s: {', '.join(foreign)}",
                     "choose another name for the platform (name), or delete those resources if they are left over")
        else:
            state = f"{len(ours)} already belong to this platform (deployed)" if ours else "none taken"
            self.add("names", OK, f"{len(fixed)} fixed names checked: {state}")

    def _tags_of(self, rtype: str, name: str) -> dict[str, str] | None:
        """The tags of the existing resource of that type and name, or None if there is none."""
        def tag_map(items: Iterable[dict[str, str]]) -> dict[str, str]:
            return {t["Key"]: t["Value"] for t in items}

        try:
            if rtype == "aws_iam_role":
                return tag_map(self.aws.client("iam").get_role(RoleName=name)["Role"].get("Tags", []))
            if rtype == "aws_iam_policy":
                arn = f"arn:{self.partition}:iam::{self.account}:policy/{name}"
                return tag_map(self.aws.client("iam").get_policy(PolicyArn=arn)["Policy"].get("Tags", []))
            if rtype == "aws_cloudwatch_log_group":
                logs = self.aws.client("logs")
                groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                if not any(g["logGroupName"] == name for g in groups):
                    return None
                return logs.list_tags_log_group(logGroupName=name).get("tags", {})
            if rtype == "aws_eks_cluster":
                return self.aws.client("eks").describe_cluster(name=name)["cluster"].get("tags", {})
            rds = self.aws.client("rds")
            if rtype == "aws_db_subnet_group":
                arn = rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0]["DBSubnetGroupArn"]
            else:
                arn = rds.describe_db_cluster_parameter_groups(
                    DBClusterParameterGroupName=name)["DBClusterParameterGroups"][0]["DBClusterParameterGroupArn"]
            return tag_map(rds.list_tags_for_resource(ResourceName=arn)["TagList"])
        except ClientError as exc:
            if _code(exc) in ("NoSuchEntity", "ResourceNotFoundException", "DBSubnetGroupNotFoundFault",
                              "DBParameterGroupNotFound", "DBClusterParameterGroupNotFound"):
                return None
            raise

    def fsx_import_path(self) -> None:
        if not (self.bp.enable_fsx and self.bp.fsx_s3_import_path):
            return
        bucket, _, prefix = self.bp.fsx_s3_import_path.removeprefix("s3://").partition("/")
        try:
            self.aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except ClientError as exc:
            self.add("fsx import path", BLOCK, f"{self.bp.fsx_s3_import_path} is not readable ({_error(exc)})",
                     "fix fsx_s3_import_path, or give the deploying identity s3:ListBucket on it")
            return
        self.add("fsx import path", OK, f"{self.bp.fsx_s3_import_path} is readable")

    def aurora_version(self) -> None:
        databases = [(self.bp.enable_mlflow, "aurora-postgresql", "Aurora PostgreSQL",
                      versions.AURORA_POSTGRESQL_VERSION, "MLflow's database", "enable_mlflow"),
                     (self.bp.enable_airflow, "aurora-postgresql", "Aurora PostgreSQL",
                      versions.AURORA_POSTGRESQL_VERSION, "Airflow's metadata database", "enable_airflow"),
                     (self.bp.enable_slurm, "aurora-mysql", "Aurora MySQL", versions.AURORA_MYSQL_VERSION,
                      "Slurm's accounting database", "enable_slurm")]
        for enabled, engine, label, version, purpose, toggle in databases:
            if not enabled:
                continue
            found = self.aws.client("rds").describe_db_engine_versions(
                Engine=engine, EngineVersion=version)["DBEngineVersions"]
            if any(v["EngineVersion"] == version and v.get("Status", "available") == "available" for v in found):
                self.add("aurora version", OK, f"{label} {version} is offered in {self.bp.region}")
            elif self.deployed:
                self.add("aurora version", WARN, f"{label} {version} is no longer offered in {self.bp.region}; the "
                                                 f"deployed database runs on (AWS upgrades its minor version)")
            else:
                self.add("aurora version", BLOCK, f"{label} {version} ({purpose}, pinned in mlplat/versions.py) is "
                                                  f"not offered in {self.bp.region}",
                         f"upgrade mlplat to a release that pins an offered version, or set {toggle} = false")


def _policy_source(arn: str) -> str:
    """The ARN IAM simulates for a caller: an assumed-role session is simulated as its role."""
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return arn


def load_stack(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def render(report: Report) -> str:
    marks = {OK: "ok   ", WARN: "warn ", BLOCK: "BLOCK"}
    lines = []
    for f in report.findings:
        lines.append(f"{marks[f.status]} {f.check}: {f.detail}")
        if f.fix and f.status != OK:
            lines.append(f"      fix: {f.fix}")
    counts = report.as_dict()["counts"]
    lines.append(f"preflight: {counts[OK]} ok, {counts[WARN]} warnings, {counts[BLOCK]} blocking")
    return "\n".join(lines)
