"""The AWS sweep (mlplat/sweep.py) against the embedded AWS: it finds exactly what the cluster's controllers left,
deletes it in dependency order, checks it is gone, and leaves everything else alone.

Resources are seeded the way their makers tag them (Karpenter, the EBS CSI driver, the VPC CNI, the AWS Load
Balancer Controller, the Kubernetes AWS cloud provider, EKS, the platform's own default tags), next to look-alikes
that must survive: untagged, another cluster's, `shared` instead of `owned`, a Name that merely contains the cluster's
name, a tag key or log group name that only starts like it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from mlplat.aws import new_botocore_session
from mlplat.emulator import LocalAws
from mlplat.errors import MlplatError
from mlplat.sweep import Kind, SweepPlan, SweepResult, SweepTimings, execute_sweep, orphans_of, plan_sweep

from .support import REGION, ClientFactory, create_network

AMI = "ami-12c6146b"  # one of moto's stock images
FAST = SweepTimings(poll_interval_seconds=0.01, wait_timeout_seconds=5.0, dependency_attempts=3,
                    dependency_retry_seconds=0.01)
CLUSTER = "sweep-a"
PLATFORM_TAGS = {"Platform": CLUSTER, "ManagedBy": "mlplat", "team": "ml"}  # as stacks/providers.py default_tags


# --- a boto3 session for the emulator -----------------------------------------------------------------------------


def aws_answer(status: int, body: Mapping[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """A botocore before-call answer: the call is not sent, this is what it returned."""
    return AWSResponse(None, status, {}, None), {**body, "ResponseMetadata": {"HTTPStatusCode": status}}


def aws_error(status: int, code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    return aws_answer(status, {"Error": {"Code": code, "Message": message}})


class EmulatorSession(boto3.Session):
    """A boto3 session whose clients reach the emulator (what `plan_sweep`/`execute_sweep` take)."""

    def __init__(self, aws: LocalAws) -> None:
        super().__init__(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=aws.region,
                         botocore_session=new_botocore_session())
        self._endpoint = aws.endpoint

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("endpoint_url", self._endpoint)
        return super().client(service_name, *args, **kwargs)


def calls_to(session: boto3.Session, event: str) -> list[dict[str, Any]]:
    """Parameters of each call of one operation made by clients the session creates from now on."""
    seen: list[dict[str, Any]] = []
    session.events.register(f"before-parameter-build.{event}", lambda params, **_: seen.append(dict(params)))
    return seen


# --- seeding ------------------------------------------------------------------------------------------------------


def tag_spec(resource_type: str, tags: Mapping[str, str]) -> dict[str, Any]:
    return {"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def tagging(resource_type: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """TagSpecifications for a create call, or nothing for an untagged resource."""
    return {"TagSpecifications": [tag_spec(resource_type, tags)]} if tags else {}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def karpenter_tags(cluster: str, pool: str) -> dict[str, str]:
    """What Karpenter v1 puts on an instance (and its volumes and interfaces) besides the EC2NodeClass's tags."""
    return {f"kubernetes.io/cluster/{cluster}": "owned", "karpenter.sh/nodepool": pool,
            "eks:eks-cluster-name": cluster, "karpenter.k8s.aws/ec2nodeclass": pool}


def ebs_csi_tags(cluster: str, pvc: str) -> dict[str, str]:
    """What the EBS CSI driver puts on a volume when run with --k8s-tag-cluster-id."""
    return {"CSIVolumeName": pvc, "ebs.csi.aws.com/cluster": "true", f"kubernetes.io/cluster/{cluster}": "owned",
            "KubernetesCluster": cluster, "ebs.csi.aws.com/cluster-name": cluster, "Name": f"{cluster}-dynamic-{pvc}"}


def lbc_tags(cluster: str, resource: str) -> dict[str, str]:
    """What the AWS Load Balancer Controller puts on what it makes for a Service."""
    return {"elbv2.k8s.aws/cluster": cluster, "service.k8s.aws/stack": "argocd/argo-cd-server",
            "service.k8s.aws/resource": resource}


class Seeder:
    """Creates resources and records their ids under `owned` (the sweep must remove them) or `others` (it must not)."""

    def __init__(self, session: EmulatorSession, client: ClientFactory, second_octet: int) -> None:
        self.session = session
        self.ec2, self.elbv2, self.elb, self.logs = client("ec2"), client("elbv2"), client("elb"), client("logs")
        self.sagemaker = client("sagemaker")
        self.network = create_network(client, second_octet)
        self.subnet = self.network.subnet_ids[0]
        self.owned: dict[str, list[str]] = {}
        self.others: dict[str, list[str]] = {}
        self.primaries: list[str] = []  # primary interfaces of tagged instances: they go with their instance
        self._names = itertools.count(1)

    def record(self, owned: bool, kind: Kind, resource_id: str) -> str:
        (self.owned if owned else self.others).setdefault(str(kind), []).append(resource_id)
        return resource_id

    def unique(self, prefix: str) -> str:
        """Load balancer, target group and security group names are unique per account (or VPC)."""
        return f"{prefix}-{self.network.vpc_id[-6:]}-{next(self._names)}"

    def instance(self, owned: bool, tags: Mapping[str, str]) -> dict[str, Any]:
        specs = {"TagSpecifications": [tag_spec("instance", tags), tag_spec("volume", tags),
                                       tag_spec("network-interface", tags)]} if tags else {}
        instance = self.ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m7i.xlarge",
                                          SubnetId=self.subnet, **specs)["Instances"][0]
        self.record(owned, Kind.INSTANCE, instance["InstanceId"])
        root_volume = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        if tags:  # the root volume and primary interface carry the instance's tags (TagSpecifications)
            self.record(owned, Kind.VOLUME, root_volume)
            primary = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
            self.record(owned, Kind.NETWORK_INTERFACE, primary)
            self.primaries.append(primary)
        return instance

    def interface(self, owned: bool, tags: Mapping[str, str], **extra: Any) -> str:
        eni = self.ec2.create_network_interface(SubnetId=self.subnet, **tagging("network-interface", tags), **extra)
        return self.record(owned, Kind.NETWORK_INTERFACE, eni["NetworkInterface"]["NetworkInterfaceId"])

    def volume(self, owned: bool, tags: Mapping[str, str]) -> str:
        volume = self.ec2.create_volume(Size=20, AvailabilityZone=f"{REGION}a", VolumeType="gp3",
                                        **tagging("volume", tags))
        return self.record(owned, Kind.VOLUME, volume["VolumeId"])

    def security_group(self, owned: bool, name: str, tags: Mapping[str, str]) -> str:
        group = self.ec2.create_security_group(GroupName=self.unique(name), Description="sweep test",
                                               VpcId=self.network.vpc_id, **tagging("security-group", tags))
        return self.record(owned, Kind.SECURITY_GROUP, group["GroupId"])

    def load_balancer(self, owned: bool, name: str, tags: Mapping[str, str]) -> str:
        created = self.elbv2.create_load_balancer(Name=self.unique(name), Subnets=[self.subnet], Type="network",
                                                  Scheme="internal", **({"Tags": tag_list(tags)} if tags else {}))
        return self.record(owned, Kind.LOAD_BALANCER, created["LoadBalancers"][0]["LoadBalancerArn"])

    def target_group(self, owned: bool, name: str, tags: Mapping[str, str], forwarded_from: str | None = None) -> str:
        created = self.elbv2.create_target_group(Name=self.unique(name), Protocol="TCP", Port=443,
                                                 VpcId=self.network.vpc_id, TargetType="instance",
                                                 **({"Tags": tag_list(tags)} if tags else {}))
        arn = created["TargetGroups"][0]["TargetGroupArn"]
        if forwarded_from:  # a listener makes the target group "in use" until its load balancer goes
            self.elbv2.create_listener(LoadBalancerArn=forwarded_from, Protocol="TCP", Port=443,
                                       DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])
        return self.record(owned, Kind.TARGET_GROUP, arn)

    def classic_load_balancer(self, owned: bool, name: str, tags: Mapping[str, str]) -> str:
        name = self.unique(name)
        self.elb.create_load_balancer(LoadBalancerName=name, Subnets=[self.subnet], Tags=tag_list(tags),
                                      Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 30080}])
        return self.record(owned, Kind.CLASSIC_LOAD_BALANCER, name)

    def route_table(self, owned: bool, vpc_id: str, tags: Mapping[str, str]) -> str:
        table = self.ec2.create_route_table(VpcId=vpc_id, **tagging("route-table", tags))["RouteTable"]
        return self.record(owned, Kind.ROUTE_TABLE, table["RouteTableId"])

    def lost_network(self, tags: Mapping[str, str], second_octet: int) -> dict[Kind, str]:
        """A network as the platform's terraform builds it (tagged by its default_tags) that no state holds: what
        interrupted creates leave. Its pieces hold each other as in the platform's VPC: the NAT gateway its subnet and
        Elastic IP, the route table its subnet association, a route to the internet gateway and the S3 endpoint."""
        ec2, record = self.ec2, self.record
        vpc = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16", **tagging("vpc", tags))["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{second_octet}.0.0/24", AvailabilityZone=f"{REGION}a",
                                   **tagging("subnet", tags))["Subnet"]["SubnetId"]
        gateway = ec2.create_internet_gateway(**tagging("internet-gateway", tags))["InternetGateway"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc)
        table = self.route_table(True, vpc, tags)
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0",
                         GatewayId=gateway["InternetGatewayId"])
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        address = ec2.allocate_address(Domain="vpc", **tagging("elastic-ip", tags))["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=address, **tagging("natgateway", tags))
        endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=[table],
                                           **tagging("vpc-endpoint", tags))["VpcEndpoint"]["VpcEndpointId"]
        group = ec2.create_security_group(GroupName=self.unique("lost"), Description="sweep test", VpcId=vpc,
                                          **tagging("security-group", tags))["GroupId"]
        ids = {Kind.VPC: vpc, Kind.SUBNET: subnet, Kind.INTERNET_GATEWAY: gateway["InternetGatewayId"],
               Kind.ROUTE_TABLE: table, Kind.ELASTIC_IP: address, Kind.NAT_GATEWAY: nat["NatGateway"]["NatGatewayId"],
               Kind.VPC_ENDPOINT: endpoint, Kind.SECURITY_GROUP: group}
        for kind, resource_id in ids.items():
            if kind is not Kind.ROUTE_TABLE:
                record(True, kind, resource_id)
        return ids

    def log_group(self, owned: bool, name: str) -> str:
        self.logs.create_log_group(logGroupName=name)
        return self.record(owned, Kind.LOG_GROUP, name)

    def sagemaker_endpoint(self, owned: bool, name: str, tags: Mapping[str, str]) -> str:
        """An endpoint as the ACK SageMaker controller makes one (its resourceTags on the create call)."""
        self.sagemaker.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/x",
                                    PrimaryContainer={"Image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/m:1"})
        self.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
            {"VariantName": "main", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.g4dn.xlarge"}])
        self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tag_list(tags))
        return self.record(owned, Kind.SAGEMAKER_ENDPOINT, name)

    def placement_group(self, owned: bool, name: str, tags: Mapping[str, str]) -> str:
        self.session.client("ec2").create_placement_group(GroupName=name, Strategy="cluster",
                                                          **tagging("placement-group", tags))
        return self.record(owned, Kind.PLACEMENT_GROUP, name)


def seed_cluster_and_look_alikes(seeder: Seeder) -> None:
    s, ec2 = seeder, seeder.ec2
    # Karpenter's nodes (RunInstances tags their primary interfaces too: TagSpecifications network-interface).
    node = s.instance(True, {**karpenter_tags(CLUSTER, "gpu"), "mlplat.io/platform": CLUSTER, "team": "ml"})
    s.instance(True, {"eks:eks-cluster-name": CLUSTER, "karpenter.sh/nodepool": "cpu"})
    s.instance(True, {"eks:cluster-name": CLUSTER, "eks:nodegroup-name": "system"})  # a managed node group's
    # The VPC CNI's secondary interface on the node (detached when the node goes), and one it leaked earlier.
    cni = {"cluster.k8s.amazonaws.com/name": CLUSTER, "node.k8s.amazonaws.com/instance_id": node["InstanceId"]}
    secondary = s.interface(True, cni)
    ec2.attach_network_interface(NetworkInterfaceId=secondary, InstanceId=node["InstanceId"], DeviceIndex=1)
    s.interface(True, cni)
    # Persistent volumes: one free, one still attached to the node, one tagged by a driver before v1.58's extra key.
    s.volume(True, ebs_csi_tags(CLUSTER, "pvc-0001"))
    attached = s.volume(True, {"KubernetesCluster": CLUSTER, "ebs.csi.aws.com/cluster": "true", "CSIVolumeName": "p2"})
    ec2.attach_volume(VolumeId=attached, InstanceId=node["InstanceId"], Device="/dev/xvdf")
    s.volume(True, {"ebs.csi.aws.com/cluster-name": CLUSTER, "ebs.csi.aws.com/cluster": "true"})
    # The Load Balancer Controller's NLB, target group and security groups; the groups name each other.
    nlb = s.load_balancer(True, "k8s-argocd", lbc_tags(CLUSTER, "LoadBalancer"))
    s.target_group(True, "k8s-argocd", lbc_tags(CLUSTER, "argocd/argo-cd-server:443"), forwarded_from=nlb)
    frontend = s.security_group(True, "k8s-argocd", {**lbc_tags(CLUSTER, "ManagedLBSecurityGroup")})
    backend = s.security_group(True, "k8s-traffic", {"elbv2.k8s.aws/cluster": CLUSTER,
                                                     "elbv2.k8s.aws/resource": "backend-sg"})
    for group, peer in ((frontend, backend), (backend, frontend)):
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": peer}]}])
    # The cloud provider's classic load balancer and its security group; a group Terraform left, platform-tagged.
    service = {f"kubernetes.io/cluster/{CLUSTER}": "owned", "kubernetes.io/service-name": "ml/inference"}
    s.classic_load_balancer(True, "a1b2c3", service)
    s.security_group(True, "k8s-elb-a1b2c3", service)
    s.security_group(True, "sweep-a-nodes", PLATFORM_TAGS)
    s.log_group(True, f"/aws/eks/{CLUSTER}/cluster")
    s.log_group(True, f"/aws/containerinsights/{CLUSTER}/application")
    s.log_group(True, f"/aws/containerinsights/{CLUSTER}/performance")
    s.placement_group(True, f"{CLUSTER}-efa", PLATFORM_TAGS)
    # A SageMaker endpoint the ACK controller made (it bills by the hour until deleted).
    s.sagemaker_endpoint(True, f"{CLUSTER}-llm", {"Platform": CLUSTER, "ManagedBy": "mlplat", "team": "ml",
                                                  "services.k8s.aws/controller-version": "sagemaker-v1.9.1"})
    # What interrupted creates of terraform left: a whole network, and a route table in a VPC that is not tagged.
    s.lost_network(PLATFORM_TAGS, 160)
    s.route_table(True, s.network.vpc_id, PLATFORM_TAGS)

    # Look-alikes.
    named = {"Name": f"{CLUSTER}-gpu-node"}
    s.instance(False, {})
    s.instance(False, karpenter_tags("sweep-b", "gpu"))
    s.instance(False, {**named, "karpenter.sh/nodepool": "gpu"})  # Karpenter's, but no cluster named
    s.instance(False, {"Platform": CLUSTER, "ManagedBy": "mlplat"})  # not all of the platform's tags
    s.volume(False, {})
    s.volume(False, ebs_csi_tags("sweep-b", "pvc-0002"))
    s.volume(False, {"ebs.csi.aws.com/cluster": "true", "Name": f"{CLUSTER}-dynamic-pvc-0003"})  # names no cluster
    s.interface(False, {})
    s.interface(False, {"cluster.k8s.amazonaws.com/name": "sweep-b"})
    s.interface(False, {"Name": f"{CLUSTER}-eni"})
    s.security_group(False, "plain", {})
    s.security_group(False, "named", {"Name": f"{CLUSTER}-nodes"})
    s.security_group(False, "shared", {f"kubernetes.io/cluster/{CLUSTER}": "shared"})
    s.security_group(False, "longer-name", {f"kubernetes.io/cluster/{CLUSTER}b": "owned"})
    s.security_group(False, "other-lbc", {"elbv2.k8s.aws/cluster": "sweep-b"})
    s.security_group(False, "other-platform", {**PLATFORM_TAGS, "Platform": "sweep-b"})
    # A VPC's default group cannot be deleted (it goes with its VPC), whatever its tags say.
    [default] = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [s.network.vpc_id]},
                                                      {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    ec2.create_tags(Resources=[default["GroupId"]], Tags=tag_list({f"kubernetes.io/cluster/{CLUSTER}": "owned"}))
    s.record(False, Kind.SECURITY_GROUP, default["GroupId"])
    other_nlb = s.load_balancer(False, "k8s-other", lbc_tags("sweep-b", "LoadBalancer"))
    s.target_group(False, "k8s-other", lbc_tags("sweep-b", "argocd/argo-cd-server:443"), forwarded_from=other_nlb)
    s.load_balancer(False, f"{CLUSTER}-internal", {"Name": f"{CLUSTER}-internal"})
    s.target_group(False, f"{CLUSTER}-tg", {})
    s.classic_load_balancer(False, "d4e5f6", {"kubernetes.io/cluster/sweep-b": "owned"})
    s.classic_load_balancer(False, f"{CLUSTER}-web", {"Name": f"{CLUSTER}-web"})
    for name in ("/aws/eks/sweep-b/cluster", f"/aws/eks/{CLUSTER}b/cluster", f"/aws/eks/{CLUSTER}/clusterwide",
                 f"/aws/containerinsights/{CLUSTER}b/application", f"/aws/lambda/{CLUSTER}"):
        s.log_group(False, name)
    s.placement_group(False, "sweep-b-efa", {"kubernetes.io/cluster/sweep-b": "owned"})
    s.sagemaker_endpoint(False, "sweep-b-llm", {**PLATFORM_TAGS, "Platform": "sweep-b"})
    s.sagemaker_endpoint(False, f"{CLUSTER}-untagged", {})
    s.placement_group(False, f"{CLUSTER}-spread", {"Name": CLUSTER})
    # The network's look-alikes: the untagged VPC the cluster's look-alikes are in, and its subnets; a route table of
    # another platform and one named like this one's; a main route table, which goes only with its VPC, whatever its
    # tags say.
    s.record(False, Kind.VPC, s.network.vpc_id)
    for subnet in s.network.subnet_ids:
        s.record(False, Kind.SUBNET, subnet)
    s.route_table(False, s.network.vpc_id, {**PLATFORM_TAGS, "Platform": "sweep-b"})
    s.route_table(False, s.network.vpc_id, {"Name": f"{CLUSTER}-public"})
    [main] = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [s.network.vpc_id]},
                                                {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    ec2.create_tags(Resources=[main["RouteTableId"]], Tags=tag_list(PLATFORM_TAGS))
    s.record(False, Kind.ROUTE_TABLE, main["RouteTableId"])


def existing(session: EmulatorSession, client: ClientFactory) -> dict[str, set[str]]:
    """Every resource of the swept kinds in the account, by kind, read without mlplat.sweep."""
    ec2, elbv2, logs = client("ec2"), client("elbv2"), client("logs")
    live = ["pending", "running", "stopping", "stopped", "shutting-down"]
    return {
        "instance": {i["InstanceId"] for r in ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": live}])["Reservations"] for i in r["Instances"]},
        "volume": {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]},
        "network_interface": {e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces()["NetworkInterfaces"]},
        "security_group": {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]},
        "load_balancer": {lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]},
        "target_group": {tg["TargetGroupArn"] for tg in elbv2.describe_target_groups()["TargetGroups"]},
        "classic_load_balancer": {lb["LoadBalancerName"] for lb in
                                  client("elb").describe_load_balancers()["LoadBalancerDescriptions"]},
        "log_group": {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]},
        "placement_group": {g["GroupName"] for g in ec2.describe_placement_groups()["PlacementGroups"]},
        "sagemaker_endpoint": {e["EndpointName"] for e in client("sagemaker").list_endpoints()["Endpoints"]},
        "nat_gateway": {g["NatGatewayId"] for g in ec2.describe_nat_gateways()["NatGateways"]
                        if g["State"] != "deleted"},
        "vpc_endpoint": {e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                         if e["State"].lower() != "deleted"},
        "route_table": {t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]},
        "internet_gateway": {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]},
        "subnet": {n["SubnetId"] for n in ec2.describe_subnets()["Subnets"]},
        "elastic_ip": {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]},
        "vpc": {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]},
    }


# --- the sweep of one cluster among look-alikes -------------------------------------------------------------------


@dataclass(frozen=True)
class Swept:
    owned: dict[str, list[str]]
    others: dict[str, list[str]]
    plan: SweepPlan
    result: SweepResult
    progress: list[str]
    plan_after: SweepPlan
    after: dict[str, set[str]]
    revoked: list[dict[str, Any]]
    interface_status_when_deleted: dict[str, str]
    primaries: list[str]


@pytest.fixture(scope="module")
def swept(shared_aws: LocalAws, client: ClientFactory) -> Swept:
    session = EmulatorSession(shared_aws)
    seeder = Seeder(session, client, 61)
    seed_cluster_and_look_alikes(seeder)
    plan = plan_sweep(session, CLUSTER, PLATFORM_TAGS)
    progress: list[str] = []
    revoked = calls_to(session, "ec2.RevokeSecurityGroupIngress")
    # EC2 refuses to delete an attached interface (InvalidNetworkInterface.InUse); the emulator deletes it. So the
    # status each interface had when the sweep deleted it is recorded, read just before the call.
    status_when_deleted: dict[str, str] = {}
    ec2 = client("ec2")

    def record_status(params: dict[str, Any], **_: Any) -> None:
        eni_id = params["NetworkInterfaceId"]
        found = ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": [eni_id]}])
        status_when_deleted[eni_id] = found["NetworkInterfaces"][0]["Status"] if found["NetworkInterfaces"] else "gone"

    session.events.register("before-parameter-build.ec2.DeleteNetworkInterface", record_status)
    result = execute_sweep(session, plan, progress.append, FAST)
    plan_after = plan_sweep(session, CLUSTER, PLATFORM_TAGS)
    return Swept(seeder.owned, seeder.others, plan, result, progress, plan_after, existing(session, client), revoked,
                 status_when_deleted, seeder.primaries)


def sorted_ids(ids_by_kind: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {kind: sorted(ids) for kind, ids in ids_by_kind.items() if ids}


def test_plan_finds_exactly_what_the_cluster_left(swept: Swept) -> None:
    assert swept.plan.ids_by_kind() == sorted_ids(swept.owned)
    assert {r.region for r in swept.plan.resources} == {REGION}


def test_plan_says_which_tag_made_each_resource_the_platforms(swept: Swept) -> None:
    reasons = {r.id: r.reason for r in swept.plan.resources}
    by_name = {name: reasons[name] for name in (f"/aws/eks/{CLUSTER}/cluster", f"{CLUSTER}-efa")}
    instance_reasons = sorted(reasons[i].split(" (")[0] for i in swept.owned["instance"])
    assert instance_reasons == [f"tag eks:cluster-name={CLUSTER}", f"tag eks:eks-cluster-name={CLUSTER}",
                                f"tag kubernetes.io/cluster/{CLUSTER}=owned"]
    assert by_name == {
        f"/aws/eks/{CLUSTER}/cluster": "name: EKS control plane logs",
        f"{CLUSTER}-efa": "the platform's tags ManagedBy=mlplat, Platform=sweep-a, team=ml",
    }
    listing = "\n".join(swept.plan.lines())
    assert f"{len(swept.plan.resources)} resource(s) of cluster {CLUSTER} left in {REGION}:" in listing
    assert all(r.id in listing for r in swept.plan.resources)


def test_sweep_removes_everything_it_planned_and_verifies_it(swept: Swept) -> None:
    assert swept.result.left == ()
    assert swept.result.ok
    assert sorted(r.key for r in swept.result.removed) == sorted(r.key for r in swept.plan.resources)
    assert swept.plan_after.ids_by_kind() == {}
    still_there = {kind: sorted(set(ids) & swept.after[kind]) for kind, ids in swept.owned.items()}
    assert sorted_ids(still_there) == {}


def test_rules_between_swept_security_groups_are_removed(swept: Swept) -> None:
    # The Load Balancer Controller's two groups name each other: EC2 deletes neither while the other's rule stands.
    # (The emulator deletes a referenced group anyway, which EC2 does not; so this checks the calls made.)
    lbc_groups = sorted(r.id for r in swept.plan.of_kind(Kind.SECURITY_GROUP)
                        if r.reason.startswith("tag elbv2.k8s.aws/cluster"))
    revoked = sorted((call["GroupId"], len(call["SecurityGroupRuleIds"])) for call in swept.revoked)
    assert revoked == [(group, 1) for group in lbc_groups]


def test_interfaces_are_deleted_once_detached(swept: Swept) -> None:
    # The VPC CNI's secondary interface was attached to a node the sweep terminated; the nodes' primary interfaces
    # went with them (delete on termination), so their deletion finds them gone.
    primaries = {i for i in swept.primaries if i in {r.id for r in swept.plan.resources}}
    assert len(primaries) == 3  # the three tagged nodes'
    expected = {r.id: "available" for r in swept.plan.of_kind(Kind.NETWORK_INTERFACE)} | dict.fromkeys(primaries, "gone")
    assert swept.interface_status_when_deleted == expected


def test_sweep_leaves_everything_else(swept: Swept) -> None:
    gone = {kind: sorted(set(ids) - swept.after[kind]) for kind, ids in swept.others.items()}
    assert sorted_ids(gone) == {}


def test_progress_names_every_resource_it_deletes(swept: Swept) -> None:
    text = "\n".join(swept.progress)
    instances = swept.owned["instance"]
    assert f"terminating {len(instances)} instance(s): {', '.join(sorted(instances))}" in text
    # Each deletion is named; what went with its instance (root volume, primary interface) is "already gone".
    reported = {line.split()[-1] if line.startswith("deleted ") else line.split()[-3] for line in swept.progress
                if line.startswith("deleted ") or line.endswith(" already gone")}
    not_named = sorted(r.id for r in swept.plan.resources if r.kind is not Kind.INSTANCE and r.id not in reported)
    assert not_named == []
    assert swept.progress[-1] == f"swept {len(swept.plan.resources)} resource(s)"


# --- before terraform's phase: what interrupted creates left in the network ----------------------------------------


def test_orphans_are_the_networks_untracked_pieces_and_go_alone(shared_aws: LocalAws, client: ClientFactory) -> None:
    session = EmulatorSession(shared_aws)
    seeder = Seeder(session, client, 66)
    tags = {"Platform": "sweep-k", "ManagedBy": "mlplat"}
    lost = seeder.lost_network(tags, 166)
    # The platform's own network, tracked by terraform's state, carries the same tags; so do the system node
    # group's instance and volume (its launch template's tags), and a group the Load Balancer Controller made.
    tracked = seeder.lost_network(tags, 167)
    node = seeder.instance(True, tags)
    controller_group = seeder.security_group(True, "k8s-lb", {**tags, "elbv2.k8s.aws/cluster": "sweep-k"})
    seeder.route_table(True, seeder.network.vpc_id, tags)  # lost in an untagged VPC: an orphan too
    plan = plan_sweep(session, "sweep-k", tags)

    orphans = orphans_of(plan, tracked.values())

    expected = {str(kind): [resource_id] for kind, resource_id in lost.items()}
    expected["route_table"] = sorted([lost[Kind.ROUTE_TABLE], seeder.owned["route_table"][-1]])
    assert orphans.ids_by_kind() == expected
    assert {r.id for r in plan.resources} >= {node["InstanceId"], controller_group, *tracked.values()}
    result = execute_sweep(session, orphans, lambda _: None, FAST)
    assert (result.left, sorted(r.key for r in result.removed)) == ((), sorted(r.key for r in orphans.resources))
    after = existing(session, client)
    assert sorted_ids({kind: sorted(set(ids) & after[kind]) for kind, ids in orphans.ids_by_kind().items()}) == {}
    untouched = {"instance": [node["InstanceId"]], "security_group": [controller_group, tracked[Kind.SECURITY_GROUP]],
                 **{str(kind): [resource_id] for kind, resource_id in tracked.items()
                    if kind is not Kind.SECURITY_GROUP}}
    assert sorted_ids({kind: sorted(set(ids) - after[kind]) for kind, ids in untouched.items()}) == {}


def test_an_orphan_something_still_uses_stops_the_destroy_with_its_fix(shared_aws: LocalAws,
                                                                       client: ClientFactory) -> None:
    session = EmulatorSession(shared_aws)
    seeder = Seeder(session, client, 68)
    tags = {"Platform": "sweep-l", "ManagedBy": "mlplat"}
    ec2 = client("ec2")
    subnet = ec2.create_subnet(VpcId=seeder.network.vpc_id, CidrBlock="10.68.9.0/24",
                               AvailabilityZone=f"{REGION}a", **tagging("subnet", tags))["Subnet"]["SubnetId"]
    ec2.create_network_interface(SubnetId=subnet)  # someone else's interface in it
    orphans = orphans_of(plan_sweep(session, "sweep-l", tags), ())
    assert orphans.ids_by_kind() == {"subnet": [subnet]}

    result = execute_sweep(session, orphans, lambda _: None, FAST)

    [left] = result.left
    assert (left.resource.id, left.problem.split(" (")[0]) == (subnet, "still in use after 3 attempt(s)")
    with pytest.raises(MlplatError) as raised:
        result.raise_if_left("destroy stopped")
    assert str(raised.value).splitlines()[0] == "destroy stopped; 1 resource(s) left:"
    assert f"aws ec2 delete-subnet --region {REGION} --subnet-id {subnet}" in str(raised.value)


# --- what the sweep cannot remove, it reports ---------------------------------------------------------------------


def test_security_group_still_in_use_is_retried_then_reported_as_left(shared_aws: LocalAws,
                                                                      client: ClientFactory) -> None:
    session = EmulatorSession(shared_aws)
    seeder = Seeder(session, client, 62)
    group = seeder.security_group(True, "k8s-in-use", {"elbv2.k8s.aws/cluster": "sweep-c"})
    user = seeder.interface(False, {}, Groups=[group])  # something the sweep does not own still uses it
    plan = plan_sweep(session, "sweep-c", {"Platform": "sweep-c", "ManagedBy": "mlplat"})
    assert plan.ids_by_kind() == {"security_group": [group]}
    deletions = calls_to(session, "ec2.DeleteSecurityGroup")
    progress: list[str] = []

    result = execute_sweep(session, plan, progress.append, FAST)

    assert deletions == [{"GroupId": group}] * FAST.dependency_attempts
    assert sum("still in use" in line and "retrying" in line for line in progress) == FAST.dependency_attempts - 1
    assert not result.ok
    assert result.removed == ()
    [left] = result.left
    assert (left.resource.id, left.problem.split(" (")[0]) == (group, "still in use after 3 attempt(s)")
    assert "DependencyViolation" in left.problem
    assert f"aws ec2 delete-security-group --region {REGION} --group-id {group}" in left.fix
    with pytest.raises(MlplatError) as raised:
        result.raise_if_left()
    message = str(raised.value)
    assert message.startswith("the sweep could not remove everything the cluster left; 1 resource(s) left:")
    assert group in message and "Traceback" not in message
    assert group in {g["GroupId"] for g in client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"]}
    assert client("ec2").describe_network_interfaces(NetworkInterfaceIds=[user])["NetworkInterfaces"]


def test_target_group_a_foreign_load_balancer_forwards_to_is_retried_then_left(shared_aws: LocalAws,
                                                                               client: ClientFactory) -> None:
    session = EmulatorSession(shared_aws)
    seeder = Seeder(session, client, 63)
    foreign = seeder.load_balancer(False, "foreign", {})
    group = seeder.target_group(True, "k8s-in-use", {"elbv2.k8s.aws/cluster": "sweep-i"}, forwarded_from=foreign)
    plan = plan_sweep(session, "sweep-i", {"Platform": "sweep-i"})
    assert plan.ids_by_kind() == {"target_group": [group]}

    result = execute_sweep(session, plan, lambda _: None, FAST)

    assert [(left.resource.id, left.problem.split(" (")[0]) for left in result.left] == [
        (group, "still in use after 3 attempt(s)")]
    assert "ResourceInUse" in result.left[0].problem
    assert client("elbv2").describe_target_groups(TargetGroupArns=[group])["TargetGroups"]


def test_interface_and_volume_on_a_foreign_instance_are_left_attached(shared_aws: LocalAws,
                                                                      client: ClientFactory) -> None:
    session = EmulatorSession(shared_aws)
    seeder = Seeder(session, client, 64)
    ec2 = client("ec2")
    foreign = seeder.instance(False, {})["InstanceId"]
    eni = seeder.interface(True, {"cluster.k8s.amazonaws.com/name": "sweep-e"})
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=foreign, DeviceIndex=1)
    volume = seeder.volume(True, {"KubernetesCluster": "sweep-e"})
    ec2.attach_volume(VolumeId=volume, InstanceId=foreign, Device="/dev/xvdf")
    plan = plan_sweep(session, "sweep-e", {"Platform": "sweep-e"})
    assert plan.ids_by_kind() == {"network_interface": [eni], "volume": [volume]}

    result = execute_sweep(session, plan, lambda _: None, FAST)

    problem = f"attached to instance {foreign}, which the sweep does not own"
    assert sorted((left.resource.id, left.problem) for left in result.left) == sorted(
        [(eni, problem), (volume, problem)])
    assert ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Status"] == "in-use"
    assert ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["State"] == "in-use"
    [reservation] = ec2.describe_instances(InstanceIds=[foreign])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "running"


def test_verification_catches_a_deletion_that_did_not_happen(shared_aws: LocalAws, client: ClientFactory) -> None:
    session = EmulatorSession(shared_aws)
    name = "/aws/containerinsights/sweep-f/application"
    client("logs").create_log_group(logGroupName=name)
    # AWS acknowledges the deletion, but the group is still there (EKS/Container Insights writing to it again).
    session.events.register("before-call.cloudwatch-logs.DeleteLogGroup", lambda **_: aws_answer(200, {}))
    plan = plan_sweep(session, "sweep-f", {"Platform": "sweep-f"})
    assert plan.ids_by_kind() == {"log_group": [name]}

    result = execute_sweep(session, plan, lambda _: None, FAST)

    assert [(left.resource.id, left.problem) for left in result.left] == [(name, "still there after the sweep")]
    assert not result.ok


def test_a_check_aws_refuses_is_an_mlplat_error_naming_what_may_be_left(shared_aws: LocalAws,
                                                                        client: ClientFactory) -> None:
    session = EmulatorSession(shared_aws)
    name = "/aws/containerinsights/sweep-j/application"
    client("logs").create_log_group(logGroupName=name)
    plan = plan_sweep(session, "sweep-j", {"Platform": "sweep-j"})
    assert plan.ids_by_kind() == {"log_group": [name]}
    deleted = calls_to(session, "cloudwatch-logs.DeleteLogGroup")
    # Once the group is deleted, listing log groups is refused (a permission boundary allowing deletes only).
    session.events.register("before-call.cloudwatch-logs.DescribeLogGroups", lambda **_: aws_error(
        400, "AccessDeniedException", "not authorized to perform logs:DescribeLogGroups") if deleted else None)

    with pytest.raises(MlplatError) as raised:
        execute_sweep(session, plan, lambda _: None, FAST)

    assert str(raised.value).splitlines() == [
        f"the sweep ran, but could not list log groups in {REGION}: AWS answered AccessDeniedException: not "
        "authorized to perform logs:DescribeLogGroups, so it could not check what is left; check these 1 resource(s):",
        f"  - log_group {name}: not checked; remove it by hand: aws logs delete-log-group --region {REGION} "
        f"--log-group-name {name}",
    ]


# --- what the sweep never claims, and how it fails ----------------------------------------------------------------


def test_empty_platform_tags_claim_nothing(shared_aws: LocalAws, client: ClientFactory) -> None:
    session = EmulatorSession(shared_aws)
    seeder = Seeder(session, client, 65)
    seeder.security_group(False, "other", {"elbv2.k8s.aws/cluster": "sweep-h"})
    seeder.volume(False, {"KubernetesCluster": "sweep-h"})
    assert plan_sweep(session, "sweep-g", {}).ids_by_kind() == {}


def test_an_aws_refusal_while_listing_is_an_mlplat_error(shared_aws: LocalAws) -> None:
    session = EmulatorSession(shared_aws)
    session.events.register("before-call.ec2.DescribeVolumes", lambda **_: aws_error(
        403, "UnauthorizedOperation", "You are not authorized to perform this operation"))
    with pytest.raises(MlplatError) as raised:
        plan_sweep(session, CLUSTER, PLATFORM_TAGS)
    assert str(raised.value) == (
        f"the sweep could not list EBS volumes in {REGION}: AWS answered UnauthorizedOperation: You are not "
        "authorized to perform this operation. Nothing was deleted; the identity needs ec2:Describe*, "
        "elasticloadbalancing:Describe*, logs:DescribeLogGroups, sagemaker:ListEndpoints and sagemaker:ListTags")


@pytest.mark.parametrize(("cluster", "region", "message"), [
    ("", REGION, "the sweep needs the cluster's name"),
    (CLUSTER, None, "the sweep needs a region: the AWS session has none (set AWS_REGION or the profile's region)"),
])
def test_plan_refuses_without_cluster_or_region(cluster: str, region: str | None, message: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    with pytest.raises(MlplatError) as raised:
        plan_sweep(session, cluster, PLATFORM_TAGS)
    assert str(raised.value) == message


def test_an_empty_plan_deletes_nothing() -> None:
    plan = SweepPlan(CLUSTER, REGION, (), ())
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    assert execute_sweep(session, plan, pytest.fail, FAST) == SweepResult((), ())
    assert plan.lines() == [f"nothing of cluster {CLUSTER} is left in {REGION}"]



def test_a_claim_volume_tagged_by_the_ebs_add_on_is_claimed_by_the_platform_tags(shared_aws: LocalAws,
                                                                                   client: ClientFactory) -> None:
    """Without k8sTagClusterId (not in the EKS add-on's schema) the driver's own tags name no cluster; the extra
    volume tags the AWS layer configures (modules/eks.py) are what destroy's sweep finds such a volume by."""
    session = EmulatorSession(shared_aws)
    seeder = Seeder(session, client, 66)
    driver_tags = {"CSIVolumeName": "pvc-5d1c", "ebs.csi.aws.com/cluster": "true",
                   "kubernetes.io/created-for/pvc/name": "data-prometheus-0"}
    claimed = seeder.volume(True, {**driver_tags, "Platform": "sweep-v", "ManagedBy": "mlplat", "team": "ml"})
    seeder.volume(False, driver_tags)  # another cluster's claim: no platform tags
    plan = plan_sweep(session, "sweep-v", {"Platform": "sweep-v", "ManagedBy": "mlplat"})
    assert [(r.id, r.reason) for r in plan.resources] == [
        (claimed, "the platform's tags ManagedBy=mlplat, Platform=sweep-v")]
