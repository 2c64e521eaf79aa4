"""Adopting what an interrupted apply created in AWS but never saved in terraform's state.

When terraform is interrupted, it stops its provider, which cancels the calls in flight. A create whose request AWS
had already carried out then returns without an id, so the resource exists in AWS and not in the state. For the
resources AWS keys by name or by their content (a route's destination, a security group rule's ports, an IAM role's
name, ...), the next apply fails: `RouteAlreadyExists`, `InvalidPermission.Duplicate`, `EntityAlreadyExists`. For
the others it silently makes a second one (the network's pieces among those are removed by `mlplat destroy`,
mlplat/sweep.py `orphans_of`).

So mlplat records the creates in flight at an interrupt that the state does not hold (`record_interrupted`), and the
next plan of that stack looks each one up in AWS by what the configuration says about it (`find`). What it finds is
adopted with a terraform `import` block (in `mlplat-adopt.tf.json` next to the stack): the plan shows it as an
import, to be reviewed like any other change, and the apply takes it into the state instead of failing on it. The
record is removed once an apply of the stack succeeds.

Import ids are those the AWS provider (hashicorp/aws 5.100.0) documents under each resource's "Import" section.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

ADOPT_FILE = "mlplat-adopt.tf.json"
RECORD_PREFIX = "interrupted-"


def record_path(work_dir: Path, stack: str) -> Path:
    return work_dir / f"{RECORD_PREFIX}{stack}.json"


def record_interrupted(work_dir: Path, stack: str, addresses: Iterable[str]) -> None:
    """Add the addresses of creates an interrupt cut short, untracked by the state, to the stack's record."""
    path = record_path(work_dir, stack)
    known = set(read_record(work_dir, stack))
    wanted = sorted(known | set(addresses))
    if wanted:
        work_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"interrupted_creates": wanted}, indent=2) + "\n")


def read_record(work_dir: Path, stack: str) -> list[str]:
    try:
        return list(json.loads(record_path(work_dir, stack).read_text()).get("interrupted_creates", []))
    except (OSError, ValueError, AttributeError):
        return []


def clear(work_dir: Path, stack_dir: Path) -> None:
    """After a successful apply: the record is settled, the import blocks done."""
    record_path(work_dir, stack_dir.name).unlink(missing_ok=True)
    (stack_dir / ADOPT_FILE).unlink(missing_ok=True)


@dataclass(frozen=True)
class Adoption:
    address: str
    import_id: str


def write_imports(stack_dir: Path, adoptions: Iterable[Adoption]) -> None:
    blocks = [{"to": a.address, "id": a.import_id} for a in adoptions]
    path = stack_dir / ADOPT_FILE
    if blocks:
        path.write_text(json.dumps({"import": blocks}, indent=2) + "\n")
    else:
        path.unlink(missing_ok=True)


def planned_creates(shown: Mapping[str, Any], addresses: Iterable[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """address -> (type, planned values) of the creates among `addresses` in a `terraform show -json` plan."""
    wanted = set(addresses)
    out = {}
    for rc in shown.get("resource_changes", []):
        change = rc.get("change", {})
        if rc.get("address") in wanted and change.get("actions") == ["create"] and rc.get("mode") == "managed":
            out[rc["address"]] = (rc["type"], change.get("after") or {})
    return out


# --- finders: planned values -> the import id of the resource AWS already has, or None -------------------------

Finder = Callable[[Any, Mapping[str, Any]], "str | None"]
_NOT_FOUND = frozenset({
    "NoSuchEntity", "ResourceNotFoundException", "NoSuchBucket", "NotFound", "404", "InvalidGroup.NotFound",
    "InvalidRouteTableID.NotFound", "DBClusterNotFoundFault", "DBInstanceNotFound", "DBSubnetGroupNotFoundFault",
    "DBParameterGroupNotFound", "InvalidLaunchTemplateName.NotFoundException", "NotFoundException",
})


def _route(aws: Any, v: Mapping[str, Any]) -> str | None:
    table, destination = v.get("route_table_id"), v.get("destination_cidr_block")
    if not table or not destination:
        return None
    tables = aws.client("ec2").describe_route_tables(RouteTableIds=[table])["RouteTables"]
    routes = [r for t in tables for r in t.get("Routes", []) if r.get("DestinationCidrBlock") == destination]
    return f"{table}_{destination}" if routes else None


def _rule(egress: bool) -> Finder:
    def find(aws: Any, v: Mapping[str, Any]) -> str | None:
        group = v.get("security_group_id")
        if not group:
            return None
        rules = aws.client("ec2").describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
        protocol = str(v.get("ip_protocol", ""))
        for rule in rules:
            if bool(rule.get("IsEgress")) != egress or str(rule.get("IpProtocol")) != protocol:
                continue
            ports = (rule.get("FromPort"), rule.get("ToPort"))
            if protocol != "-1" and ports != (v.get("from_port"), v.get("to_port")):
                continue
            source = (rule.get("CidrIpv4"), rule.get("CidrIpv6"), rule.get("PrefixListId"),
                      rule.get("ReferencedGroupInfo", {}).get("GroupId"))
            wanted = (v.get("cidr_ipv4"), v.get("cidr_ipv6"), v.get("prefix_list_id"),
                      v.get("referenced_security_group_id"))
            if source == wanted:
                return str(rule["SecurityGroupRuleId"])
        return None
    return find


def _route_table_association(aws: Any, v: Mapping[str, Any]) -> str | None:
    table, subnet = v.get("route_table_id"), v.get("subnet_id")
    if not table or not subnet:
        return None
    tables = aws.client("ec2").describe_route_tables(RouteTableIds=[table])["RouteTables"]
    associated = any(a.get("SubnetId") == subnet for t in tables for a in t.get("Associations", []))
    return f"{subnet}/{table}" if associated else None


def _security_group(aws: Any, v: Mapping[str, Any]) -> str | None:
    if not v.get("name") or not v.get("vpc_id"):
        return None
    groups = aws.client("ec2").describe_security_groups(Filters=[
        {"Name": "group-name", "Values": [v["name"]]}, {"Name": "vpc-id", "Values": [v["vpc_id"]]}])["SecurityGroups"]
    return groups[0]["GroupId"] if groups else None


def _launch_template(aws: Any, v: Mapping[str, Any]) -> str | None:
    if not v.get("name"):
        return None
    found = aws.client("ec2").describe_launch_templates(LaunchTemplateNames=[v["name"]])["LaunchTemplates"]
    return found[0]["LaunchTemplateId"] if found else None


def _by_name(key: str, check: Callable[[Any, str], Any], import_id: Callable[[Any, str], str] | None = None) -> Finder:
    """Resources whose name (`key` in the configuration) is their identity: `check` raises NotFound when absent."""
    def find(aws: Any, v: Mapping[str, Any]) -> str | None:
        name = v.get(key)
        if not name:
            return None
        answer = check(aws, name)
        return import_id(answer, name) if import_id else name
    return find


def _log_group(aws: Any, v: Mapping[str, Any]) -> str | None:
    name = v.get("name")
    if not name:
        return None
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return name if any(g["logGroupName"] == name for g in groups) else None


def _kms_alias(aws: Any, v: Mapping[str, Any]) -> str | None:
    name = v.get("name")
    if not name:
        return None
    pages = aws.client("kms").get_paginator("list_aliases").paginate()
    return name if any(a["AliasName"] == name for page in pages for a in page["Aliases"]) else None


def _pod_identity_association(aws: Any, v: Mapping[str, Any]) -> str | None:
    cluster = v.get("cluster_name")
    if not cluster or not v.get("namespace") or not v.get("service_account"):
        return None
    found = aws.client("eks").list_pod_identity_associations(
        clusterName=cluster, namespace=v["namespace"], serviceAccount=v["service_account"])["associations"]
    return f"{cluster},{found[0]['associationId']}" if found else None


def _eks_part(key: str, describe: str, parameter: str) -> Finder:
    """A part of a cluster named in the configuration (`key`): found by `describe`, imported as "<cluster>:<name>";
    `describe` raises NotFound when it is absent."""
    def find(aws: Any, v: Mapping[str, Any]) -> str | None:
        cluster, name = v.get("cluster_name"), v.get(key)
        if not cluster or not name:
            return None
        getattr(aws.client("eks"), describe)(clusterName=cluster, **{parameter: name})
        return f"{cluster}:{name}"
    return find


def _mount_target(aws: Any, v: Mapping[str, Any]) -> str | None:
    system, subnet = v.get("file_system_id"), v.get("subnet_id")
    if not system or not subnet:
        return None
    targets = aws.client("efs").describe_mount_targets(FileSystemId=system)["MountTargets"]
    return next((t["MountTargetId"] for t in targets if t.get("SubnetId") == subnet), None)


def _service_linked_role(aws: Any, v: Mapping[str, Any]) -> str | None:
    service = v.get("aws_service_name")
    if not service:
        return None
    pages = aws.client("iam").get_paginator("list_roles").paginate(PathPrefix=f"/aws-service-role/{service}/")
    roles = [r for page in pages for r in page["Roles"]]
    return roles[0]["Arn"] if roles else None


def _data_repository_association(aws: Any, v: Mapping[str, Any]) -> str | None:
    system, path = v.get("file_system_id"), v.get("file_system_path")
    if not system or not path:
        return None
    found = aws.client("fsx").describe_data_repository_associations(
        Filters=[{"Name": "file-system-id", "Values": [system]}])["Associations"]
    return next((a["AssociationId"] for a in found if a.get("FileSystemPath") == path
                 and a.get("Lifecycle") not in ("DELETING", "FAILED")), None)


# The types the platform creates whose duplicate AWS refuses; a duplicate of the others is made silently.
FINDERS: dict[str, Finder] = {
    "aws_route": _route,
    "aws_vpc_security_group_ingress_rule": _rule(egress=False),
    "aws_vpc_security_group_egress_rule": _rule(egress=True),
    "aws_route_table_association": _route_table_association,
    "aws_security_group": _security_group,
    "aws_launch_template": _launch_template,
    "aws_iam_role": _by_name("name", lambda aws, n: aws.client("iam").get_role(RoleName=n)),
    "aws_iam_instance_profile": _by_name(
        "name", lambda aws, n: aws.client("iam").get_instance_profile(InstanceProfileName=n)),
    "aws_iam_policy": _by_name(
        "name", lambda aws, n: [p for page in aws.client("iam").get_paginator("list_policies").paginate(Scope="Local")
                                for p in page["Policies"] if p["PolicyName"] == n],
        lambda found, _: found[0]["Arn"] if found else ""),
    "aws_cloudwatch_log_group": _log_group,
    "aws_kms_alias": _kms_alias,
    "aws_s3_bucket": _by_name("bucket", lambda aws, n: aws.client("s3").head_bucket(Bucket=n)),
    "aws_secretsmanager_secret": _by_name(
        "name", lambda aws, n: aws.client("secretsmanager").describe_secret(SecretId=n),
        lambda answer, _: answer["ARN"]),
    "aws_eks_cluster": _by_name("name", lambda aws, n: aws.client("eks").describe_cluster(name=n)),
    "aws_eks_node_group": _eks_part("node_group_name", "describe_nodegroup", "nodegroupName"),
    "aws_eks_addon": _eks_part("addon_name", "describe_addon", "addonName"),
    "aws_eks_access_entry": _eks_part("principal_arn", "describe_access_entry", "principalArn"),
    "aws_eks_pod_identity_association": _pod_identity_association,
    "aws_efs_mount_target": _mount_target,
    "aws_iam_service_linked_role": _service_linked_role,
    "aws_fsx_data_repository_association": _data_repository_association,
    "aws_db_subnet_group": _by_name(
        "name", lambda aws, n: aws.client("rds").describe_db_subnet_groups(DBSubnetGroupName=n)),
    "aws_rds_cluster_parameter_group": _by_name(
        "name", lambda aws, n: aws.client("rds").describe_db_cluster_parameter_groups(DBClusterParameterGroupName=n)),
    "aws_rds_cluster": _by_name(
        "cluster_identifier", lambda aws, n: aws.client("rds").describe_db_clusters(DBClusterIdentifier=n)),
    "aws_rds_cluster_instance": _by_name(
        "identifier", lambda aws, n: aws.client("rds").describe_db_instances(DBInstanceIdentifier=n)),
}


# Types whose create call sets what is there (a bucket's settings, a role's inline policy, an attachment, a rule's
# targets): made again, it is the same resource, so there is nothing to adopt and nothing left over.
SET_IN_PLACE = frozenset({
    "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_versioning", "aws_s3_bucket_policy",
    "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls", "aws_iam_role_policy", "aws_iam_role_policy_attachment",
    "aws_cloudwatch_event_rule", "aws_cloudwatch_event_target", "aws_eks_access_policy_association",
    "aws_default_security_group", "aws_secretsmanager_secret_version", "aws_sqs_queue",
})
# Types AWS makes a second one of rather than refuse: nothing to find by, nothing that fails. What the interrupt left
# stays outside the state; the network's pieces are removed by `mlplat destroy` (mlplat/sweep.py orphans_of).
MADE_AGAIN = frozenset({
    "aws_vpc", "aws_subnet", "aws_route_table", "aws_internet_gateway", "aws_nat_gateway", "aws_eip",
    "aws_vpc_endpoint", "aws_instance", "aws_kms_key", "aws_flow_log", "aws_efs_file_system",
    "aws_fsx_lustre_file_system",
})


@dataclass(frozen=True)
class Lookup:
    adoptions: tuple[Adoption, ...]
    notes: tuple[str, ...]  # one line per recorded create: adopted, not found, or why it could not be checked


def look_up(aws: Any, creates: Mapping[str, tuple[str, dict[str, Any]]]) -> Lookup:
    adoptions, notes = [], []
    for address, (rtype, values) in sorted(creates.items()):
        finder = FINDERS.get(rtype)
        if rtype in SET_IN_PLACE:
            notes.append(f"{address}: created again, it sets what the interrupted create may have set; nothing to "
                         "adopt")
            continue
        if rtype in MADE_AGAIN:
            notes.append(f"{address}: AWS makes another of this type rather than refuse it, so nothing is adopted; "
                         "one the interrupt left, if any, stays outside the state (mlplat destroy removes the "
                         "network's pieces by the platform's tags)")
            continue
        if finder is None:
            notes.append(f"{address}: mlplat cannot look this type up; if the create fails because it already "
                         "exists, import it by hand (terraform import)")
            continue
        try:
            found = finder(aws, values)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND or code.endswith(".NotFound"):
                found = None
            else:
                notes.append(f"{address}: could not check whether the interrupt left it in AWS ({code}); the create "
                             "fails if it did, then import it by hand (terraform import)")
                continue
        except BotoCoreError as exc:
            notes.append(f"{address}: could not check whether the interrupt left it in AWS ({exc}); the create fails "
                         "if it did, then import it by hand (terraform import)")
            continue
        if found:
            adoptions.append(Adoption(address, found))
            notes.append(f"{address}: the interrupted create did reach AWS; adopted as {found} (import)")
        else:
            notes.append(f"{address}: not in AWS; created")
    return Lookup(tuple(adoptions), tuple(notes))
