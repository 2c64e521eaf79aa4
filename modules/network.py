"""VPC: private/public subnets across the region's zones, NAT, S3 gateway endpoint, Karpenter discovery and pinned-zone
tags, flow logs, and a default security group that allows nothing.

Zones are the account's: the blueprint names them (zone names or zone IDs) or asks for the first N the region offers,
and the subnets take their zone from `data.aws_availability_zones` at plan time. A zone the account does not have
stops the plan with a message naming it, before anything is created (AWS would refuse it half-way through apply).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping

from cdktn import Fn, Op, Precondition, TerraformResourceLifecycle, Token
from cdktn_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktn_provider_aws.data_aws_availability_zones import DataAwsAvailabilityZones
from cdktn_provider_aws.default_security_group import DefaultSecurityGroup
from cdktn_provider_aws.eip import Eip
from cdktn_provider_aws.flow_log import FlowLog
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.internet_gateway import InternetGateway
from cdktn_provider_aws.nat_gateway import NatGateway
from cdktn_provider_aws.route import Route
from cdktn_provider_aws.route_table import RouteTable
from cdktn_provider_aws.route_table_association import RouteTableAssociation
from cdktn_provider_aws.subnet import Subnet
from cdktn_provider_aws.vpc import Vpc
from cdktn_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct

from mlplat.zones import is_zone_id
from modules.common import allow, policy

FLOW_LOG_RETENTION_DAYS = 90


@dataclass(frozen=True)
class NetworkConfig:
    name: str
    region: str
    account_id: str
    partition: str
    cidr: str
    zones: tuple[str, ...]  # zone names or zone IDs; empty: the first `zone_count` zones of the region
    zone_count: int
    single_nat_gateway: bool
    cluster_name: str
    # subnet tag key -> zone (name or ID) whose private subnet carries it = "true" (pinned node pools select on it)
    pinned_zone_tags: Mapping[str, str]
    flow_logs_kms_key_arn: str | None  # None: no flow logs


def subnet_cidrs(cidr: str, count: int) -> tuple[list[str], list[str]]:
    """Private subnets get 1/8 of the VPC each (pods take VPC IPs); public ones are small, at the top of the range."""
    net = ipaddress.ip_network(cidr)
    eighths = list(net.subnets(prefixlen_diff=3))
    private = [str(s) for s in eighths[:count]]
    public_prefix = min(net.prefixlen + 8, 27)  # /27 at least: an internet-facing ALB needs 8 free addresses
    public_pool = list(eighths[-1].subnets(new_prefix=public_prefix))
    public = [str(s) for s in public_pool[-count:]]
    return private, public


class Network(Construct):
    def __init__(self, scope: Construct, id: str, config: NetworkConfig) -> None:
        super().__init__(scope, id)
        c = config
        name = c.name
        # Zones the account can use in this region without opting in (Local and Wavelength Zones need opt-in).
        self.available = DataAwsAvailabilityZones(self, "zones", state="available", filter=[
            {"name": "opt-in-status", "values": ["opt-in-not-required"]}])
        # Each subnet slot's zone *name*, as terraform evaluates it: zone IDs translate through the data source.
        if c.zones:
            self.zone_names = [self.zone_name(z) for z in c.zones]
        else:
            self.zone_names = [Fn.element(self.available.names, i) for i in range(c.zone_count)]
        self.vpc = Vpc(self, "vpc", cidr_block=c.cidr, enable_dns_hostnames=True, enable_dns_support=True,
                       tags={"Name": name}, lifecycle=TerraformResourceLifecycle(
                           precondition=[self._zones_exist(c), *self._pinned_zones_used(c)]))
        # The VPC's default security group would let anything attached to it talk to anything: it allows nothing.
        DefaultSecurityGroup(self, "default-sg", vpc_id=self.vpc.id, tags={"Name": f"{name}-default-deny"})
        if c.flow_logs_kms_key_arn is not None:
            self._flow_logs(c)
        igw = InternetGateway(self, "igw", vpc_id=self.vpc.id, tags={"Name": name})
        private_cidrs, public_cidrs = subnet_cidrs(c.cidr, len(self.zone_names))

        public_rt = RouteTable(self, "public", vpc_id=self.vpc.id, tags={"Name": f"{name}-public"})
        Route(self, "public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
              gateway_id=igw.id)
        self.public_subnets: list[Subnet] = []
        self.private_subnets: list[Subnet] = []
        nats: list[NatGateway] = []
        private_rts: list[RouteTable] = []
        for i, zone in enumerate(self.zone_names):
            public = Subnet(self, f"public-{i}", vpc_id=self.vpc.id, cidr_block=public_cidrs[i],
                            availability_zone=zone, tags={"Name": f"{name}-public-{i}", "kubernetes.io/role/elb": "1"})
            RouteTableAssociation(self, f"public-{i}-rt", subnet_id=public.id, route_table_id=public_rt.id)
            self.public_subnets.append(public)
            private_tags = {
                "Name": f"{name}-private-{i}",
                "kubernetes.io/role/internal-elb": "1",
                "karpenter.sh/discovery": c.cluster_name,
            }
            # "true" on the pinned zone's subnet only; Karpenter selects on the value.
            private_tags.update({
                tag: Token.as_string(Fn.conditional(Op.eq(zone, self.zone_name(pinned)), "true", "false"))
                for tag, pinned in c.pinned_zone_tags.items()})
            private = Subnet(self, f"private-{i}", vpc_id=self.vpc.id, cidr_block=private_cidrs[i],
                             availability_zone=zone, tags=private_tags)
            self.private_subnets.append(private)
            if i == 0 or not c.single_nat_gateway:
                eip = Eip(self, f"nat-{i}", domain="vpc", tags={"Name": f"{name}-nat-{i}"})
                nats.append(NatGateway(self, f"nat-gw-{i}", allocation_id=eip.id, subnet_id=public.id,
                                       tags={"Name": f"{name}-{i}"}, depends_on=[igw]))
            rt = RouteTable(self, f"private-{i}-table", vpc_id=self.vpc.id, tags={"Name": f"{name}-private-{i}"})
            Route(self, f"private-{i}-default", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                  nat_gateway_id=nats[-1].id)
            RouteTableAssociation(self, f"private-{i}-rt", subnet_id=private.id, route_table_id=rt.id)
            private_rts.append(rt)
        # Image layers, datasets and checkpoints go to S3 without NAT charges.
        VpcEndpoint(self, "s3", vpc_id=self.vpc.id, service_name=f"com.amazonaws.{c.region}.s3",
                    vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in private_rts],
                    tags={"Name": f"{name}-s3"})
        self.nat_gateway_count = len(nats)

    def zone_name(self, zone: str) -> str:
        """A zone given by name or ID, as its name (a zone ID resolves through the account's zone list)."""
        if not is_zone_id(zone):
            return zone
        return Fn.element(self.available.names, Token.as_number(Fn.index(self.available.zone_ids, zone)))

    def _listed(self) -> str:
        return Fn.join(", ", self.available.names) + " (IDs " + Fn.join(", ", self.available.zone_ids) + ")"

    def _zones_exist(self, c: NetworkConfig) -> Precondition:
        known = Fn.concat([self.available.names, self.available.zone_ids])
        if c.zones:
            return Precondition(
                condition=Fn.alltrue([Fn.contains(known, z) for z in c.zones]),
                error_message=f"azs: {', '.join(c.zones)} must all be availability zones this account can use in "
                              f"{c.region}; its zones are " + self._listed() + ". Fix azs (names or zone IDs).")
        return Precondition(
            condition=Op.gte(Fn.length_of(self.available.names), c.zone_count),
            error_message=f"availability_zones_count: {c.region} offers this account fewer than {c.zone_count} "
                          "zones (" + self._listed() + "); lower availability_zones_count.")

    def _pinned_zones_used(self, c: NetworkConfig) -> list[Precondition]:
        out = []
        for tag, zone in c.pinned_zone_tags.items():
            key = tag.removeprefix("mlplat.io/").replace("-az", "_az").replace("-", "_")
            # try(): an unknown zone ID must fail this check, not the index() lookup.
            as_name = Fn.try_([self.zone_name(zone), zone])
            out.append(Precondition(
                condition=Fn.contains(self.zone_names, as_name),
                error_message=f"{key}: {zone} is not one of the platform's zones (" + Fn.join(", ", self.zone_names)
                              + f"); set {key} to one of them, or list it in azs."))
        return out

    def _flow_logs(self, c: NetworkConfig) -> None:
        log_group = CloudwatchLogGroup(self, "flow-logs", name=f"/aws/vpc/{c.name}/flow-logs",
                                       retention_in_days=FLOW_LOG_RETENTION_DAYS, kms_key_id=c.flow_logs_kms_key_arn)
        # Confused-deputy guard from the VPC flow logs guide: only this account's flow logs may use the role.
        trust = policy({"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": c.account_id},
                                      "ArnLike": {"aws:SourceArn":
                                                  f"arn:{c.partition}:ec2:{c.region}:{c.account_id}:vpc-flow-log/*"}}})
        role = IamRole(self, "flow-logs-role", name=f"{c.name}-vpc-flow-logs", assume_role_policy=trust)
        IamRolePolicy(self, "flow-logs-policy", role=role.id, policy=policy(allow(
            ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
            [log_group.arn, f"{log_group.arn}:*"], sid="WriteFlowLogs")))
        FlowLog(self, "flow-log", vpc_id=self.vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
                log_destination=log_group.arn, iam_role_arn=role.arn, max_aggregation_interval=600,
                tags={"Name": f"{c.name}-vpc"})

    @property
    def private_subnet_ids(self) -> list[str]:
        return [s.id for s in self.private_subnets]

    def private_subnet_in(self, zone: str) -> str:
        """The id of the private subnet in `zone` (a name or ID, one of the platform's zones)."""
        slot = Token.as_number(Fn.index(self.zone_names, self.zone_name(zone)))
        return Token.as_string(Fn.element(self.private_subnet_ids, slot))
