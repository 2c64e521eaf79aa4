"""VPC: private/public subnets across AZs, NAT, S3 gateway endpoint, Karpenter discovery and accelerator-AZ tags."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping

from cdktn_provider_aws.eip import Eip
from cdktn_provider_aws.internet_gateway import InternetGateway
from cdktn_provider_aws.nat_gateway import NatGateway
from cdktn_provider_aws.route import Route
from cdktn_provider_aws.route_table import RouteTable
from cdktn_provider_aws.route_table_association import RouteTableAssociation
from cdktn_provider_aws.subnet import Subnet
from cdktn_provider_aws.vpc import Vpc
from cdktn_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct


@dataclass(frozen=True)
class NetworkConfig:
    name: str
    region: str
    cidr: str
    azs: tuple[str, ...]
    single_nat_gateway: bool
    cluster_name: str
    # subnet tag key -> AZ whose private subnet carries it (node pools pinned to one AZ select on it)
    pinned_az_tags: Mapping[str, str]


def subnet_cidrs(cidr: str, count: int) -> tuple[list[str], list[str]]:
    """Private subnets get 1/8 of the VPC each (pods take VPC IPs); public ones are small, at the top of the range."""
    net = ipaddress.ip_network(cidr)
    eighths = list(net.subnets(prefixlen_diff=3))
    private = [str(s) for s in eighths[:count]]
    public_prefix = min(net.prefixlen + 8, 28)
    public_pool = list(eighths[-1].subnets(new_prefix=public_prefix))
    public = [str(s) for s in public_pool[-count:]]
    return private, public


class Network(Construct):
    def __init__(self, scope: Construct, id: str, config: NetworkConfig) -> None:
        super().__init__(scope, id)
        name = config.name
        self.vpc = Vpc(self, "vpc", cidr_block=config.cidr, enable_dns_hostnames=True, enable_dns_support=True,
                       tags={"Name": name})
        igw = InternetGateway(self, "igw", vpc_id=self.vpc.id, tags={"Name": name})
        private_cidrs, public_cidrs = subnet_cidrs(config.cidr, len(config.azs))

        public_rt = RouteTable(self, "public", vpc_id=self.vpc.id, tags={"Name": f"{name}-public"})
        Route(self, "public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
              gateway_id=igw.id)
        self.public_subnets: list[Subnet] = []
        self.private_subnets: list[Subnet] = []
        self.private_subnet_by_az: dict[str, Subnet] = {}
        nats: list[NatGateway] = []
        private_rts: list[RouteTable] = []
        for i, az in enumerate(config.azs):
            public = Subnet(self, f"public-{az}", vpc_id=self.vpc.id, cidr_block=public_cidrs[i], availability_zone=az,
                            tags={"Name": f"{name}-public-{az}", "kubernetes.io/role/elb": "1"})
            RouteTableAssociation(self, f"public-{az}-rt", subnet_id=public.id, route_table_id=public_rt.id)
            self.public_subnets.append(public)
            private_tags = {
                "Name": f"{name}-private-{az}",
                "kubernetes.io/role/internal-elb": "1",
                "karpenter.sh/discovery": config.cluster_name,
            }
            private_tags.update({tag: "true" for tag, tag_az in config.pinned_az_tags.items() if tag_az == az})
            private = Subnet(self, f"private-{az}", vpc_id=self.vpc.id, cidr_block=private_cidrs[i],
                             availability_zone=az, tags=private_tags)
            self.private_subnets.append(private)
            self.private_subnet_by_az[az] = private
            if i == 0 or not config.single_nat_gateway:
                eip = Eip(self, f"nat-{az}", domain="vpc", tags={"Name": f"{name}-nat-{az}"})
                nats.append(NatGateway(self, f"nat-gw-{az}", allocation_id=eip.id, subnet_id=public.id,
                                       tags={"Name": f"{name}-{az}"}, depends_on=[igw]))
            rt = RouteTable(self, f"private-{az}-table", vpc_id=self.vpc.id, tags={"Name": f"{name}-private-{az}"})
            Route(self, f"private-{az}-default", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                  nat_gateway_id=nats[-1].id)
            RouteTableAssociation(self, f"private-{az}-rt", subnet_id=private.id, route_table_id=rt.id)
            private_rts.append(rt)
        # Image layers, datasets and checkpoints go to S3 without NAT charges.
        VpcEndpoint(self, "s3", vpc_id=self.vpc.id, service_name=f"com.amazonaws.{config.region}.s3",
                    vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in private_rts],
                    tags={"Name": f"{name}-s3"})
        self.nat_gateway_count = len(nats)

    @property
    def private_subnet_ids(self) -> list[str]:
        return [s.id for s in self.private_subnets]
