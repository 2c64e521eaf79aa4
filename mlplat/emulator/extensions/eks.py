"""EKS beyond moto 5.2: add-ons, access entries, pod identity associations, updates, and clusters and node groups
that read back what they were created with (so a terraform re-plan is clean).

Installed by routing every EKS URL to `ExtendedEKSResponse`, a subclass of moto's EKS handler: moto picks the
operation from botocore's model (method + URI) and calls the method of that name, so a new operation is a new method,
and its result is serialized by moto against botocore's output shape. New state lives on moto's own `Cluster`
objects (attribute `mlplat_extension`), so it is saved and restored with them and goes away with its cluster.

Deletes take effect at once and DeleteCluster answers as EKS does (the cluster, DELETING); the AWS provider's
polling then sees "not found" on its first read. (Its wait before DeleteCluster, a random 0-60 s in provider 5.100,
happens before any request and no answer can shorten it.)
"""

from __future__ import annotations

import contextlib
import json
import re
import string
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import moto.eks.urls as eks_urls
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.eks.exceptions import (
    EKSError,
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from moto.eks.models import Cluster, Nodegroup
from moto.eks.responses import DEFAULT_MAX_RESULTS, EKSResponse
from moto.moto_api._internal import mock_random as random
from moto.sts.models import sts_backends

from mlplat.emulator.extensions.eks_catalog import (
    ACCESS_POLICY_NAMES,
    ADDONS,
    DEFAULT_KUBERNETES_VERSION,
    KUBERNETES_VERSIONS,
)
from mlplat.settings import today as settings_today
from mlplat.versions import EKS_CALENDAR, eks_support

def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
ACCESS_ENTRY_TYPES = ("STANDARD", "FARGATE_LINUX", "EC2_LINUX", "EC2_WINDOWS", "EC2", "HYBRID_LINUX", "HYPERPOD_LINUX")
# Node-type entries get the node identity; only STANDARD entries take groups and a username from the caller.
NODE_ACCESS_ENTRY_USERNAMES = {
    "FARGATE_LINUX": "system:node:{{SessionName}}",
    "EC2_LINUX": "system:node:{{EC2PrivateDNSName}}",
    "EC2_WINDOWS": "system:node:{{EC2PrivateDNSName}}",
    "EC2": "system:node:{{EC2PrivateDNSName}}",
    "HYBRID_LINUX": "system:node:{{SessionName}}",
    "HYPERPOD_LINUX": "system:node:{{EC2PrivateDNSName}}",
}
# The AMI release the emulator's node groups report (an AL2023 release published for EKS 1.29-1.34).
NODE_AMI_RELEASE = "20251120"
IAM_PRINCIPAL_ARN = re.compile(
    r"^arn:(?P<partition>aws[\w-]*):iam::(?P<account>\d{12}):(?P<kind>role|user)/(?:.*/)?(?P<name>[^/]+)$"
)


class NotFoundException(EKSError):
    """What EKS answers for tag operations on an ARN it does not know (moto has no such class)."""

    TYPE = "NotFoundException"
    STATUS = 404


def _not_found(message: str, **context: Any) -> ResourceNotFoundException:
    return ResourceNotFoundException(message=message, **context)


def _random_id(length: int) -> str:
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(length))


@dataclass
class Update:
    """An EKS update. Changes apply at once, so every update is already `Successful`."""

    id: str
    type: str
    params: list[dict[str, str]]
    created_at: datetime
    status: str = "Successful"
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Not in the API shape: what DescribeUpdate and ListUpdates match on.
    nodegroup_name: str | None = None
    addon_name: str | None = None


@dataclass
class Addon:
    addon_name: str
    cluster_name: str
    addon_version: str
    addon_arn: str
    created_at: datetime
    modified_at: datetime
    tags: dict[str, str]
    service_account_role_arn: str | None = None
    configuration_values: str | None = None
    pod_identity_associations: list[str] = field(default_factory=list)  # association ARNs, as the API returns them
    namespace_config: dict[str, str] | None = None
    status: str = "ACTIVE"
    health: dict[str, Any] = field(default_factory=lambda: {"issues": []})
    publisher: str = "eks"
    owner: str = "aws"


@dataclass
class AssociatedAccessPolicy:
    policy_arn: str
    access_scope: dict[str, Any]
    associated_at: datetime
    modified_at: datetime


@dataclass
class AccessEntry:
    cluster_name: str
    principal_arn: str
    type: str
    username: str
    kubernetes_groups: list[str]
    access_entry_arn: str
    created_at: datetime
    modified_at: datetime
    tags: dict[str, str]
    access_policies: dict[str, AssociatedAccessPolicy] = field(default_factory=dict)  # by policy ARN


@dataclass
class PodIdentityAssociation:
    cluster_name: str
    namespace: str
    service_account: str
    role_arn: str
    association_arn: str
    association_id: str
    created_at: datetime
    modified_at: datetime
    tags: dict[str, str]
    disable_session_tags: bool = False
    target_role_arn: str | None = None
    external_id: str | None = None
    policy: str | None = None
    owner_arn: str | None = None  # set when an add-on created it


@dataclass
class ClusterExtension:
    addons: dict[str, Addon] = field(default_factory=dict)
    access_entries: dict[str, AccessEntry] = field(default_factory=dict)  # by principal ARN
    pod_identity_associations: dict[str, PodIdentityAssociation] = field(default_factory=dict)  # by association id
    updates: dict[str, Update] = field(default_factory=dict)
    cluster_security_group_id: str | None = None


def cluster_state(cluster: Cluster) -> ClusterExtension:
    """The extension's state of `cluster`, created on first use."""
    state = getattr(cluster, "mlplat_extension", None)
    if state is None:
        state = ClusterExtension()
        cluster.mlplat_extension = state  # type: ignore[attr-defined]
    return state


def _page(items: list[Any], max_results: int, next_token: str | None) -> tuple[list[Any], str | None]:
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise InvalidParameterException(message=f"The nextToken {next_token} is not valid.") from None
    end = start + max_results
    return items[start:end], (str(end) if end < len(items) else None)


def _enabled_log_types(logging: dict[str, Any] | None, already_enabled: set[str]) -> set[str]:
    enabled = set(already_enabled)
    for setup in (logging or {}).get("clusterLogging", []):
        types = set(setup.get("types", []))
        enabled = enabled | types if setup.get("enabled") else enabled - types
    return enabled


def _logging_response(enabled: set[str]) -> dict[str, Any]:
    """EKS reports every log type, in one enabled and one disabled group."""
    groups = [
        {"types": [kind for kind in LOG_TYPES if kind in enabled], "enabled": True},
        {"types": [kind for kind in LOG_TYPES if kind not in enabled], "enabled": False},
    ]
    return {"clusterLogging": [group for group in groups if group["types"]]}


def _iam_principal(caller_arn: str) -> str:
    """The IAM principal behind an STS caller ARN, as EKS records the cluster creator."""
    assumed_role = re.match(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/", caller_arn)
    if assumed_role:
        partition, account, role = assumed_role.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    return caller_arn.replace(":sts::", ":iam::", 1)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(number) for number in re.findall(r"\d+", version))


class ExtendedEKSResponse(EKSResponse):
    """moto's EKS handler plus the operations and read-back fields the AWS provider 5.100 needs."""

    # --- helpers -------------------------------------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        return json.loads(self.body) if self.body else {}

    def _cluster(self) -> Cluster:
        return self.eks_backend.describe_cluster(name=self._get_param("name"))

    def _max_results(self) -> int:
        return self._get_int_param("maxResults", DEFAULT_MAX_RESULTS)

    def _arn(self, resource: str) -> str:
        backend = self.eks_backend
        return f"arn:{backend.partition}:eks:{backend.region_name}:{backend.account_id}:{resource}"

    def _record_update(self, cluster: Cluster, update_type: str, params: dict[str, Any], **scope: str) -> Update:
        update = Update(
            id=str(random.uuid4()),
            type=update_type,
            params=[
                {"type": kind, "value": value if isinstance(value, str) else json.dumps(value)}
                for kind, value in params.items()
            ],
            created_at=utcnow(),
            **scope,
        )
        cluster_state(cluster).updates[update.id] = update
        return update

    def _ec2(self) -> Any:
        return ec2_backends[self.current_account][self.region]

    # --- clusters ------------------------------------------------------------------------------------------------

    def create_cluster(self) -> ActionResult:
        body = self._body()
        vpc_id = self._vpc_of_subnets(body.get("resourcesVpcConfig", {}).get("subnetIds", []))
        access_config = body.get("accessConfig") or {}
        authentication_mode = access_config.get("authenticationMode", "CONFIG_MAP")
        if authentication_mode not in AUTHENTICATION_MODES:
            raise InvalidParameterException(message=f"Unsupported authentication mode: {authentication_mode}")
        version = body.get("version") or DEFAULT_KUBERNETES_VERSION
        if version not in KUBERNETES_VERSIONS:  # past its extended support, or not released
            raise InvalidParameterException(message=f"unsupported Kubernetes version {version}")
        result = super().create_cluster()
        cluster: Cluster = result.result["cluster"]  # type: ignore[index]
        state = cluster_state(cluster)
        cluster.version = version
        cluster.access_config = {  # type: ignore[attr-defined]
            "authenticationMode": authentication_mode,
            "bootstrapClusterCreatorAdminPermissions": access_config.get(
                "bootstrapClusterCreatorAdminPermissions", True
            ),
        }
        cluster.upgrade_policy = body.get("upgradePolicy") or {"supportType": "EXTENDED"}  # type: ignore[attr-defined]
        for optional in ("zonalShiftConfig", "computeConfig", "storageConfig", "deletionProtection", "outpostConfig"):
            if optional in body:
                setattr(cluster, optional, body[optional])
        cluster.logging = _logging_response(_enabled_log_types(body.get("logging"), set()))
        network = body.get("kubernetesNetworkConfig") or {}
        cluster.kubernetes_network_config = {
            "serviceIpv4Cidr": network.get("serviceIpv4Cidr", "172.20.0.0/16"),
            "ipFamily": network.get("ipFamily", "ipv4"),
            "elasticLoadBalancing": network.get("elasticLoadBalancing", {"enabled": False}),
        }
        cluster.health = {"issues": []}  # type: ignore[attr-defined]
        # EKS makes a security group for the control plane ENIs; stacks attach rules to it, so it must exist in EC2.
        group_name = f"eks-cluster-sg-{cluster.name}-{random.randint(10**9, 10**10 - 1)}"
        group = self._ec2().create_security_group(
            name=group_name,
            description="EKS created security group applied to ENI that is attached to EKS Control Plane master "
            "nodes, as well as any managed workloads.",
            vpc_id=vpc_id,
            tags={
                "Name": group_name,
                "aws:eks:cluster-name": cluster.name,
                f"kubernetes.io/cluster/{cluster.name}": "owned",
            },
        )
        state.cluster_security_group_id = group.id
        requested_vpc = body.get("resourcesVpcConfig", {})
        cluster.resources_vpc_config = {
            "subnetIds": requested_vpc.get("subnetIds", []),
            "securityGroupIds": requested_vpc.get("securityGroupIds", []),
            "clusterSecurityGroupId": group.id,
            "vpcId": vpc_id,
            "endpointPublicAccess": requested_vpc.get("endpointPublicAccess", True),
            "endpointPrivateAccess": requested_vpc.get("endpointPrivateAccess", False),
            "publicAccessCidrs": requested_vpc.get("publicAccessCidrs", ["0.0.0.0/0"]),
        }
        if authentication_mode != "CONFIG_MAP" and cluster.access_config["bootstrapClusterCreatorAdminPermissions"]:  # type: ignore[attr-defined]
            self._bootstrap_creator_access(cluster)
        return result

    def _vpc_of_subnets(self, subnet_ids: list[str]) -> str:
        if not subnet_ids:
            raise InvalidParameterException(message="Subnets are required")
        ec2 = self._ec2()
        try:
            subnets = [ec2.get_subnet(subnet_id) for subnet_id in subnet_ids]
        except EC2ClientError as error:
            raise InvalidParameterException(message=error.message) from None
        if len({subnet.vpc_id for subnet in subnets}) > 1:
            raise InvalidParameterException(message="Subnets specified must belong to the same VPC")
        if len({subnet.availability_zone for subnet in subnets}) < 2:
            raise InvalidParameterException(message="Subnets specified must be in at least two different AZs")
        return subnets[0].vpc_id

    def _bootstrap_creator_access(self, cluster: Cluster) -> None:
        """EKS makes the cluster creator an admin through an access entry when asked to (the default)."""
        sts = sts_backends[self.current_account][self.partition]
        _, caller_arn, _ = sts.get_caller_identity(self.get_access_key(), self.region)
        entry = self._new_access_entry(cluster, _iam_principal(caller_arn), "STANDARD", None, [], {})
        policy_arn = f"arn:{self.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        entry.access_policies[policy_arn] = AssociatedAccessPolicy(policy_arn, {"type": "cluster"}, utcnow(), utcnow())

    def update_cluster_config(self) -> ActionResult:
        body = self._body()
        cluster = self._cluster()
        params: dict[str, Any] = {}
        update_type = "ConfigUpdate"
        requested_vpc = body.get("resourcesVpcConfig")
        if requested_vpc:
            if "subnetIds" in requested_vpc:
                self._vpc_of_subnets(requested_vpc["subnetIds"])
            cluster.resources_vpc_config.update(requested_vpc)
            update_type = (
                "VpcConfigUpdate" if {"subnetIds", "securityGroupIds"} & set(requested_vpc) else "EndpointAccessUpdate"
            )
            for key, param in (
                ("endpointPublicAccess", "EndpointPublicAccess"),
                ("endpointPrivateAccess", "EndpointPrivateAccess"),
                ("publicAccessCidrs", "PublicAccessCidrs"),
                ("subnetIds", "Subnets"),
                ("securityGroupIds", "SecurityGroups"),
            ):
                if key in requested_vpc:
                    params[param] = requested_vpc[key]
        if body.get("logging"):
            enabled_now = (
                set(cluster.logging["clusterLogging"][0]["types"])
                if cluster.logging["clusterLogging"][0]["enabled"]
                else set()
            )
            cluster.logging = _logging_response(_enabled_log_types(body["logging"], enabled_now))
            update_type, params["ClusterLogging"] = "LoggingUpdate", body["logging"]["clusterLogging"]
        if body.get("accessConfig", {}).get("authenticationMode"):
            self._change_authentication_mode(cluster, body["accessConfig"]["authenticationMode"])
            update_type, params["AuthenticationMode"] = "AccessConfigUpdate", body["accessConfig"]["authenticationMode"]
        if body.get("upgradePolicy"):
            cluster.upgrade_policy = body["upgradePolicy"]  # type: ignore[attr-defined]
            update_type, params["UpgradePolicy"] = "UpgradePolicyUpdate", body["upgradePolicy"]
        if "zonalShiftConfig" in body:
            cluster.zonalShiftConfig = body["zonalShiftConfig"]  # type: ignore[attr-defined]
            update_type, params["ZonalShiftConfig"] = "ZonalShiftConfigUpdate", body["zonalShiftConfig"]
        if "deletionProtection" in body:
            cluster.deletionProtection = body["deletionProtection"]  # type: ignore[attr-defined]
            update_type, params["DeletionProtection"] = "DeletionProtectionUpdate", body["deletionProtection"]
        if not params:
            raise InvalidParameterException(message="No changes needed for the cluster configuration")
        return ActionResult({"update": self._record_update(cluster, update_type, params)})

    def _change_authentication_mode(self, cluster: Cluster, mode: str) -> None:
        current = cluster.access_config["authenticationMode"]  # type: ignore[attr-defined]
        if mode not in AUTHENTICATION_MODES or AUTHENTICATION_MODES.index(mode) < AUTHENTICATION_MODES.index(current):
            # EKS only moves CONFIG_MAP -> API_AND_CONFIG_MAP -> API.
            raise InvalidParameterException(message=f"Unsupported authentication mode update from {current} to {mode}")
        cluster.access_config["authenticationMode"] = mode  # type: ignore[attr-defined]

    def update_cluster_version(self) -> ActionResult:
        cluster = self._cluster()
        version = self._body().get("version", "")
        current_minor, wanted_minor = _version_key(cluster.version), _version_key(version)
        if len(wanted_minor) != 2 or wanted_minor[0] != current_minor[0] or wanted_minor[1] != current_minor[1] + 1:
            raise InvalidParameterException(
                message=f"Unsupported Kubernetes minor version update from {cluster.version} to {version}",
                clusterName=cluster.name,
            )
        cluster.version = version
        cluster.platformVersion = "eks.1"
        update = self._record_update(cluster, "VersionUpdate", {"Version": version, "PlatformVersion": "eks.1"})
        return ActionResult({"update": update})

    def delete_cluster(self) -> ActionResult:
        result = super().delete_cluster()
        cluster: Cluster = result.result["cluster"]  # type: ignore[index]
        cluster.status = "DELETING"
        group_id = cluster_state(cluster).cluster_security_group_id
        if group_id:
            # Still referenced: EKS leaves it behind too, and inventory() then reports it.
            with contextlib.suppress(EC2ClientError):
                self._ec2().delete_security_group(group_id=group_id)
        return result

    def describe_update(self) -> ActionResult:
        cluster = self._cluster()
        update_id = self._get_param("updateId")
        update = cluster_state(cluster).updates.get(update_id)
        if (
            update is None
            or update.nodegroup_name != self._get_param("nodegroupName")
            or update.addon_name != self._get_param("addonName")
        ):
            raise _not_found(f"No update found for ID: {update_id}", clusterName=cluster.name)
        return ActionResult({"update": update})

    def list_updates(self) -> ActionResult:
        cluster = self._cluster()
        nodegroup_name, addon_name = self._get_param("nodegroupName"), self._get_param("addonName")
        ids = [
            update.id
            for update in cluster_state(cluster).updates.values()
            if update.nodegroup_name == nodegroup_name and update.addon_name == addon_name
        ]
        page, next_token = _page(ids, self._max_results(), self._get_param("nextToken"))
        return ActionResult({"updateIds": page, "nextToken": next_token})

    # --- node groups ---------------------------------------------------------------------------------------------

    def create_nodegroup(self) -> ActionResult:
        body = self._body()
        cluster = self._cluster()
        launch_template = self._resolve_launch_template(body["launchTemplate"]) if body.get("launchTemplate") else None
        result = super().create_nodegroup()
        nodegroup: Nodegroup = result.result["nodegroup"]  # type: ignore[index]
        version = body.get("version") or cluster.version
        nodegroup.version = version
        nodegroup.release_version = body.get("releaseVersion") or f"{version}.0-{NODE_AMI_RELEASE}"
        if not body.get("amiType"):
            nodegroup.ami_type = "AL2023_x86_64_STANDARD" if _version_key(version) >= (1, 30) else "AL2_x86_64"
        # moto fills in a disk size (as a string) and an SSH key; EKS reports neither unless asked for them.
        nodegroup.disk_size = body.get("diskSize") or (None if body.get("launchTemplate") else 20)
        nodegroup.remote_access = body.get("remoteAccess")
        if not nodegroup.remote_access:
            nodegroup.resources.pop("remoteAccessSecurityGroup", None)
        nodegroup.resources["autoScalingGroups"] = [{"name": f"eks-{nodegroup.nodegroup_name}-{nodegroup.uuid}"}]
        nodegroup.update_config = body.get("updateConfig") or {"maxUnavailable": 1}
        nodegroup.node_repair_config = body.get("nodeRepairConfig") or {"enabled": False}
        nodegroup.launch_template = launch_template
        return result

    def _resolve_launch_template(self, reference: dict[str, str]) -> dict[str, str]:
        """The template's id, name and version, as EKS reports them whichever of id/name was given."""
        ec2 = self._ec2()
        try:
            if reference.get("id"):
                template = ec2.describe_launch_templates(template_ids=[reference["id"]])[0]
            else:
                template = ec2.describe_launch_templates(template_names=[reference.get("name")])[0]
        except (EC2ClientError, IndexError):
            missing = reference.get("id") or reference.get("name")
            raise InvalidParameterException(message=f"Launch template {missing} does not exist") from None
        return {
            "id": template.id,
            "name": template.name,
            "version": reference.get("version") or str(template.default_version_number),
        }

    def update_nodegroup_config(self) -> ActionResult:
        result = super().update_nodegroup_config()
        moto_update: dict[str, Any] = result.result["update"]  # type: ignore[index]
        update = Update(
            id=moto_update["id"],
            type="ConfigUpdate",
            params=moto_update["params"],
            created_at=moto_update["createdAt"],
            nodegroup_name=self._get_param("nodegroupName"),
        )
        cluster_state(self._cluster()).updates[update.id] = update
        return ActionResult({"update": update})

    def update_nodegroup_version(self) -> ActionResult:
        body = self._body()
        cluster = self._cluster()
        nodegroup = self.eks_backend.describe_nodegroup(cluster.name, self._get_param("nodegroupName"))
        params: dict[str, str] = {}
        if body.get("version"):
            nodegroup.version = params["Version"] = body["version"]
            nodegroup.release_version = params["ReleaseVersion"] = (
                body.get("releaseVersion") or f"{body['version']}.0-{NODE_AMI_RELEASE}"
            )
        elif body.get("releaseVersion"):
            nodegroup.release_version = params["ReleaseVersion"] = body["releaseVersion"]
        if body.get("launchTemplate"):
            if nodegroup.launch_template is None:
                raise InvalidRequestException(message="This node group was not created with a launch template")
            requested = self._resolve_launch_template(body["launchTemplate"])
            if requested["id"] != nodegroup.launch_template["id"]:
                raise InvalidParameterException(
                    message="A node group's launch template cannot be changed, only its version"
                )
            nodegroup.launch_template["version"] = params["LaunchTemplateVersion"] = requested["version"]
        nodegroup.modified_at = utcnow()
        update = self._record_update(cluster, "VersionUpdate", params, nodegroup_name=nodegroup.nodegroup_name)
        return ActionResult({"update": update})

    def delete_nodegroup(self) -> ActionResult:
        result = super().delete_nodegroup()
        result.result["nodegroup"].status = "DELETING"  # type: ignore[index]
        return result

    # --- add-ons -------------------------------------------------------------------------------------------------

    def _addon(self, cluster: Cluster) -> Addon:
        addon_name = self._get_param("addonName")
        addon = cluster_state(cluster).addons.get(addon_name)
        if addon is None:
            raise _not_found(
                f"No addon: {addon_name} found in cluster: {cluster.name}",
                clusterName=cluster.name,
                addonName=addon_name,
            )
        return addon

    def create_addon(self) -> ActionResult:
        body = self._body()
        cluster = self._cluster()
        state = cluster_state(cluster)
        addon_name = body.get("addonName", "")
        spec = ADDONS.get(addon_name)
        if spec is None:
            raise InvalidParameterException(
                message=f"Addon {addon_name} specified is not supported in {cluster.version} kubernetes version",
                clusterName=cluster.name,
                addonName=addon_name,
            )
        if addon_name in state.addons:
            raise ResourceInUseException(
                message="Addon already exists.", clusterName=cluster.name, addonName=addon_name, nodegroupName=None
            )
        namespace = (body.get("namespaceConfig") or {}).get("namespace") or spec.default_namespace
        now = utcnow()
        addon = Addon(
            addon_name=addon_name,
            cluster_name=cluster.name,
            addon_version=body.get("addonVersion") or spec.default_version(cluster.version),
            addon_arn=self._arn(f"addon/{cluster.name}/{addon_name}/{random.uuid4()}"),
            created_at=now,
            modified_at=now,
            tags=body.get("tags") or {},
            service_account_role_arn=body.get("serviceAccountRoleArn"),
            configuration_values=body.get("configurationValues"),
            namespace_config={"namespace": namespace} if body.get("namespaceConfig") else None,
        )
        self._set_addon_pod_identities(cluster, addon, namespace, body.get("podIdentityAssociations") or [])
        state.addons[addon_name] = addon
        return ActionResult({"addon": addon})

    def _set_addon_pod_identities(
        self, cluster: Cluster, addon: Addon, namespace: str, requested: list[dict[str, str]]
    ) -> None:
        """An add-on owns the pod identity associations it was given; replacing the list replaces them."""
        state = cluster_state(cluster)
        service_accounts = [item.get("serviceAccount") for item in requested]
        if len(set(service_accounts)) != len(service_accounts):
            raise InvalidParameterException(
                message="Each service account may appear only once in podIdentityAssociations",
                addonName=addon.addon_name,
            )
        for association in [a for a in state.pod_identity_associations.values() if a.owner_arn == addon.addon_arn]:
            del state.pod_identity_associations[association.association_id]
        addon.pod_identity_associations = []
        for item in requested:
            association = self._new_pod_identity_association(
                cluster,
                namespace,
                item.get("serviceAccount", ""),
                item.get("roleArn", ""),
                {},
                owner_arn=addon.addon_arn,
            )
            addon.pod_identity_associations.append(association.association_arn)

    def describe_addon(self) -> ActionResult:
        return ActionResult({"addon": self._addon(self._cluster())})

    def update_addon(self) -> ActionResult:
        body = self._body()
        cluster = self._cluster()
        addon = self._addon(cluster)
        params: dict[str, Any] = {}
        if body.get("addonVersion"):
            addon.addon_version = params["AddonVersion"] = body["addonVersion"]
        if "serviceAccountRoleArn" in body:
            addon.service_account_role_arn = params["ServiceAccountRoleArn"] = body["serviceAccountRoleArn"] or None
        if "configurationValues" in body:
            addon.configuration_values = params["ConfigurationValues"] = body["configurationValues"]
        if "podIdentityAssociations" in body:
            namespace = (addon.namespace_config or {}).get("namespace") or ADDONS[addon.addon_name].default_namespace
            self._set_addon_pod_identities(cluster, addon, namespace, body["podIdentityAssociations"])
            params["PodIdentityAssociations"] = addon.pod_identity_associations
        if body.get("resolveConflicts"):
            params["ResolveConflicts"] = body["resolveConflicts"]
        addon.modified_at = utcnow()
        update = self._record_update(cluster, "AddonUpdate", params, addon_name=addon.addon_name)
        return ActionResult({"update": update})

    def delete_addon(self) -> ActionResult:
        cluster = self._cluster()
        addon = self._addon(cluster)
        state = cluster_state(cluster)
        for association in [a for a in state.pod_identity_associations.values() if a.owner_arn == addon.addon_arn]:
            del state.pod_identity_associations[association.association_id]
        del state.addons[addon.addon_name]
        addon.status = "DELETING"
        return ActionResult({"addon": addon})

    def list_addons(self) -> ActionResult:
        names = sorted(cluster_state(self._cluster()).addons)
        page, next_token = _page(names, self._max_results(), self._get_param("nextToken"))
        return ActionResult({"addons": page, "nextToken": next_token})

    def describe_addon_versions(self) -> ActionResult:
        kubernetes_version = self._get_param("kubernetesVersion")
        addon_name = self._get_param("addonName")
        types = self.querystring.get("types") or []
        publishers = self.querystring.get("publishers") or []
        owners = self.querystring.get("owners") or []
        addons = []
        for name, spec in sorted(ADDONS.items()):
            if (addon_name and name != addon_name) or (types and spec.type not in types):
                continue
            if (publishers and "eks" not in publishers) or (owners and "aws" not in owners):
                continue
            addons.append(
                {
                    "addonName": name,
                    "type": spec.type,
                    "addonVersions": self._addon_versions(
                        spec, [kubernetes_version] if kubernetes_version else list(KUBERNETES_VERSIONS)
                    ),
                    "publisher": "eks",
                    "owner": "aws",
                    "defaultNamespace": spec.default_namespace,
                }
            )
        page, next_token = _page(addons, self._max_results(), self._get_param("nextToken"))
        return ActionResult({"addons": page, "nextToken": next_token})

    @staticmethod
    def _addon_versions(spec: Any, kubernetes_versions: list[str]) -> list[dict[str, Any]]:
        clusters_by_version: dict[str, list[str]] = {}
        for kubernetes_version in kubernetes_versions:
            clusters_by_version.setdefault(spec.default_version(kubernetes_version), []).append(kubernetes_version)
        return [
            {
                "addonVersion": version,
                "architecture": ["amd64", "arm64"],
                "computeTypes": ["ec2"],
                "compatibilities": [
                    {"clusterVersion": cluster_version, "platformVersions": ["*"], "defaultVersion": True}
                    for cluster_version in clusters
                ],
                "requiresConfiguration": False,
                "requiresIamPermissions": bool(spec.pod_identity_service_accounts),
            }
            for version, clusters in sorted(
                clusters_by_version.items(), key=lambda item: _version_key(item[0]), reverse=True
            )
        ]

    def describe_addon_configuration(self) -> ActionResult:
        addon_name = self._get_param("addonName")
        addon_version = self._get_param("addonVersion")
        spec = ADDONS.get(addon_name)
        if spec is None:
            raise _not_found(f"Addon {addon_name} not found", addonName=addon_name)
        schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": True}
        return ActionResult(
            {
                "addonName": addon_name,
                "addonVersion": addon_version,
                "configurationSchema": json.dumps(schema),
                "podIdentityConfiguration": [
                    {
                        "serviceAccount": service_account,
                        "recommendedManagedPolicies": [f"arn:{self.partition}:iam::aws:policy/{policy}"],
                    }
                    for service_account, policy in spec.pod_identity_service_accounts
                ],
            }
        )

    # --- access entries ------------------------------------------------------------------------------------------

    def _require_api_authentication(self, cluster: Cluster) -> None:
        if cluster.access_config["authenticationMode"] == "CONFIG_MAP":  # type: ignore[attr-defined]
            raise InvalidRequestException(
                message="The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
                "to perform this operation.",
                clusterName=cluster.name,
            )

    def _access_entry(self, cluster: Cluster) -> AccessEntry:
        principal_arn = self._get_param("principalArn")
        entry = cluster_state(cluster).access_entries.get(principal_arn)
        if entry is None:
            raise _not_found(
                "The specified principalArn could not be found. "
                "You can view your available access entries with 'list-access-entries'.",
                clusterName=cluster.name,
            )
        return entry

    def _new_access_entry(
        self,
        cluster: Cluster,
        principal_arn: str,
        entry_type: str,
        username: str | None,
        groups: list[str],
        tags: dict[str, str],
    ) -> AccessEntry:
        state = cluster_state(cluster)
        principal = IAM_PRINCIPAL_ARN.match(principal_arn)
        if principal is None:
            raise InvalidParameterException(
                message=f"The specified principalArn is invalid: {principal_arn}", clusterName=cluster.name
            )
        if entry_type not in ACCESS_ENTRY_TYPES:
            raise InvalidParameterException(
                message=f"The type {entry_type} is not supported. Valid types: {', '.join(ACCESS_ENTRY_TYPES)}"
            )
        if principal_arn in state.access_entries:
            raise ResourceInUseException(
                message="The specified access entry resource is already in use on this cluster.",
                clusterName=cluster.name,
                nodegroupName=None,
                addonName=None,
            )
        if entry_type == "STANDARD":
            if principal["kind"] == "role":
                assumed_role = f"assumed-role/{principal['name']}/{{{{SessionName}}}}"
                default_username = f"arn:{principal['partition']}:sts::{principal['account']}:{assumed_role}"
            else:
                default_username = principal_arn
            username = username or default_username
        else:
            if username or groups:
                raise InvalidParameterException(
                    message=f"username and kubernetesGroups cannot be specified for access entries of type {entry_type}"
                )
            username, groups = NODE_ACCESS_ENTRY_USERNAMES[entry_type], ["system:nodes"]
        now = utcnow()
        entry = AccessEntry(
            cluster_name=cluster.name,
            principal_arn=principal_arn,
            type=entry_type,
            username=username,
            kubernetes_groups=list(groups),
            access_entry_arn=self._arn(
                f"access-entry/{cluster.name}/{principal['kind']}/{principal['account']}/{principal['name']}/{random.uuid4()}"
            ),
            created_at=now,
            modified_at=now,
            tags=tags,
        )
        state.access_entries[principal_arn] = entry
        return entry

    def create_access_entry(self) -> ActionResult:
        body = self._body()
        cluster = self._cluster()
        self._require_api_authentication(cluster)
        entry = self._new_access_entry(
            cluster,
            body.get("principalArn", ""),
            body.get("type") or "STANDARD",
            body.get("username"),
            body.get("kubernetesGroups") or [],
            body.get("tags") or {},
        )
        return ActionResult({"accessEntry": entry})

    def describe_access_entry(self) -> ActionResult:
        return ActionResult({"accessEntry": self._access_entry(self._cluster())})

    def update_access_entry(self) -> ActionResult:
        body = self._body()
        entry = self._access_entry(self._cluster())
        if entry.type != "STANDARD" and ("username" in body or "kubernetesGroups" in body):
            raise InvalidParameterException(
                message=f"username and kubernetesGroups cannot be updated for access entries of type {entry.type}"
            )
        if "kubernetesGroups" in body:
            entry.kubernetes_groups = body["kubernetesGroups"] or []
        if body.get("username"):
            entry.username = body["username"]
        entry.modified_at = utcnow()
        return ActionResult({"accessEntry": entry})

    def delete_access_entry(self) -> ActionResult:
        cluster = self._cluster()
        entry = self._access_entry(cluster)
        del cluster_state(cluster).access_entries[entry.principal_arn]
        return EmptyResult()

    def list_access_entries(self) -> ActionResult:
        cluster = self._cluster()
        self._require_api_authentication(cluster)
        policy_arn = self._get_param("associatedPolicyArn")
        principals = [
            entry.principal_arn
            for entry in cluster_state(cluster).access_entries.values()
            if not policy_arn or policy_arn in entry.access_policies
        ]
        page, next_token = _page(principals, self._max_results(), self._get_param("nextToken"))
        return ActionResult({"accessEntries": page, "nextToken": next_token})

    def describe_cluster_versions(self) -> ActionResult:
        """The Kubernetes versions EKS creates clusters on, with their support dates (mlplat/versions.py's calendar,
        read at MLPLAT_TODAY or today): standard and extended support by default, ended ones with includeAll."""
        today = settings_today()
        wanted = self.querystring.get("clusterVersions") or []
        include_all = self._get_param("includeAll") in ("true", True)
        newest_standard = max((m for m in KUBERNETES_VERSIONS if eks_support(m, today) == "standard"),
                              key=lambda m: tuple(map(int, m.split("."))), default=None)
        found = []
        for minor in KUBERNETES_VERSIONS:
            v = EKS_CALENDAR[minor]
            support = eks_support(minor, today)
            if (wanted and minor not in wanted) or (support == "ended" and not include_all):
                continue
            if self._get_param("defaultOnly") in ("true", True) and minor != newest_standard:
                continue
            status = {"standard": "STANDARD_SUPPORT", "extended": "EXTENDED_SUPPORT", "ended": "UNSUPPORTED"}[support]
            found.append({
                "clusterVersion": minor, "clusterType": "eks", "defaultPlatformVersion": "eks.1",
                "defaultVersion": minor == newest_standard,
                "releaseDate": _epoch(v.released), "endOfStandardSupportDate": _epoch(v.end_of_standard_support),
                "endOfExtendedSupportDate": _epoch(v.end_of_extended_support),
                "status": status.lower().replace("_", "-"), "versionStatus": status,
            })
        page, next_token = _page(found, self._max_results(), self._get_param("nextToken"))
        return ActionResult({"clusterVersions": page, "nextToken": next_token})

    def list_access_policies(self) -> ActionResult:
        policies = [
            {"name": name, "arn": f"arn:{self.partition}:eks::aws:cluster-access-policy/{name}"}
            for name in ACCESS_POLICY_NAMES
        ]
        page, next_token = _page(policies, self._max_results(), self._get_param("nextToken"))
        return ActionResult({"accessPolicies": page, "nextToken": next_token})

    def associate_access_policy(self) -> ActionResult:
        body = self._body()
        cluster = self._cluster()
        entry = self._access_entry(cluster)
        policy_arn = body.get("policyArn", "")
        known = {f"arn:{self.partition}:eks::aws:cluster-access-policy/{name}" for name in ACCESS_POLICY_NAMES}
        if policy_arn not in known:
            raise InvalidParameterException(
                message=f"The specified policyArn is invalid: {policy_arn}", clusterName=cluster.name
            )
        scope = body.get("accessScope") or {}
        if scope.get("type") not in ("cluster", "namespace"):
            raise InvalidParameterException(
                message="accessScope.type must be one of [cluster, namespace]", clusterName=cluster.name
            )
        if (scope["type"] == "namespace") != bool(scope.get("namespaces")):
            raise InvalidParameterException(
                message="namespaces must be given for, and only for, an accessScope of type namespace",
                clusterName=cluster.name,
            )
        now = utcnow()
        existing = entry.access_policies.get(policy_arn)
        associated = AssociatedAccessPolicy(policy_arn, scope, existing.associated_at if existing else now, now)
        entry.access_policies[policy_arn] = associated
        return ActionResult(
            {"clusterName": cluster.name, "principalArn": entry.principal_arn, "associatedAccessPolicy": associated}
        )

    def disassociate_access_policy(self) -> ActionResult:
        cluster = self._cluster()
        entry = self._access_entry(cluster)
        policy_arn = self._get_param("policyArn")
        if entry.access_policies.pop(policy_arn, None) is None:
            raise _not_found(
                f"The specified policy {policy_arn} is not associated with {entry.principal_arn}",
                clusterName=cluster.name,
            )
        return EmptyResult()

    def list_associated_access_policies(self) -> ActionResult:
        cluster = self._cluster()
        entry = self._access_entry(cluster)
        page, next_token = _page(
            list(entry.access_policies.values()), self._max_results(), self._get_param("nextToken")
        )
        return ActionResult(
            {
                "clusterName": cluster.name,
                "principalArn": entry.principal_arn,
                "associatedAccessPolicies": page,
                "nextToken": next_token,
            }
        )

    # --- pod identity associations -------------------------------------------------------------------------------

    def _pod_identity_association(self, cluster: Cluster) -> PodIdentityAssociation:
        association_id = self._get_param("associationId")
        association = cluster_state(cluster).pod_identity_associations.get(association_id)
        if association is None:
            raise _not_found(f"No Pod Identity Association found for id: {association_id}", clusterName=cluster.name)
        return association

    def _new_pod_identity_association(
        self,
        cluster: Cluster,
        namespace: str,
        service_account: str,
        role_arn: str,
        tags: dict[str, str],
        **optional: Any,
    ) -> PodIdentityAssociation:
        for required, value in (("namespace", namespace), ("serviceAccount", service_account), ("roleArn", role_arn)):
            if not value:
                raise InvalidParameterException(message=f"{required} is required", clusterName=cluster.name)
        if not IAM_PRINCIPAL_ARN.match(role_arn):
            raise InvalidParameterException(
                message=f"The roleArn {role_arn} is not a valid IAM role ARN", clusterName=cluster.name
            )
        state = cluster_state(cluster)
        for existing in state.pod_identity_associations.values():
            if (existing.namespace, existing.service_account) == (namespace, service_account):
                raise ResourceInUseException(
                    message=f"Association already exists: {existing.association_id}",
                    clusterName=cluster.name,
                    nodegroupName=None,
                    addonName=None,
                )
        association_id = f"a-{_random_id(17)}"
        now = utcnow()
        association = PodIdentityAssociation(
            cluster_name=cluster.name,
            namespace=namespace,
            service_account=service_account,
            role_arn=role_arn,
            association_arn=self._arn(f"podidentityassociation/{cluster.name}/{association_id}"),
            association_id=association_id,
            created_at=now,
            modified_at=now,
            tags=tags,
            **optional,
        )
        if association.target_role_arn:
            association.external_id = str(random.uuid4())
        state.pod_identity_associations[association_id] = association
        return association

    def create_pod_identity_association(self) -> ActionResult:
        body = self._body()
        association = self._new_pod_identity_association(
            self._cluster(),
            body.get("namespace", ""),
            body.get("serviceAccount", ""),
            body.get("roleArn", ""),
            body.get("tags") or {},
            disable_session_tags=bool(body.get("disableSessionTags", False)),
            target_role_arn=body.get("targetRoleArn"),
            policy=body.get("policy"),
        )
        return ActionResult({"association": association})

    def describe_pod_identity_association(self) -> ActionResult:
        return ActionResult({"association": self._pod_identity_association(self._cluster())})

    def _refuse_if_owned(self, association: PodIdentityAssociation) -> None:
        if association.owner_arn:
            raise InvalidRequestException(
                message=f"Pod Identity Association {association.association_id} is managed by "
                f"{association.owner_arn}; change it through the add-on"
            )

    def update_pod_identity_association(self) -> ActionResult:
        body = self._body()
        association = self._pod_identity_association(self._cluster())
        self._refuse_if_owned(association)
        if body.get("roleArn"):
            association.role_arn = body["roleArn"]
        if "disableSessionTags" in body:
            association.disable_session_tags = bool(body["disableSessionTags"])
        if "targetRoleArn" in body:
            association.target_role_arn = body["targetRoleArn"] or None
            association.external_id = str(random.uuid4()) if association.target_role_arn else None
        if "policy" in body:
            association.policy = body["policy"] or None
        association.modified_at = utcnow()
        return ActionResult({"association": association})

    def delete_pod_identity_association(self) -> ActionResult:
        cluster = self._cluster()
        association = self._pod_identity_association(cluster)
        self._refuse_if_owned(association)
        del cluster_state(cluster).pod_identity_associations[association.association_id]
        return ActionResult({"association": association})

    def list_pod_identity_associations(self) -> ActionResult:
        namespace, service_account = self._get_param("namespace"), self._get_param("serviceAccount")
        summaries = [
            association
            for association in cluster_state(self._cluster()).pod_identity_associations.values()
            if (not namespace or association.namespace == namespace)
            and (not service_account or association.service_account == service_account)
        ]
        page, next_token = _page(summaries, self._max_results(), self._get_param("nextToken"))
        return ActionResult({"associations": page, "nextToken": next_token})

    # --- tags (moto tags clusters only) --------------------------------------------------------------------------

    def _tagged(self) -> Any:
        arn = self._extract_arn_from_path()
        for cluster in self.eks_backend.clusters.values():
            state = cluster_state(cluster)
            candidates = [
                (cluster.arn, cluster),
                *((nodegroup.arn, nodegroup) for nodegroup in cluster.nodegroups.values()),
                *((profile.fargate_profile_arn, profile) for profile in cluster.fargate_profiles.values()),
                *((addon.addon_arn, addon) for addon in state.addons.values()),
                *((entry.access_entry_arn, entry) for entry in state.access_entries.values()),
                *(
                    (association.association_arn, association)
                    for association in state.pod_identity_associations.values()
                ),
            ]
            for candidate_arn, resource in candidates:
                if candidate_arn == arn:
                    return resource
        raise NotFoundException(message=f"Resource was not found: {arn}")

    def tag_resource(self) -> ActionResult:
        resource = self._tagged()
        resource.tags = {**(resource.tags or {}), **(self._body().get("tags") or {})}
        return EmptyResult()

    def untag_resource(self) -> ActionResult:
        resource = self._tagged()
        keys = self.querystring.get("tagKeys") or []
        resource.tags = {key: value for key, value in (resource.tags or {}).items() if key not in keys}
        return EmptyResult()

    def list_tags_for_resource(self) -> ActionResult:
        return ActionResult({"tags": self._tagged().tags or {}})


# Flask routes for the EKS paths moto does not serve. moto then matches method + raw path against botocore's URIs,
# where ARNs in a path are still %2F-encoded, so one route per sub-tree is enough.
_EXTRA_PATHS = (
    "{0}/clusters/(?P<name>[^/]+)/(?P<subresource>addons|access-entries|pod-identity-associations|updates)$",
    "{0}/clusters/(?P<name>[^/]+)/(?P<subresource>addons|access-entries|pod-identity-associations|updates)/(?P<rest>.+)$",
    "{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)/update-version$",
    "{0}/addons/(?P<catalog>supported-versions|configuration-schemas)$",
    "{0}/access-policies$",
    "{0}/cluster-versions$",
)


def install() -> None:
    """Serve every EKS path, moto's and ours, with `ExtendedEKSResponse`."""
    for path in (*eks_urls.url_paths, *_EXTRA_PATHS):
        eks_urls.url_paths[path] = ExtendedEKSResponse.dispatch
