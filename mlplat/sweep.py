"""The last phase of `mlplat destroy`: find what the platform's cluster made in AWS that Terraform never knew about,
list it, delete it once the caller has confirmed, and check that it is gone.

Terraform destroys what it created. What the cluster's controllers created at run time can outlive it: Karpenter's
instances and their network interfaces, EBS volumes of persistent volume claims, load balancers, target groups and
security groups of Services and Ingresses, the VPC CNI's leaked interfaces, the log groups EKS and Container Insights
write to (EKS recreates its group when logs arrive after Terraform deleted it), placement groups. Left behind, they
cost money and keep the VPC's subnets and security groups from being deleted.

Ownership is decided by tags only, and only by tags that name this cluster (or all of the platform's own tags, which
the AWS provider's default_tags put on everything Terraform made: stacks/providers.py). A Name that merely contains
the cluster's name is not ownership. The tag keys, and who writes them (upstream sources read for this module):

- `kubernetes.io/cluster/<cluster>` = `owned`:
  Karpenter on everything it launches (aws/karpenter-provider-aws, pkg/cloudprovider/cloudprovider.go, getTags);
  the EBS CSI driver on volumes when run with --k8s-tag-cluster-id (kubernetes-sigs/aws-ebs-csi-driver,
  pkg/driver/constants.go ResourceLifecycleTagPrefix/ResourceLifecycleOwned, pkg/driver/controller.go);
  the Kubernetes AWS cloud provider on the load balancers and security groups of Services it serves
  (kubernetes/cloud-provider-aws, pkg/providers/v1/tags.go TagNameKubernetesClusterPrefix, ResourceLifecycleOwned).
  The value `shared` (subnets, VPCs used by several clusters) is not ownership.
- `eks:eks-cluster-name` = cluster: Karpenter v1 (karpenter-provider-aws, pkg/apis/v1/labels.go EKSClusterNameTagKey);
  `karpenter.sh/nodepool` names no cluster and is never enough on its own.
- `KubernetesCluster` = cluster: the EBS CSI driver with --k8s-tag-cluster-id (aws-ebs-csi-driver,
  pkg/driver/constants.go KubernetesClusterTag), and the cloud provider's legacy tag (tags.go
  TagNameKubernetesClusterLegacy).
- `ebs.csi.aws.com/cluster-name` = cluster: the EBS CSI driver with --k8s-tag-cluster-id, since v1.58
  (aws-ebs-csi-driver, pkg/driver/constants.go ClusterNameTagKey). Its `ebs.csi.aws.com/cluster` = `true`
  (pkg/cloud/cloud.go AwsEbsDriverTagKey) names no cluster and is never enough.
- `elbv2.k8s.aws/cluster` = cluster: the AWS Load Balancer Controller on load balancers, target groups and security
  groups (kubernetes-sigs/aws-load-balancer-controller, pkg/deploy/tracking/provider.go clusterNameTagKey;
  pkg/networking/backend_sg_provider.go tagKeyK8sCluster); `ingress.k8s.aws/cluster` = cluster is its legacy key
  (provider.go clusterNameTagKeyLegacy).
- `cluster.k8s.amazonaws.com/name` = cluster: the Amazon VPC CNI on the interfaces it creates
  (aws/amazon-vpc-cni-k8s, pkg/awsutils/awsutils.go eniClusterTagKey).
- `eks:cluster-name` = cluster: EKS on managed node groups' instances (AWS managed policy
  AmazonEBSCSIDriverEKSClusterScopedPolicy, docs.aws.amazon.com).
- Log groups by name: `/aws/eks/<cluster>/cluster` (EKS control plane logs) and `/aws/containerinsights/<cluster>/...`.

The network's plumbing (NAT gateways, VPC endpoints, route tables, internet gateways, subnets, Elastic IPs, VPCs) is
claimed by the platform's tags only: no controller makes it, terraform does. One of them outside terraform's state was
lost by an interrupted create (AWS made it, the provider was stopped before it saved the id); left in the platform's
VPC it fails the VPC's deletion, so `mlplat destroy` removes those before terraform's phase (`orphans_of`).

    plan = plan_sweep(session, "ml-prod", {"Platform": "ml-prod", "ManagedBy": "mlplat"})
    print("\\n".join(plan.lines()))               # then ask
    result = execute_sweep(session, plan, progress=print)
    result.raise_if_left()                        # MlplatError naming each leftover and the command that removes it
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mlplat.errors import MlplatError


class Kind(StrEnum):
    INSTANCE = "instance"
    SAGEMAKER_ENDPOINT = "sagemaker_endpoint"
    CLASSIC_LOAD_BALANCER = "classic_load_balancer"
    LOAD_BALANCER = "load_balancer"
    TARGET_GROUP = "target_group"
    NAT_GATEWAY = "nat_gateway"
    VPC_ENDPOINT = "vpc_endpoint"
    NETWORK_INTERFACE = "network_interface"
    VOLUME = "volume"
    SECURITY_GROUP = "security_group"
    ROUTE_TABLE = "route_table"
    INTERNET_GATEWAY = "internet_gateway"
    SUBNET = "subnet"
    ELASTIC_IP = "elastic_ip"
    VPC = "vpc"
    LOG_GROUP = "log_group"
    PLACEMENT_GROUP = "placement_group"


# Deletion order: instances hold interfaces, volumes and placement groups; SageMaker endpoints (the ACK controller's,
# tagged with the platform's tags) hold SageMaker's interfaces in the platform's subnets, and bill by the hour; load balancers hold target groups (through
# listeners), interfaces and security groups; NAT gateways and interface endpoints hold interfaces (and the NAT its
# Elastic IP); interfaces hold security groups and subnets; a VPC goes last, once nothing is in it.
SWEEP_ORDER: tuple[Kind, ...] = tuple(Kind)
# What terraform makes in a VPC and an interrupted create can leave outside its state.
NETWORK_KINDS: frozenset[Kind] = frozenset({
    Kind.NAT_GATEWAY, Kind.VPC_ENDPOINT, Kind.SECURITY_GROUP, Kind.ROUTE_TABLE, Kind.INTERNET_GATEWAY, Kind.SUBNET,
    Kind.ELASTIC_IP, Kind.VPC})
_PLATFORM_REASON = "the platform's tags "


@dataclass(frozen=True)
class OwnershipTag:
    """A tag that makes a resource the cluster's: `key` = `value`, both with {cluster} filled in."""

    key: str
    value: str
    written_by: str

    def for_cluster(self, cluster_name: str) -> tuple[str, str]:
        return self.key.format(cluster=cluster_name), self.value.format(cluster=cluster_name)


CLUSTER_OWNERSHIP_TAGS: tuple[OwnershipTag, ...] = (
    OwnershipTag("kubernetes.io/cluster/{cluster}", "owned",
                 "Karpenter, the EBS CSI driver, the Kubernetes AWS cloud provider"),
    OwnershipTag("eks:eks-cluster-name", "{cluster}", "Karpenter"),
    OwnershipTag("eks:cluster-name", "{cluster}", "EKS managed node groups"),
    OwnershipTag("KubernetesCluster", "{cluster}", "the EBS CSI driver, the Kubernetes AWS cloud provider"),
    OwnershipTag("ebs.csi.aws.com/cluster-name", "{cluster}", "the EBS CSI driver"),
    OwnershipTag("elbv2.k8s.aws/cluster", "{cluster}", "the AWS Load Balancer Controller"),
    OwnershipTag("ingress.k8s.aws/cluster", "{cluster}", "the AWS Load Balancer Controller (legacy key)"),
    OwnershipTag("cluster.k8s.amazonaws.com/name", "{cluster}", "the Amazon VPC CNI"),
)


@dataclass(frozen=True)
class SweptResource:
    kind: Kind
    id: str  # what the delete call takes: instance/volume/interface/group id, load balancer or target group ARN, name
    region: str
    reason: str  # which tag (or name) made it the platform's
    detail: str = ""  # for the listing the user confirms: type, state, name

    @property
    def key(self) -> tuple[Kind, str]:
        return self.kind, self.id

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {self.id}{detail} in {self.region}: {self.reason}"


@dataclass(frozen=True)
class SweepPlan:
    cluster_name: str
    region: str
    platform_tags: tuple[tuple[str, str], ...]
    resources: tuple[SweptResource, ...]  # in SWEEP_ORDER, then by id
    # A part of what was found (orphans_of): the verification checks those are gone, not that nothing else is left.
    partial: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.resources

    def of_kind(self, kind: Kind) -> tuple[SweptResource, ...]:
        return tuple(r for r in self.resources if r.kind is kind)

    def ids_by_kind(self) -> dict[str, list[str]]:
        """Kind -> sorted ids, for the kinds found."""
        out: dict[str, list[str]] = {}
        for resource in self.resources:
            out.setdefault(str(resource.kind), []).append(resource.id)
        return {kind: sorted(ids) for kind, ids in out.items()}

    def lines(self) -> list[str]:
        """What the user is asked to confirm, one resource a line."""
        if not self.resources:
            return [f"nothing of cluster {self.cluster_name} is left in {self.region}"]
        return [f"{len(self.resources)} resource(s) of cluster {self.cluster_name} left in {self.region}:"] + [
            f"  - {r}" for r in self.resources
        ]


@dataclass(frozen=True)
class Leftover:
    resource: SweptResource
    problem: str
    fix: str  # what to run by hand

    def __str__(self) -> str:
        return f"{self.resource.kind} {self.resource.id}: {self.problem}; {self.fix}"


@dataclass(frozen=True)
class SweepResult:
    removed: tuple[SweptResource, ...]
    left: tuple[Leftover, ...]

    @property
    def ok(self) -> bool:
        return not self.left

    def summary(self) -> str:
        return f"swept {len(self.removed)} resource(s)" + (f", {len(self.left)} left" if self.left else "")

    def raise_if_left(self, headline: str = "the sweep could not remove everything the cluster left") -> None:
        if self.left:
            raise MlplatError(_leftover_message(headline, self.left))


@dataclass(frozen=True)
class SweepTimings:
    """Bounds of every wait. Instances take a minute or two to terminate; a load balancer's interfaces can hold its
    security groups for several minutes after it is deleted, hence the retries of DependencyViolation."""

    poll_interval_seconds: float = 5.0
    wait_timeout_seconds: float = 900.0
    dependency_attempts: int = 12
    dependency_retry_seconds: float = 20.0

    def __post_init__(self) -> None:
        if self.poll_interval_seconds <= 0 or self.wait_timeout_seconds <= 0 or self.dependency_retry_seconds < 0:
            raise ValueError("the poll interval and wait timeout must be positive, the retry delay not negative")
        if self.dependency_attempts < 1:
            raise ValueError("dependency_attempts must be at least 1")


# botocore's retries ride out throttling on a big account; the bounded waits above are ours.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=10, read_timeout=60)
_LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
_TAGS_PER_DESCRIBE = 20  # DescribeTags of ELB and ELBv2 takes at most 20 resources
_TERMINATE_BATCH = 100
_EKS_LOG_GROUP = "/aws/eks/{cluster}/cluster"
_CONTAINER_INSIGHTS_PREFIX = "/aws/containerinsights/{cluster}/"
# Error codes that mean "already gone": the sweep's goal is reached, whoever removed it.
_GONE = frozenset({
    "InvalidInstanceID.NotFound", "InvalidVolume.NotFound", "InvalidNetworkInterfaceID.NotFound",
    "InvalidGroup.NotFound", "LoadBalancerNotFound", "AccessPointNotFound", "TargetGroupNotFound",
    "ResourceNotFoundException", "InvalidPlacementGroup.Unknown", "InvalidAttachmentID.NotFound",
    "NatGatewayNotFound", "InvalidNatGatewayID.NotFound", "InvalidVpcEndpointId.NotFound",
    "InvalidRouteTableID.NotFound", "InvalidAssociationID.NotFound", "InvalidInternetGatewayID.NotFound",
    "Gateway.NotAttached", "InvalidSubnetID.NotFound", "InvalidAllocationID.NotFound", "InvalidVpcID.NotFound",
})


# ---------------------------------------------------------------------------------------------------------- finding


def plan_sweep(session: boto3.Session, cluster_name: str, platform_tags: Mapping[str, str]) -> SweepPlan:
    """Everything in the session's region that belongs to the cluster or carries all of `platform_tags`.

    Reads only. An empty `platform_tags` claims nothing by platform tags (never "everything")."""
    if not cluster_name:
        raise MlplatError("the sweep needs the cluster's name")
    region = session.region_name
    if not region:
        raise MlplatError("the sweep needs a region: the AWS session has none (set AWS_REGION or the profile's region)")
    owner = _Ownership(cluster_name, tuple(sorted(platform_tags.items())))
    try:
        resources = _find(session, region, owner)
    except _ListingFailed as exc:
        raise MlplatError(f"the sweep {exc}. Nothing was deleted; the identity needs ec2:Describe*, "
                          "elasticloadbalancing:Describe*, logs:DescribeLogGroups, sagemaker:ListEndpoints and "
                          "sagemaker:ListTags") from None
    return SweepPlan(cluster_name, region, owner.platform_tags, resources)


class _ListingFailed(Exception):
    """AWS refused a listing; plan_sweep and the verification each say what that means for the user."""


@dataclass(frozen=True)
class _Ownership:
    cluster_name: str
    platform_tags: tuple[tuple[str, str], ...]

    def ec2_filter_sets(self) -> list[list[dict[str, Any]]]:
        """One EC2 query per ownership tag (`tag:<key>` = value), and one for all the platform's tags at once (filters
        AND). Values are still checked here: EC2 reads `*` and `?` in filter values as wildcards."""
        sets = [[{"Name": f"tag:{key}", "Values": [value]}]
                for key, value in (tag.for_cluster(self.cluster_name) for tag in CLUSTER_OWNERSHIP_TAGS)]
        if self.platform_tags:
            sets.append([{"Name": f"tag:{key}", "Values": [value]} for key, value in self.platform_tags])
        return sets

    def reason(self, tags: Mapping[str, str]) -> str | None:
        for tag in CLUSTER_OWNERSHIP_TAGS:
            key, value = tag.for_cluster(self.cluster_name)
            if tags.get(key) == value:
                return f"tag {key}={value} ({tag.written_by})"
        return self.platform_reason(tags)

    def platform_reason(self, tags: Mapping[str, str]) -> str | None:
        if self.platform_tags and all(tags.get(key) == value for key, value in self.platform_tags):
            return _PLATFORM_REASON + ", ".join(f"{key}={value}" for key, value in self.platform_tags)
        return None


def _find(session: boto3.Session, region: str, owner: _Ownership) -> tuple[SweptResource, ...]:
    ec2 = _client(session, "ec2", region)
    elbv2 = _client(session, "elbv2", region)
    found = [
        *_find_instances(ec2, region, owner),
        *_find_sagemaker_endpoints(_client(session, "sagemaker", region), region, owner),
        *_find_classic_load_balancers(_client(session, "elb", region), region, owner),
        *_find_elbv2(elbv2, region, owner, Kind.LOAD_BALANCER),
        *_find_elbv2(elbv2, region, owner, Kind.TARGET_GROUP),
        *_find_network_interfaces(ec2, region, owner),
        *_find_volumes(ec2, region, owner),
        *_find_security_groups(ec2, region, owner),
        *_find_network(ec2, region, owner),
        *_find_log_groups(_client(session, "logs", region), region, owner.cluster_name),
        *_find_placement_groups(ec2, region, owner),
    ]
    order = {kind: index for index, kind in enumerate(SWEEP_ORDER)}
    return tuple(sorted(found, key=lambda r: (order[r.kind], r.id)))


def _client(session: boto3.Session, service: str, region: str) -> Any:
    return session.client(service, region_name=region, config=_CLIENT_CONFIG)


def _tags(items: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {item["Key"]: item.get("Value", "") for item in items or ()}


def _pages(client: Any, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    yield from client.get_paginator(operation).paginate(**kwargs)


@contextmanager
def _listing(what: str, region: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise _ListingFailed(f"could not list {what} in {region}: {_refusal(exc)}") from None


def _tagged_ec2(ec2: Any, owner: _Ownership, operation: str, items_key: str, id_key: str,
                extra_filters: Sequence[dict[str, Any]] = (), only_platform_tags: bool = False,
                ) -> Iterator[dict[str, Any]]:
    """Each EC2 resource carrying one of the ownership tags (or with `only_platform_tags`, all the platform's), once."""
    seen: set[str] = set()
    filter_sets = owner.ec2_filter_sets()
    for filters in filter_sets[-1:] if only_platform_tags else filter_sets:
        query = {"Filters": [*filters, *extra_filters]}
        # DescribePlacementGroups has no pagination: it answers with every group at once.
        pages = _pages(ec2, operation, **query) if ec2.can_paginate(operation) else [getattr(ec2, operation)(**query)]
        for page in pages:
            items = page.get(items_key, [])
            if items_key == "Reservations":
                items = [instance for reservation in items for instance in reservation.get("Instances", [])]
            for item in items:
                if item[id_key] not in seen:
                    seen.add(item[id_key])
                    yield item


def _find_instances(ec2: Any, region: str, owner: _Ownership) -> Iterator[SweptResource]:
    live = [{"Name": "instance-state-name", "Values": _LIVE_INSTANCE_STATES}]
    with _listing("instances", region):
        for instance in _tagged_ec2(ec2, owner, "describe_instances", "Reservations", "InstanceId", live):
            reason = owner.reason(_tags(instance.get("Tags")))
            if reason:
                detail = f"{instance.get('InstanceType')}, {instance.get('State', {}).get('Name')}"
                yield SweptResource(Kind.INSTANCE, instance["InstanceId"], region, reason, detail)


def _find_network_interfaces(ec2: Any, region: str, owner: _Ownership) -> Iterator[SweptResource]:
    with _listing("network interfaces", region):
        for interface in _tagged_ec2(ec2, owner, "describe_network_interfaces", "NetworkInterfaces",
                                     "NetworkInterfaceId"):
            if interface.get("RequesterManaged"):
                continue  # an AWS service's interface: only that service can delete it
            reason = owner.reason(_tags(interface.get("TagSet")))
            if reason:
                attached = interface.get("Attachment", {}).get("InstanceId")
                detail = interface.get("Status", "") + (f", attached to {attached}" if attached else "")
                yield SweptResource(Kind.NETWORK_INTERFACE, interface["NetworkInterfaceId"], region, reason, detail)


def _find_volumes(ec2: Any, region: str, owner: _Ownership) -> Iterator[SweptResource]:
    with _listing("EBS volumes", region):
        for volume in _tagged_ec2(ec2, owner, "describe_volumes", "Volumes", "VolumeId"):
            if volume.get("State") in ("deleting", "deleted"):
                continue
            reason = owner.reason(_tags(volume.get("Tags")))
            if reason:
                detail = f"{volume.get('Size')} GiB, {volume.get('State')}"
                yield SweptResource(Kind.VOLUME, volume["VolumeId"], region, reason, detail)


def _find_security_groups(ec2: Any, region: str, owner: _Ownership) -> Iterator[SweptResource]:
    with _listing("security groups", region):
        for group in _tagged_ec2(ec2, owner, "describe_security_groups", "SecurityGroups", "GroupId"):
            if group.get("GroupName") == "default":
                continue  # a VPC's default group cannot be deleted; it goes with its VPC
            reason = owner.reason(_tags(group.get("Tags")))
            if reason:
                yield SweptResource(Kind.SECURITY_GROUP, group["GroupId"], region, reason, group.get("GroupName", ""))


@dataclass(frozen=True)
class _NetworkListing:
    kind: Kind
    operation: str
    items_key: str
    id_key: str
    what: str
    tags_key: str = "Tags"


_NETWORK_LISTINGS = (
    _NetworkListing(Kind.NAT_GATEWAY, "describe_nat_gateways", "NatGateways", "NatGatewayId", "NAT gateways"),
    _NetworkListing(Kind.VPC_ENDPOINT, "describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId", "VPC endpoints"),
    _NetworkListing(Kind.ROUTE_TABLE, "describe_route_tables", "RouteTables", "RouteTableId", "route tables"),
    _NetworkListing(Kind.INTERNET_GATEWAY, "describe_internet_gateways", "InternetGateways", "InternetGatewayId",
                    "internet gateways"),
    _NetworkListing(Kind.SUBNET, "describe_subnets", "Subnets", "SubnetId", "subnets"),
    _NetworkListing(Kind.ELASTIC_IP, "describe_addresses", "Addresses", "AllocationId", "Elastic IPs"),
    _NetworkListing(Kind.VPC, "describe_vpcs", "Vpcs", "VpcId", "VPCs"),
)


def _find_network(ec2: Any, region: str, owner: _Ownership) -> Iterator[SweptResource]:
    """The network's plumbing carrying all of the platform's tags (see the module's docstring)."""
    if not owner.platform_tags:
        return
    for listing in _NETWORK_LISTINGS:
        with _listing(listing.what, region):
            for item in _tagged_ec2(ec2, owner, listing.operation, listing.items_key, listing.id_key,
                                    only_platform_tags=True):
                reason = owner.platform_reason(_tags(item.get(listing.tags_key)))
                if reason and _removable(listing.kind, item):
                    yield SweptResource(listing.kind, item[listing.id_key], region, reason, _network_detail(item))


def _removable(kind: Kind, item: Mapping[str, Any]) -> bool:
    if kind in (Kind.NAT_GATEWAY, Kind.VPC_ENDPOINT):
        return str(item.get("State", "")).lower() not in ("deleting", "deleted", "failed")
    if kind is Kind.ROUTE_TABLE:  # a VPC's main route table goes with its VPC, never on its own
        return not any(a.get("Main") for a in item.get("Associations", []))
    if kind is Kind.VPC:
        return not item.get("IsDefault")
    return True


def _network_detail(item: Mapping[str, Any]) -> str:
    parts = [_tags(item.get("Tags")).get("Name", ""), item.get("CidrBlock", ""), item.get("PublicIp", ""),
             item.get("VpcId", "") and f"in {item['VpcId']}"]
    return ", ".join(p for p in parts if p)


def _find_placement_groups(ec2: Any, region: str, owner: _Ownership) -> Iterator[SweptResource]:
    with _listing("placement groups", region):
        for group in _tagged_ec2(ec2, owner, "describe_placement_groups", "PlacementGroups", "GroupName"):
            if group.get("State") in ("deleting", "deleted"):
                continue
            reason = owner.reason(_tags(group.get("Tags")))
            if reason:
                yield SweptResource(Kind.PLACEMENT_GROUP, group["GroupName"], region, reason,
                                    group.get("Strategy", ""))


def _find_sagemaker_endpoints(sagemaker: Any, region: str, owner: _Ownership) -> Iterator[SweptResource]:
    # ListEndpoints cannot filter by tag: list them, then read each one's tags. One being deleted is as good as gone.
    with _listing("SageMaker endpoints", region):
        for page in _pages(sagemaker, "list_endpoints"):
            for endpoint in page.get("Endpoints", []):
                if endpoint.get("EndpointStatus") == "Deleting":
                    continue
                try:
                    tags = sagemaker.list_tags(ResourceArn=endpoint["EndpointArn"]).get("Tags", [])
                except ClientError as exc:
                    if _code(exc) in _GONE or _code(exc) == "ValidationException":  # deleted since it was listed
                        continue
                    raise
                reason = owner.reason(_tags(tags))
                if reason:
                    yield SweptResource(Kind.SAGEMAKER_ENDPOINT, endpoint["EndpointName"], region, reason,
                                        endpoint.get("EndpointStatus", ""))


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _find_elbv2(elbv2: Any, region: str, owner: _Ownership, kind: Kind) -> Iterator[SweptResource]:
    # ELBv2 cannot filter by tag: list everything, then read tags 20 at a time.
    noun = "LoadBalancer" if kind is Kind.LOAD_BALANCER else "TargetGroup"
    what = "load balancers" if kind is Kind.LOAD_BALANCER else "target groups"
    operation, items_key = ("describe_load_balancers", "LoadBalancers") if kind is Kind.LOAD_BALANCER else (
        "describe_target_groups", "TargetGroups")
    with _listing(what, region):
        names = {item[f"{noun}Arn"]: item.get(f"{noun}Name", "")
                 for page in _pages(elbv2, operation) for item in page.get(items_key, [])}
        for arns in _chunks(sorted(names), _TAGS_PER_DESCRIBE):
            for description in _describe_tags(elbv2, "ResourceArns", arns, "ResourceArn"):
                reason = owner.reason(_tags(description.get("Tags")))
                if reason:
                    arn = description["ResourceArn"]
                    yield SweptResource(kind, arn, region, reason, names.get(arn, ""))


def _find_classic_load_balancers(elb: Any, region: str, owner: _Ownership) -> Iterator[SweptResource]:
    # The cloud provider makes classic load balancers for Services of type LoadBalancer without an NLB annotation.
    with _listing("classic load balancers", region):
        names = [lb["LoadBalancerName"] for page in _pages(elb, "describe_load_balancers")
                 for lb in page.get("LoadBalancerDescriptions", [])]
        for chunk in _chunks(sorted(names), _TAGS_PER_DESCRIBE):
            for description in _describe_tags(elb, "LoadBalancerNames", chunk, "LoadBalancerName"):
                reason = owner.reason(_tags(description.get("Tags")))
                if reason:
                    yield SweptResource(Kind.CLASSIC_LOAD_BALANCER, description["LoadBalancerName"], region, reason)


def _describe_tags(client: Any, parameter: str, ids: list[str], id_key: str) -> list[dict[str, Any]]:
    """DescribeTags of ELB/ELBv2, which fails as a whole when one resource vanished since it was listed: then one
    by one, skipping the vanished."""
    try:
        return client.describe_tags(**{parameter: ids}).get("TagDescriptions", [])
    except ClientError as exc:
        if _code(exc) not in _GONE:
            raise
    out = []
    for one in ids:
        try:
            out.extend(client.describe_tags(**{parameter: [one]}).get("TagDescriptions", []))
        except ClientError as exc:
            if _code(exc) not in _GONE:
                raise
    return [d for d in out if d.get(id_key)]


def _find_log_groups(logs: Any, region: str, cluster_name: str) -> Iterator[SweptResource]:
    eks_group = _EKS_LOG_GROUP.format(cluster=cluster_name)
    insights_prefix = _CONTAINER_INSIGHTS_PREFIX.format(cluster=cluster_name)
    with _listing("log groups", region):
        for page in _pages(logs, "describe_log_groups", logGroupNamePrefix=eks_group):
            for group in page.get("logGroups", []):
                if group["logGroupName"] == eks_group:  # the prefix alone would also match .../clusterXYZ
                    yield SweptResource(Kind.LOG_GROUP, eks_group, region, "name: EKS control plane logs")
        for page in _pages(logs, "describe_log_groups", logGroupNamePrefix=insights_prefix):
            for group in page.get("logGroups", []):
                yield SweptResource(Kind.LOG_GROUP, group["logGroupName"], region,
                                    f"name under {insights_prefix} (Container Insights)")


# --------------------------------------------------------------------------------------------------------- deleting


def execute_sweep(session: boto3.Session, plan: SweepPlan, progress: Callable[[str], None],
                  timings: SweepTimings = SweepTimings()) -> SweepResult:
    """Delete what `plan` lists, in dependency order, then list again: whatever still matches is left.

    A resource AWS refuses to delete does not stop the sweep; it ends up in `left`, with the reason and the command
    that removes it by hand. Raises MlplatError only when the final listing itself fails."""
    if plan.is_empty:
        return SweepResult((), ())
    run = _SweepRun(session, plan, progress, timings)
    run.terminate_instances()
    run.delete_simple(Kind.SAGEMAKER_ENDPOINT, "SageMaker endpoint",
                      lambda r: run.sagemaker.delete_endpoint(EndpointName=r.id))
    run.delete_load_balancers()
    run.delete_target_groups()
    run.delete_nat_gateways()
    run.delete_vpc_endpoints()
    run.delete_network_interfaces()
    run.delete_volumes()
    run.delete_security_groups()
    run.delete_route_tables()
    run.delete_internet_gateways()
    run.delete_with_retries(run.plan.of_kind(Kind.SUBNET), "subnet", "DependencyViolation",
                            lambda r: run.ec2.delete_subnet(SubnetId=r.id))
    run.release_addresses()
    run.delete_with_retries(run.plan.of_kind(Kind.VPC), "VPC", "DependencyViolation",
                            lambda r: run.ec2.delete_vpc(VpcId=r.id))
    run.delete_simple(Kind.LOG_GROUP, "log group", lambda r: run.logs.delete_log_group(logGroupName=r.id))
    run.delete_simple(Kind.PLACEMENT_GROUP, "placement group", lambda r: run.ec2.delete_placement_group(GroupName=r.id))
    return run.verify()


@dataclass(frozen=True)
class _Refusal:
    code: str
    message: str

    def __str__(self) -> str:
        return f"AWS answered {self.code}: {self.message}" if self.message else f"AWS answered {self.code}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _refusal(exc: ClientError | BotoCoreError) -> _Refusal:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return _Refusal(str(error.get("Code") or "UnknownError"), str(error.get("Message") or ""))
    return _Refusal(type(exc).__name__, str(exc))


def _call(action: Callable[[], Any]) -> _Refusal | None:
    """One AWS call; None when it succeeded, else what AWS said."""
    try:
        action()
    except (ClientError, BotoCoreError) as exc:
        return _refusal(exc)
    return None


class _SweepRun:
    """State of one execute_sweep: the clients, and why each resource that could not be deleted was not."""

    def __init__(self, session: boto3.Session, plan: SweepPlan, progress: Callable[[str], None],
                 timings: SweepTimings) -> None:
        self.session = session
        self.plan = plan
        self.progress = progress
        self.timings = timings
        self.ec2 = _client(session, "ec2", plan.region)
        self.elb = _client(session, "elb", plan.region)
        self.elbv2 = _client(session, "elbv2", plan.region)
        self.logs = _client(session, "logs", plan.region)
        self.sagemaker = _client(session, "sagemaker", plan.region)
        self.problems: dict[tuple[Kind, str], str] = {}
        self.terminated: set[str] = set()

    def note(self, resource: SweptResource, problem: str) -> None:
        self.problems[resource.key] = problem
        self.progress(f"  could not remove {resource.kind} {resource.id}: {problem}")

    def wait_until(self, what: str, pending: Callable[[], set[str]]) -> set[str]:
        """Poll `pending` (ids not yet in the wanted state) until it is empty or the timeout passes; the ids still
        pending. A poll AWS refuses ends the wait early: the deletions that follow, and the verification, say what
        is left."""
        deadline = time.monotonic() + self.timings.wait_timeout_seconds
        self.progress(f"waiting for {what} (up to {self.timings.wait_timeout_seconds:g}s)")
        while True:
            try:
                left = pending()
            except (ClientError, BotoCoreError) as exc:
                self.progress(f"  could not check {what}: {_refusal(exc)}")
                return set()
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(self.timings.poll_interval_seconds)

    # -- instances

    def terminate_instances(self) -> None:
        instances = self.plan.of_kind(Kind.INSTANCE)
        if not instances:
            return
        by_id = {r.id: r for r in instances}
        self.progress(f"terminating {len(instances)} instance(s): {', '.join(by_id)}")
        for batch in _chunks(sorted(by_id), _TERMINATE_BATCH):
            if _call(lambda: self.ec2.terminate_instances(InstanceIds=batch)) is None:
                self.terminated.update(batch)
                continue
            for instance_id in batch:  # one refusal fails the whole batch: find which one
                refusal = _call(lambda: self.ec2.terminate_instances(InstanceIds=[instance_id]))
                if refusal is None or refusal.code in _GONE:
                    self.terminated.add(instance_id)
                else:
                    self.note(by_id[instance_id], str(refusal))
        if not self.terminated:
            return
        still = self.wait_until(f"{len(self.terminated)} instance(s) to terminate",
                                lambda: self.instances_not_in_state(self.terminated, {"terminated"}))
        for instance_id in sorted(still & set(by_id)):
            self.note(by_id[instance_id], f"not terminated after {self.timings.wait_timeout_seconds:g}s")

    def instance_states(self, instance_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(instance_ids))
        states: dict[str, str] = {}
        for chunk in _chunks(ids, 200):  # a filter takes at most 200 values
            for page in _pages(self.ec2, "describe_instances", Filters=[{"Name": "instance-id", "Values": chunk}]):
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        states[instance["InstanceId"]] = instance.get("State", {}).get("Name", "")
        return states

    def instances_not_in_state(self, instance_ids: set[str], wanted: set[str]) -> set[str]:
        states = self.instance_states(instance_ids)
        return {i for i in instance_ids if i in states and states[i] not in wanted}

    # -- load balancers and target groups

    def delete_load_balancers(self) -> None:
        for resource in self.plan.of_kind(Kind.CLASSIC_LOAD_BALANCER):
            self.delete_one(resource, "classic load balancer",
                            lambda r=resource: self.elb.delete_load_balancer(LoadBalancerName=r.id))
        deleting = {r.id for r in self.plan.of_kind(Kind.LOAD_BALANCER)
                    if self.delete_one(r, "load balancer",
                                       lambda r=r: self.elbv2.delete_load_balancer(LoadBalancerArn=r.id))}
        if deleting:
            # Target groups stay "in use" until their load balancer's listeners are gone.
            self.wait_until(f"{len(deleting)} load balancer(s) to go", lambda: self.elbv2_arns_present(deleting))

    def elbv2_arns_present(self, arns: set[str]) -> set[str]:
        present = {lb["LoadBalancerArn"] for page in _pages(self.elbv2, "describe_load_balancers")
                   for lb in page.get("LoadBalancers", [])}
        return arns & present

    def delete_target_groups(self) -> None:
        groups = self.plan.of_kind(Kind.TARGET_GROUP)
        self.delete_with_retries(groups, "target group", "ResourceInUse",
                                 lambda r: self.elbv2.delete_target_group(TargetGroupArn=r.id))

    # -- network interfaces and volumes

    def delete_network_interfaces(self) -> None:
        planned = {r.id: r for r in self.plan.of_kind(Kind.NETWORK_INTERFACE)}
        if not planned:
            return
        try:
            interfaces = self.describe_interfaces(planned)
        except (ClientError, BotoCoreError) as exc:
            for resource in planned.values():
                self.note(resource, f"could not read the network interface: {_refusal(exc)}")
            return
        attached_to = {eni_id: eni["Attachment"] for eni_id, eni in interfaces.items()
                       if eni.get("Attachment", {}).get("InstanceId")}
        live = self.live_instances(a["InstanceId"] for a in attached_to.values())
        for eni_id, attachment in sorted(attached_to.items()):
            instance_id = attachment["InstanceId"]
            if instance_id in live and instance_id not in self.terminated:
                self.note(planned[eni_id], f"attached to instance {instance_id}, which the sweep does not own")
            elif attachment.get("DeviceIndex", 0) != 0 and attachment.get("Status") != "detaching":
                # Its instance is gone; release the attachment rather than wait on it.
                refusal = _call(lambda: self.ec2.detach_network_interface(
                    AttachmentId=attachment["AttachmentId"], Force=True))
                if refusal is not None and refusal.code not in _GONE:
                    self.progress(f"  detaching {eni_id} from {instance_id}: {refusal}")
        waiting = {i for i in planned if planned[i].key not in self.problems}
        self.wait_until(f"{len(waiting)} network interface(s) to be available",
                        lambda: self.interfaces_not_available(waiting))
        for eni_id in sorted(waiting):
            self.delete_one(planned[eni_id], "network interface",
                            lambda i=eni_id: self.ec2.delete_network_interface(NetworkInterfaceId=i))

    def live_instances(self, instance_ids: Iterable[str]) -> set[str]:
        ids = set(instance_ids)
        if not ids:
            return set()
        try:
            states = self.instance_states(ids)
        except (ClientError, BotoCoreError):
            return ids  # unknown counts as alive: never detach from what may still run
        return {i for i, state in states.items() if state not in ("terminated", "shutting-down")}

    def describe_interfaces(self, eni_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        interfaces: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(eni_ids)), 200):  # a filter takes at most 200 values
            for page in _pages(self.ec2, "describe_network_interfaces",
                               Filters=[{"Name": "network-interface-id", "Values": chunk}]):
                interfaces.update({e["NetworkInterfaceId"]: e for e in page.get("NetworkInterfaces", [])})
        return interfaces

    def interfaces_not_available(self, eni_ids: set[str]) -> set[str]:
        return {i for i, eni in self.describe_interfaces(eni_ids).items() if eni.get("Status") != "available"}

    def delete_volumes(self) -> None:
        planned = {r.id: r for r in self.plan.of_kind(Kind.VOLUME)}
        if not planned:
            return
        try:
            volumes = self.describe_volumes(set(planned))
        except (ClientError, BotoCoreError) as exc:
            for resource in planned.values():
                self.note(resource, f"could not read the volume: {_refusal(exc)}")
            return
        holders = {v: {a.get("InstanceId", "") for a in vol.get("Attachments", [])} for v, vol in volumes.items()}
        live = self.live_instances(i for ids in holders.values() for i in ids if i)
        for volume_id, instance_ids in sorted(holders.items()):
            foreign = sorted(i for i in instance_ids if i in live and i not in self.terminated)
            if foreign:  # never detach a volume from a running instance: its data is in use
                self.note(planned[volume_id],
                          f"attached to instance {', '.join(foreign)}, which the sweep does not own")
        waiting = {v for v in planned if planned[v].key not in self.problems}
        self.wait_until(f"{len(waiting)} volume(s) to be available", lambda: {
            v for v, vol in self.describe_volumes(waiting).items() if vol.get("State") != "available"})
        for volume_id in sorted(waiting):
            self.delete_one(planned[volume_id], "volume", lambda v=volume_id: self.ec2.delete_volume(VolumeId=v))

    def describe_volumes(self, volume_ids: set[str]) -> dict[str, dict[str, Any]]:
        volumes: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(volume_ids), 200):
            for page in _pages(self.ec2, "describe_volumes", Filters=[{"Name": "volume-id", "Values": chunk}]):
                volumes.update({v["VolumeId"]: v for v in page.get("Volumes", [])})
        return volumes

    # -- security groups

    def delete_security_groups(self) -> None:
        groups = self.plan.of_kind(Kind.SECURITY_GROUP)
        if not groups:
            return
        self.revoke_references_between({r.id for r in groups})
        self.delete_with_retries(groups, "security group", "DependencyViolation",
                                 lambda r: self.ec2.delete_security_group(GroupId=r.id))

    def revoke_references_between(self, group_ids: set[str]) -> None:
        """Rules of one swept group that name another keep that other from being deleted (DependencyViolation),
        and two groups naming each other would block both forever. Both go, so the rules go first."""
        try:
            rules = [rule for chunk in _chunks(sorted(group_ids), 200)
                     for page in _pages(self.ec2, "describe_security_group_rules",
                                        Filters=[{"Name": "group-id", "Values": chunk}])
                     for rule in page.get("SecurityGroupRules", [])]
        except (ClientError, BotoCoreError) as exc:
            self.progress(f"  could not read the security groups' rules ({_refusal(exc)}); deleting them as they are")
            return
        crossing: dict[tuple[str, bool], list[str]] = {}
        for rule in rules:
            referenced = rule.get("ReferencedGroupInfo", {}).get("GroupId")
            if referenced in group_ids and referenced != rule["GroupId"]:
                side = (rule["GroupId"], bool(rule.get("IsEgress")))
                crossing.setdefault(side, []).append(rule["SecurityGroupRuleId"])
        for (group_id, egress), rule_ids in sorted(crossing.items()):
            revoke = self.ec2.revoke_security_group_egress if egress else self.ec2.revoke_security_group_ingress
            refusal = _call(lambda: revoke(GroupId=group_id, SecurityGroupRuleIds=rule_ids))
            if refusal is not None:
                self.progress(f"  could not remove the rules of {group_id} that name other swept groups: {refusal}")

    # -- the network's plumbing

    def delete_nat_gateways(self) -> None:
        gateways = {r.id: r for r in self.plan.of_kind(Kind.NAT_GATEWAY)}
        deleting = {i for i, r in gateways.items()
                    if self.delete_one(r, "NAT gateway", lambda i=i: self.ec2.delete_nat_gateway(NatGatewayId=i))}
        if deleting:  # its interface holds the subnet, and its Elastic IP stays associated, until it is deleted
            still = self.wait_until(f"{len(deleting)} NAT gateway(s) to be deleted", lambda: {
                g["NatGatewayId"] for page in _pages(self.ec2, "describe_nat_gateways",
                                                     Filters=[{"Name": "nat-gateway-id", "Values": sorted(deleting)}])
                for g in page.get("NatGateways", []) if g.get("State") != "deleted"})
            for gateway_id in sorted(still):
                self.note(gateways[gateway_id], f"not deleted after {self.timings.wait_timeout_seconds:g}s")

    def delete_vpc_endpoints(self) -> None:
        endpoints = {r.id: r for r in self.plan.of_kind(Kind.VPC_ENDPOINT)}
        if not endpoints:
            return
        try:
            answer = self.ec2.delete_vpc_endpoints(VpcEndpointIds=sorted(endpoints))
        except (ClientError, BotoCoreError) as exc:
            for resource in endpoints.values():
                self.note(resource, str(_refusal(exc)))
            return
        refused = {item.get("ResourceId", ""): item.get("Error", {}) for item in answer.get("Unsuccessful", [])}
        for endpoint_id, resource in sorted(endpoints.items()):
            error = refused.get(endpoint_id)
            self.deleted(resource, "VPC endpoint",
                         None if error is None else _Refusal(str(error.get("Code", "")), str(error.get("Message", ""))))
        deleting = {i for i in endpoints if endpoints[i].key not in self.problems}
        if deleting:  # an interface endpoint's interfaces hold its subnets and security groups until it is gone
            self.wait_until(f"{len(deleting)} VPC endpoint(s) to be deleted",
                            lambda: {i for i in deleting if self.endpoint_present(i)})

    def endpoint_present(self, endpoint_id: str) -> bool:
        """Whether the endpoint is still there (a deleted one is listed for a while as `deleted`, then not found)."""
        try:
            endpoints = self.ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id]).get("VpcEndpoints", [])
        except ClientError as exc:
            if _code(exc) in _GONE:
                return False
            raise
        return any(str(e.get("State", "")).lower() != "deleted" for e in endpoints)

    def delete_route_tables(self) -> None:
        self.detach_then_delete(Kind.ROUTE_TABLE, "route table", self.disassociate_route_table,
                                "could not remove its subnet associations",
                                lambda r: self.ec2.delete_route_table(RouteTableId=r.id))

    def disassociate_route_table(self, route_table_id: str) -> None:
        for table in self.ec2.describe_route_tables(RouteTableIds=[route_table_id]).get("RouteTables", []):
            for association in table.get("Associations", []):
                if not association.get("Main"):
                    self.ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])

    def delete_internet_gateways(self) -> None:
        self.detach_then_delete(Kind.INTERNET_GATEWAY, "internet gateway", self.detach_internet_gateway,
                                "could not detach it from its VPC",
                                lambda r: self.ec2.delete_internet_gateway(InternetGatewayId=r.id))

    def detach_then_delete(self, kind: Kind, noun: str, detach: Callable[[str], None], problem: str,
                           delete: Callable[[SweptResource], Any]) -> None:
        """What holds on to others (a route table's subnet associations, a gateway's VPC attachment) is released
        first; a release AWS refuses leaves that resource, noted."""
        for resource in self.plan.of_kind(kind):
            refusal = _call(lambda r=resource: detach(r.id))
            if refusal is not None and refusal.code not in _GONE:
                self.note(resource, f"{problem}: {refusal}")
                continue
            self.delete_one(resource, noun, lambda r=resource: delete(r))

    def detach_internet_gateway(self, gateway_id: str) -> None:
        for gateway in self.ec2.describe_internet_gateways(InternetGatewayIds=[gateway_id]).get("InternetGateways", []):
            for attachment in gateway.get("Attachments", []):
                self.ec2.detach_internet_gateway(InternetGatewayId=gateway_id, VpcId=attachment["VpcId"])

    def release_addresses(self) -> None:
        addresses = self.plan.of_kind(Kind.ELASTIC_IP)
        if not addresses:
            return
        try:
            described = {a["AllocationId"]: a for a in self.ec2.describe_addresses(
                AllocationIds=[r.id for r in addresses]).get("Addresses", [])}
        except (ClientError, BotoCoreError) as exc:
            if not isinstance(exc, ClientError) or _code(exc) not in _GONE:
                for resource in addresses:
                    self.note(resource, f"could not read the address: {_refusal(exc)}")
                return
            described = {}
        for resource in addresses:
            holder = described.get(resource.id, {}).get("AssociationId")
            if holder:  # never take an address from what still uses it (a NAT gateway the sweep does not own)
                owner = described[resource.id].get("NetworkInterfaceId") or described[resource.id].get("InstanceId")
                self.note(resource, f"still associated ({owner}), which the sweep does not own")
        self.delete_with_retries(addresses, "Elastic IP", "InvalidIPAddress.InUse",
                                 lambda r: self.ec2.release_address(AllocationId=r.id))

    # -- generic

    def delete_one(self, resource: SweptResource, noun: str, action: Callable[[], Any]) -> bool:
        """True when deleted (or already gone)."""
        return self.deleted(resource, noun, _call(action))

    def deleted(self, resource: SweptResource, noun: str, refusal: _Refusal | None) -> bool:
        """Report one delete call; True when the resource is gone (now, or already: its instance took it along)."""
        if refusal is None:
            self.progress(f"deleted {noun} {resource.id}")
            return True
        if refusal.code in _GONE:
            self.progress(f"{noun} {resource.id} already gone")
            return True
        self.note(resource, str(refusal))
        return False

    def delete_simple(self, kind: Kind, noun: str, delete: Callable[[SweptResource], Any]) -> None:
        for resource in self.plan.of_kind(kind):
            self.delete_one(resource, noun, lambda r=resource: delete(r))

    def delete_with_retries(self, resources: Sequence[SweptResource], noun: str, busy_code: str,
                            delete: Callable[[SweptResource], Any]) -> None:
        """Delete in rounds: what AWS calls busy (still used by something going away) is tried again, a bounded
        number of times."""
        pending = [r for r in resources if r.key not in self.problems]
        last_busy: dict[tuple[Kind, str], _Refusal] = {}
        for attempt in range(1, self.timings.dependency_attempts + 1):
            busy = []
            for resource in pending:
                refusal = _call(lambda r=resource: delete(r))
                if refusal is not None and refusal.code == busy_code:
                    busy.append(resource)
                    last_busy[resource.key] = refusal
                else:
                    self.deleted(resource, noun, refusal)
            pending = busy
            if not pending:
                return
            if attempt < self.timings.dependency_attempts:
                self.progress(f"{len(pending)} {noun}(s) still in use ({', '.join(r.id for r in pending)}); "
                              f"retrying in {self.timings.dependency_retry_seconds:g}s "
                              f"(attempt {attempt + 1} of {self.timings.dependency_attempts})")
                time.sleep(self.timings.dependency_retry_seconds)
        for resource in pending:
            self.note(resource, f"still in use after {self.timings.dependency_attempts} attempt(s) "
                                f"({last_busy[resource.key]})")

    # -- verification

    def verify(self) -> SweepResult:
        self.progress("checking that nothing of the cluster is left")
        owner = _Ownership(self.plan.cluster_name, self.plan.platform_tags)
        planned = {r.key for r in self.plan.resources}
        try:
            remaining = _find(self.session, self.plan.region, owner)
            if self.plan.partial:
                remaining = tuple(r for r in remaining if r.key in planned)
        except _ListingFailed as exc:
            unverified = [Leftover(r, self.problems.get(r.key, "not checked"), _manual_fix(r))
                          for r in self.plan.resources]
            lines = [f"the sweep ran, but {exc}, so it could not check what is left; "
                     f"check these {len(unverified)} resource(s):"] + [f"  - {leftover}" for leftover in unverified]
            raise MlplatError("\n".join(lines)) from None
        left = []
        for resource in remaining:
            if resource.key in self.problems:
                problem = self.problems[resource.key]
            elif resource.key in planned:
                problem = "still there after the sweep"
            else:
                problem = "appeared during the sweep (something still creates it)"
            left.append(Leftover(resource, problem, _manual_fix(resource)))
        left_keys = {leftover.resource.key for leftover in left}
        removed = tuple(r for r in self.plan.resources if r.key not in left_keys)
        result = SweepResult(removed, tuple(left))
        self.progress(result.summary())
        return result


def _manual_fix(resource: SweptResource) -> str:
    r, i = resource.region, resource.id
    commands = {
        Kind.INSTANCE: f"if it has termination protection: aws ec2 modify-instance-attribute --region {r} "
                       f"--instance-id {i} --no-disable-api-termination; then aws ec2 terminate-instances "
                       f"--region {r} --instance-ids {i}",
        Kind.SAGEMAKER_ENDPOINT: f"aws sagemaker delete-endpoint --region {r} --endpoint-name {i}",
        Kind.CLASSIC_LOAD_BALANCER: f"aws elb delete-load-balancer --region {r} --load-balancer-name {i}",
        Kind.LOAD_BALANCER: f"if it has deletion protection: aws elbv2 modify-load-balancer-attributes --region {r} "
                            f"--load-balancer-arn {i} --attributes Key=deletion_protection.enabled,Value=false; then "
                            f"aws elbv2 delete-load-balancer --region {r} --load-balancer-arn {i}",
        Kind.TARGET_GROUP: f"delete the listeners or rules that forward to it, then aws elbv2 delete-target-group "
                           f"--region {r} --target-group-arn {i}",
        Kind.NETWORK_INTERFACE: f"if it is attached: aws ec2 detach-network-interface --region {r} --attachment-id "
                                f"<its attachment id>; then aws ec2 delete-network-interface --region {r} "
                                f"--network-interface-id {i}",
        Kind.VOLUME: f"copy out what you need; if it is attached: aws ec2 detach-volume --region {r} --volume-id {i}; "
                     f"then aws ec2 delete-volume --region {r} --volume-id {i}",
        Kind.SECURITY_GROUP: f"find what still uses it (aws ec2 describe-network-interfaces --region {r} --filters "
                             f"Name=group-id,Values={i}; rules of other groups that name it), remove that, then "
                             f"aws ec2 delete-security-group --region {r} --group-id {i}",
        Kind.NAT_GATEWAY: f"aws ec2 delete-nat-gateway --region {r} --nat-gateway-id {i}",
        Kind.VPC_ENDPOINT: f"aws ec2 delete-vpc-endpoints --region {r} --vpc-endpoint-ids {i}",
        Kind.ROUTE_TABLE: f"aws ec2 disassociate-route-table --region {r} --association-id <each subnet association>; "
                          f"then aws ec2 delete-route-table --region {r} --route-table-id {i}",
        Kind.INTERNET_GATEWAY: f"aws ec2 detach-internet-gateway --region {r} --internet-gateway-id {i} --vpc-id "
                               f"<its VPC>; then aws ec2 delete-internet-gateway --region {r} "
                               f"--internet-gateway-id {i}",
        Kind.SUBNET: f"find what still uses it (aws ec2 describe-network-interfaces --region {r} --filters "
                     f"Name=subnet-id,Values={i}), remove that, then aws ec2 delete-subnet --region {r} "
                     f"--subnet-id {i}",
        Kind.ELASTIC_IP: f"aws ec2 disassociate-address --region {r} --association-id <its association>; then "
                         f"aws ec2 release-address --region {r} --allocation-id {i}",
        Kind.VPC: f"remove what is still in it (aws ec2 describe-network-interfaces --region {r} --filters "
                  f"Name=vpc-id,Values={i}), then aws ec2 delete-vpc --region {r} --vpc-id {i}",
        Kind.LOG_GROUP: f"aws logs delete-log-group --region {r} --log-group-name {i}",
        Kind.PLACEMENT_GROUP: f"terminate the instances in it, then aws ec2 delete-placement-group --region {r} "
                              f"--group-name {i}",
    }
    return "remove it by hand: " + commands[resource.kind]


def orphans_of(plan: SweepPlan, tracked: Iterable[str]) -> SweepPlan:
    """What must go before terraform destroys the platform's network: the plumbing and security groups carrying the
    platform's tags that terraform's state does not hold (`tracked`: every id in it), which only an interrupted
    create leaves. Instances, interfaces and volumes are left out: the system node group's carry the platform's tags
    and go with it."""
    known = set(tracked)
    return SweepPlan(plan.cluster_name, plan.region, plan.platform_tags, tuple(
        r for r in plan.resources
        if r.kind in NETWORK_KINDS and r.reason.startswith(_PLATFORM_REASON) and r.id not in known), partial=True)


def _leftover_message(headline: str, left: Sequence[Leftover]) -> str:
    lines = [f"{headline}; {len(left)} resource(s) left:"] + [f"  - {leftover}" for leftover in left]
    return "\n".join(lines)
