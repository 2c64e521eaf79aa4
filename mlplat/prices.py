"""On-demand list prices for `mlplat cost`, per region, each with where it was read. All read on PRICES_DATE.

AWS's pricing pages render their numbers from the AWS Price List at view time, so most numbers below were read where
the Price List (or a page quoting AWS) is reproduced: `Source.url` is the AWS page or Price List file the number
belongs to, `Source.read_at` the page it was read from when that is another one. Nothing here is derived or
guessed: a price no source gave for a region is absent (None, or missing from `instances`), and `mlplat cost` shows
that item as not priced instead of counting it.

Regions: the blueprint accepts any AWS region; this table covers us-east-1, us-west-2 and eu-west-1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Mapping

PRICES_DATE = date(2026, 11, 30)  # the day every price below was read
HOURS_PER_MONTH = 730  # AWS's own convention for monthly figures (pricing calculator, pricing pages)


@dataclass(frozen=True)
class Source:
    url: str  # the AWS pricing page (or Price List file) the number belongs to
    read_at: str = ""  # where it was read, when not at `url`
    note: str = ""


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str  # "hour", "month", "GB-month" or "ACU-hour"
    source: Source


@dataclass(frozen=True)
class InstancePrice:
    """An EC2 instance type's Linux on-demand price (shared tenancy) and the capacity Karpenter counts against pool
    limits: vCPUs, memory (GiB, as EC2 lists it) and GPUs or Neuron devices."""

    instance_type: str
    vcpus: int
    memory_gib: float
    accelerators: int
    usd_per_hour: float
    source: Source

    @property
    def family(self) -> str:
        return self.instance_type.split(".", 1)[0]


@dataclass(frozen=True)
class RegionPrices:
    region: str
    eks_standard: Price  # per cluster-hour, Kubernetes version in standard support
    eks_extended: Price  # per cluster-hour in extended support (the total, not a surcharge)
    nat_gateway: Price | None  # per NAT gateway-hour (data processed is per GB, not counted)
    public_ipv4: Price | None  # per public IPv4 address-hour (each NAT gateway holds one Elastic IP)
    aurora_serverless_v2_acu: Price | None  # per ACU-hour, Aurora PostgreSQL, Aurora Standard storage configuration
    fsx_lustre: Mapping[str, Price]  # per GB-month of provisioned capacity, by fsx_lustre_key()
    network_load_balancer: Price | None  # per NLB-hour (NLCUs are usage, not counted)
    kms_key: Price  # per customer managed key-month
    secret: Price  # per Secrets Manager secret-month
    instances: Mapping[str, InstancePrice] = field(default_factory=dict)


def fsx_lustre_key(deployment_type: str, throughput_mb_s_tib: int) -> str:
    """FSx for Lustre bills SSD persistent storage by throughput tier; SCRATCH_2 has one rate."""
    return "SCRATCH_2" if deployment_type == "SCRATCH_2" else f"{deployment_type}/{throughput_mb_s_tib}"


# --- sources ---------------------------------------------------------------------------------------------------------

EKS = Source(
    "https://aws.amazon.com/eks/pricing/",
    read_at="https://aws.amazon.com/blogs/containers/amazon-eks-extended-support-for-kubernetes-versions-pricing/",
    note="$0.10 per cluster-hour in standard support, $0.60 in total in extended support; one price, no regional "
         "variation stated",
)
EC2_US_EAST_1 = Source(
    "https://aws.amazon.com/ec2/pricing/on-demand/",
    read_at="https://github.com/aws/karpenter-provider-aws/blob/6fc13b5236fd04fd16ff3f9dc7490d0813994099/pkg/"
            "providers/pricing/zz_generated.pricing_aws.go",
    note="Karpenter's table generated 2026-07-20 from the AWS Price List API (us-east-1 only)",
)
EC2_CATALOG = Source(
    "https://aws.amazon.com/ec2/pricing/on-demand/",
    read_at="https://github.com/skypilot-org/skypilot-catalog/blob/00148f2af3672e2229b4f7bf8157d5a3f36e3c35/"
            "catalogs/v8/aws/vms.csv",
    note="SkyPilot's catalog of the AWS Price List (Price column: Linux on-demand); its us-east-1 rows equal "
         "EC2_US_EAST_1's for every type listed here",
)
NAT_US_EAST_1 = Source("https://aws.amazon.com/vpc/pricing/",
                       read_at="https://basavytix.com/blog/aws-nat-gateway-pricing", note="us-east-1 rates")
NAT_US_WEST_2 = Source("https://aws.amazon.com/vpc/pricing/",
                       read_at="https://cloudpipelines.pages.dev/guides/aws-nat-gateway-pricing-2026/",
                       note="US West (Oregon) row")
NAT_EU_WEST_1 = Source(
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/20260925174521/eu-west-1/index.json",
    note="usagetype EU-NatGateway-Hours, Price List published 2026-09-25; read in a public repository's verbatim "
         "extract of that file",
)
PUBLIC_IPV4 = Source("https://aws.amazon.com/vpc/pricing/", read_at="https://cloudburn.io/blog/aws-nat-gateway-pricing",
                     note="$0.005 per public IPv4 address-hour, stated without regional variation")
AURORA_US_EAST_1 = Source("https://aws.amazon.com/rds/aurora/pricing/",
                          read_at="https://c3x.dev/blog/aws-aurora-serverless-v2-cost/", note="us-east-1")
FSX_PERSISTENT_2_125 = Source("https://aws.amazon.com/fsx/lustre/pricing/",
                              read_at="https://c3x.dev/resources/aws/aws_fsx_lustre_file_system/",
                              note="SSD, 125 MB/s/TiB (1.2 TB at about $174 a month)")
FSX_SCRATCH_2 = Source("https://aws.amazon.com/fsx/lustre/pricing/",
                       read_at="https://learning-aws.readthedocs.io/en/latest/_sources/resources/pricing.rst.txt",
                       note="Scratch 2; the page names no region and calls its prices typical")
KMS = Source("https://aws.amazon.com/kms/pricing/", read_at="https://cloudburn.io/blog/aws-kms-pricing",
             note="$1/month per customer managed key, one price; each of a key's first two yearly rotations adds "
                  "$1/month (the May 2024 rule)")
SECRETS_MANAGER = Source(
    "https://aws.amazon.com/secrets-manager/pricing/",
    read_at="https://raw.githubusercontent.com/api-evangelist/amazon-secrets-manager/refs/heads/main/plans/"
            "amazon-secrets-manager-plans-pricing.yml",
    note="$0.40 per secret per month, from the page's pricing examples (transcribed 2026-09-20); one price",
)


def _instances(source: Source, rows: tuple[tuple[str, int, float, int, float], ...]) -> Mapping[str, InstancePrice]:
    """(type, vCPUs, memory GiB, accelerators, $/hour) rows. Specs are EC2's (the catalog lists them beside the
    price)."""
    return MappingProxyType({t: InstancePrice(t, v, m, a, usd, source) for t, v, m, a, usd in rows})


# --- regions ---------------------------------------------------------------------------------------------------------

# us-east-1: every family the pool kinds admit by default has its smallest size here (the cheapest per vCPU and per
# accelerator within a family). p5e has no us-east-1 on-demand price in Karpenter's table (not offered there).
US_EAST_1 = RegionPrices(
    region="us-east-1",
    eks_standard=Price(0.10, "hour", EKS),
    eks_extended=Price(0.60, "hour", EKS),
    nat_gateway=Price(0.045, "hour", NAT_US_EAST_1),
    public_ipv4=Price(0.005, "hour", PUBLIC_IPV4),
    aurora_serverless_v2_acu=Price(0.12, "ACU-hour", AURORA_US_EAST_1),
    fsx_lustre=MappingProxyType({
        "PERSISTENT_2/125": Price(0.145, "GB-month", FSX_PERSISTENT_2_125),
        "SCRATCH_2": Price(0.140, "GB-month", FSX_SCRATCH_2),
        # PERSISTENT_2 at 250/500/1000 MB/s/TiB: no source found.
    }),
    network_load_balancer=None,  # no source found
    kms_key=Price(1.00, "month", KMS),
    secret=Price(0.40, "month", SECRETS_MANAGER),
    instances=_instances(EC2_US_EAST_1, (
        ("m7i.large", 2, 8, 0, 0.1008), ("m7i.xlarge", 4, 16, 0, 0.2016),
        ("m6i.large", 2, 8, 0, 0.096), ("m6i.xlarge", 4, 16, 0, 0.192),
        ("m7a.medium", 1, 4, 0, 0.05796),
        ("c7i.large", 2, 4, 0, 0.08925), ("c7a.medium", 1, 2, 0, 0.05132), ("c6i.large", 2, 4, 0, 0.085),
        ("g5.xlarge", 4, 16, 1, 1.006), ("g6.xlarge", 4, 16, 1, 0.8048), ("g6e.xlarge", 4, 32, 1, 1.861),
        ("p4d.24xlarge", 96, 1152, 8, 21.957642), ("p4de.24xlarge", 96, 1152, 8, 27.44705),
        ("p5.4xlarge", 16, 256, 1, 6.88), ("p5.48xlarge", 192, 2048, 8, 55.04),
        ("p5en.48xlarge", 192, 2048, 8, 63.296),
        ("trn1.2xlarge", 8, 32, 1, 1.34375), ("trn1.32xlarge", 128, 512, 16, 21.5),
        ("trn1n.32xlarge", 128, 512, 16, 24.78),
        ("inf2.xlarge", 4, 16, 1, 0.7582), ("inf1.xlarge", 4, 8, 1, 0.228),
        ("t4g.nano", 2, 0.5, 0, 0.0042),
    )),
)

# us-west-2: EC2 rows read from the catalog. Not found for this region: m7a, the p families (p4d, p4de, p5, p5e,
# p5en) and trn1/trn1n; Aurora Serverless v2; FSx for Lustre; NLB. Those items show as not priced.
US_WEST_2 = RegionPrices(
    region="us-west-2",
    eks_standard=Price(0.10, "hour", EKS),
    eks_extended=Price(0.60, "hour", EKS),
    nat_gateway=Price(0.045, "hour", NAT_US_WEST_2),
    public_ipv4=Price(0.005, "hour", PUBLIC_IPV4),
    aurora_serverless_v2_acu=None,
    fsx_lustre=MappingProxyType({}),
    network_load_balancer=None,
    kms_key=Price(1.00, "month", KMS),
    secret=Price(0.40, "month", SECRETS_MANAGER),
    instances=_instances(EC2_CATALOG, (
        ("m7i.xlarge", 4, 16, 0, 0.2016), ("m6i.2xlarge", 8, 32, 0, 0.384),
        ("c6i.large", 2, 4, 0, 0.085), ("c6i.xlarge", 4, 8, 0, 0.17), ("c7a.medium", 1, 2, 0, 0.05132),
        ("c7i.12xlarge", 48, 96, 0, 2.142),
        ("g5.xlarge", 4, 16, 1, 1.006), ("g6.xlarge", 4, 16, 1, 0.8048),
        ("g6e.12xlarge", 48, 384, 4, 10.49264), ("g6e.16xlarge", 64, 512, 1, 7.57719),
        ("inf2.xlarge", 4, 16, 1, 0.7582), ("inf2.24xlarge", 96, 384, 6, 6.49063),
        ("inf1.xlarge", 4, 8, 1, 0.228), ("inf1.2xlarge", 8, 16, 1, 0.362),
        ("t4g.nano", 2, 0.5, 0, 0.0042),
    )),
)

# eu-west-1: EC2 rows read from the catalog; it has no eu-west-1 rows for g6 or g6e (not offered there). Not found
# for this region: m7a, the p families, trn1/trn1n; Aurora Serverless v2; FSx for Lustre; NLB.
EU_WEST_1 = RegionPrices(
    region="eu-west-1",
    eks_standard=Price(0.10, "hour", EKS),
    eks_extended=Price(0.60, "hour", EKS),
    nat_gateway=Price(0.048, "hour", NAT_EU_WEST_1),
    public_ipv4=Price(0.005, "hour", PUBLIC_IPV4),
    aurora_serverless_v2_acu=None,
    fsx_lustre=MappingProxyType({}),
    network_load_balancer=None,
    kms_key=Price(1.00, "month", KMS),
    secret=Price(0.40, "month", SECRETS_MANAGER),
    instances=_instances(EC2_CATALOG, (
        ("m7i.xlarge", 4, 16, 0, 0.2247), ("m6i.2xlarge", 8, 32, 0, 0.428),
        ("c6i.large", 2, 4, 0, 0.0912), ("c6i.xlarge", 4, 8, 0, 0.1824), ("c7a.medium", 1, 2, 0, 0.05506),
        ("c7i.12xlarge", 48, 96, 0, 2.29824),
        ("g5.xlarge", 4, 16, 1, 1.123),
        ("inf2.xlarge", 4, 16, 1, 0.94775), ("inf2.24xlarge", 96, 384, 6, 8.11329),
        ("inf1.xlarge", 4, 8, 1, 0.254), ("inf1.2xlarge", 8, 16, 1, 0.403),
        ("t4g.nano", 2, 0.5, 0, 0.0046),
    )),
)

REGIONS: Mapping[str, RegionPrices] = MappingProxyType({p.region: p for p in (US_EAST_1, US_WEST_2, EU_WEST_1)})
