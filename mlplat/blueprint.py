"""The blueprint: `blueprint.tfvars` parsed into one typed, validated, frozen object before any construct exists.

Keys keep the names of awslabs/ai-on-eks (JARK) where one exists. Feature areas contribute their keys as dataclass
mixins (node pools, observability, modules), so each area owns its keys, defaults, documentation and rules.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import ipaddress
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import hcl2
from hcl2 import SerializationOptions
from lark.exceptions import UnexpectedInput

from mlplat import hcl, versions
from mlplat.addons import POOLS, yaml_problem
from mlplat.anchor_keys import refusals
from mlplat.catalog import REGISTRY, by_name
from mlplat.errors import BlueprintError
from mlplat.modules_config import PLATFORM_POOL, ModuleKeys
from mlplat.nodepools import POOL_KINDS, NodePoolKeys
from mlplat.observability_config import ObservabilityKeys
from mlplat.workloads_config import WorkloadKeys
from mlplat.slurm_config import SlurmKeys
from mlplat.airflow_config import AirflowKeys
from mlplat.schema import Problems, build, explicit_field, field
from mlplat.settings import today
from mlplat.zones import is_zone_id, zone_problem

DEFAULT_BLUEPRINT = Path("blueprint.tfvars")
_FSX_KEYS = ("fsx_deployment_type", "fsx_storage_capacity", "fsx_throughput", "fsx_s3_import_path")
NAME_PATTERN = r"[a-z][a-z0-9-]{1,30}[a-z0-9]"
_ARN_PRINCIPAL = r"arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)/[\w+=,.@/-]+"




@dataclasses.dataclass(frozen=True)
class CoreKeys:
    name: str = field(
        "mlplat", "Platform name; prefixes every AWS resource and names the EKS cluster.",
        pattern=NAME_PATTERN, pattern_doc="3-32 lowercase letters, digits and hyphens, starting with a letter",
    )
    region: str = field(
        "us-west-2", "AWS region to deploy to.",
        pattern=r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", pattern_doc="an AWS region name such as 'us-west-2'",
    )
    eks_cluster_version: str = field(
        versions.EKS_DEFAULT_VERSION, "Kubernetes version of the EKS control plane, its managed add-ons and system "
        "nodes; `validate` warns when it is in extended support (6x the control-plane price) and refuses one EKS no "
        "longer offers.", pattern=r"\d+\.\d+", pattern_doc="a Kubernetes minor version such as '1.36'",
    )
    availability_zones_count: int = field(
        2, "How many of the region's zones to spread subnets over: the first ones the account offers (read at plan "
        "time); use `azs` to name them.", minimum=2, maximum=6,
    )
    azs: tuple[str, ...] = field(
        (), "Explicit availability zones, by name ('us-west-2a') or zone ID ('usw2-az1'); overrides "
        "availability_zones_count. Checked against the account's zones at plan time.", unique=True,
    )
    vpc_cidr: str = field("10.1.0.0/16", "VPC CIDR block, a /16 to /20 (private subnets get 1/8 of it per AZ).")
    single_nat_gateway: bool = field(
        True, "One shared NAT gateway (cheaper) instead of one per AZ (survives an AZ outage).",
    )
    neuron_az: str | None = field(
        None, "Zone (name or ID) whose private subnet Trainium/Inferentia2 pools are pinned to (trn1/trn2 capacity is "
        "zonal); one of the platform's zones.",
    )
    cuda_efa_az: str | None = field(
        None, "Zone (name or ID) whose private subnet the GPU+EFA pool is pinned to (EFA needs all nodes of a job in "
        "one AZ); one of the platform's zones.",
    )
    cluster_endpoint_public_access_cidrs: tuple[str, ...] = field(
        (), "CIDRs allowed to reach the public EKS API endpoint; empty keeps the endpoint private only.", unique=True,
    )
    create_cluster_access_node: bool = field(
        True, "Create the cluster access node: a t4g.nano in a private subnet, managed by Systems Manager, with no "
        "inbound rule, through which mlplat (deploy, destroy, kubeconfig --tunnel, open) reaches the private EKS "
        "endpoint from outside the VPC over an SSM port-forwarding session. Turn off when the endpoint is reached "
        "another way (cluster_endpoint_public_access_cidrs, a VPN, a runner inside the VPC).",
    )
    admin_principal_arns: tuple[str, ...] = field(
        (), "IAM roles/users granted cluster admin through EKS access entries.", unique=True,
        pattern=_ARN_PRINCIPAL, pattern_doc="an IAM role or user ARN such as 'arn:aws:iam::123456789012:role/Admin'",
    )
    enable_cluster_creator_admin_permissions: bool = field(
        True, "Grant cluster admin to the IAM role or user that deploys (one explicit access entry, merged with "
        "admin_principal_arns when it is listed there too).",
    )
    system_node_instance_types: tuple[str, ...] = field(
        ("m7i.xlarge", "m6i.xlarge"), "Instance types of the tainted system managed node group (controllers, add-ons).",
        unique=True, pattern=r"[a-z][a-z0-9-]*\.[a-z0-9]+", pattern_doc="an EC2 instance type such as 'm6i.large'",
    )
    system_node_min_size: int = field(2, "Minimum size of the system node group.", minimum=1, maximum=100)
    system_node_max_size: int = field(4, "Maximum size of the system node group.", minimum=1, maximum=100)
    system_node_desired_size: int = field(2, "Initial size of the system node group.", minimum=1, maximum=100)
    system_node_disk_gib: int = field(
        100, "Encrypted gp3 root volume size of system nodes (GiB).", minimum=20, maximum=16384,
    )
    enable_vpc_flow_logs: bool = field(
        True, "Record the VPC's accepted and rejected traffic in a KMS-encrypted CloudWatch log group (90 days).",
    )
    enable_efs: bool = field(True, "Create an encrypted EFS file system with a mount target per AZ.")
    enable_fsx: bool = field(False, "Create an FSx for Lustre file system linked to an S3 bucket.")
    fsx_deployment_type: str = field(
        "PERSISTENT_2", "FSx for Lustre deployment type.", choices=("PERSISTENT_2", "SCRATCH_2"),
    )
    fsx_storage_capacity: int = field(
        1200, "FSx for Lustre capacity in GiB: 1200, 2400, or a multiple of 2400 above that.", minimum=1200,
        maximum=2_400_000,
    )
    fsx_throughput: int = field(
        125, "PERSISTENT_2 throughput per TiB (MB/s/TiB); not used by SCRATCH_2.", choices=(125, 250, 500, 1000),
    )
    fsx_s3_import_path: str | None = field(
        None, "s3://bucket[/prefix] to link to FSx; empty creates and links a bucket owned by this platform.",
        pattern=r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?", pattern_doc="an S3 URL such as 's3://my-bucket/prefix'",
    )
    empty_buckets_on_destroy: bool = field(
        False, "Let destroy delete the platform's S3 buckets (FSx-linked data, MLflow artifacts, Loki's logs) with "
        "every object and version in them; off, `mlplat destroy` refuses while they hold data. Deploy it before "
        "destroying.",
    )
    state_bucket: str | None = field(
        None, "S3 bucket that keeps the terraform state (versioned, SSE-KMS, public access blocked, TLS only, "
        "S3 lock file); `mlplat bootstrap` creates it or checks an existing one. Empty: local state files. "
        "Not used with --local.",
        pattern=r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", pattern_doc="an S3 bucket name such as 'acme-tf-state'",
    )
    state_bucket_region: str | None = field(
        None, "The state bucket's region, when it is not `region` (a team's bucket often serves every region).",
        pattern=r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", pattern_doc="an AWS region name such as 'us-east-1'",
    )
    state_key_prefix: str = field(
        "", "Prefix of the state objects' keys in the state bucket: `<prefix>/<name>/<stack>.tfstate`.",
        pattern=r"([A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+|", pattern_doc="a key prefix such as 'platforms/prod' (no "
        "leading or trailing '/')",
    )
    tags: Mapping[str, str] = field(
        MappingProxyType({}), "Tags added to every AWS resource (besides Platform and ManagedBy).",
    )
    addon_values: Mapping[str, str] = field(
        MappingProxyType({}), "Helm values files merged over an add-on's base values (helm-values/), by add-on "
        "name; paths are relative to the blueprint. Platform-owned keys are set after them.",
    )

    # Rules that span several keys. Each returns (key, message) pairs.
    def _rules_core(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        if self.azs and "availability_zones_count" in self._explicit:
            out.append((("availability_zones_count",), "set either azs or availability_zones_count, not both"))
        if self.azs and len(self.azs) < 2:
            out.append((("azs",), f"expected at least 2 availability zones (EKS needs two), got {len(self.azs)}"))
        for i, az in enumerate(self.azs):
            if (problem := zone_problem(az, self.region)) is not None:
                out.append((("azs", f"[{i}]"), problem))
        for key in ("neuron_az", "cuda_efa_az"):
            az = getattr(self, key)
            if az is None:
                continue
            if (problem := zone_problem(az, self.region)) is not None:
                out.append(((key,), problem))
            elif self.azs and is_zone_id(az) == all(is_zone_id(z) for z in self.azs) and az not in self.azs:
                out.append(((key,), f"expected one of the platform's availability zones ({', '.join(self.azs)}), "
                                    f"got {az!r}"))
        out.extend(self._version_problems())
        try:
            net = ipaddress.ip_network(self.vpc_cidr, strict=True)
        except ValueError:
            out.append((("vpc_cidr",), f"expected an IPv4 network such as '10.1.0.0/16', got {self.vpc_cidr!r}"))
        else:
            if net.version != 4 or not 16 <= net.prefixlen <= 20:
                out.append((("vpc_cidr",), f"expected an IPv4 network from /16 to /20, got {self.vpc_cidr!r}"))
            elif not net.is_private:
                out.append((("vpc_cidr",), f"expected a private (RFC 1918) range, got {self.vpc_cidr!r}"))
        for i, cidr in enumerate(self.cluster_endpoint_public_access_cidrs):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                out.append((("cluster_endpoint_public_access_cidrs", f"[{i}]"),
                            f"expected a CIDR such as '203.0.113.0/24', got {cidr!r}"))
        if not self.system_node_min_size <= self.system_node_desired_size <= self.system_node_max_size:
            sizes = ("system_node_desired_size", "system_node_max_size", "system_node_min_size")
            out.append(((next((k for k in sizes if k in self._explicit), sizes[0]),),
                        f"expected system_node_min_size <= system_node_desired_size <= system_node_max_size, got "
                        f"{self.system_node_min_size} <= {self.system_node_desired_size} <= {self.system_node_max_size}"))
        cap = self.fsx_storage_capacity
        if cap not in (1200, 2400) and cap % 2400 != 0:
            out.append((("fsx_storage_capacity",),
                        f"expected 1200, 2400 or a multiple of 2400 (FSx for Lustre SSD sizes), got {cap}"))
        if "system_node_instance_types" in self._explicit:
            known = ec2_instance_types()
            for i, itype in enumerate(self.system_node_instance_types):
                if itype not in known:
                    hint = difflib.get_close_matches(itype, sorted(known), n=1)
                    extra = f"; did you mean {hint[0]!r}?" if hint else ""
                    out.append((("system_node_instance_types", f"[{i}]"),
                                f"{itype!r} is not an EC2 instance type{extra}"))
        for key in ("state_bucket_region", "state_key_prefix"):
            if key in self._explicit and not self.state_bucket:
                out.append(((key,), "has no effect without state_bucket; set state_bucket or remove this key"))
        for key in _FSX_KEYS:
            if key in self._explicit and not self.enable_fsx:
                out.append(((key,), "has no effect without enable_fsx = true; set it or remove this key"))
        for key in ("neuron_az", "cuda_efa_az"):
            pools = [k.name for k in POOL_KINDS.values() if k.az_key == key]
            if getattr(self, key) is not None and not any(p.name in pools for p in self.enabled_pools):
                out.append(((key,), f"has no effect: no enabled pool is pinned by it ({', '.join(pools)}); enable "
                                    f"one (nodepools.{pools[0]}.enabled = true) or remove this key"))
        if self.empty_buckets_on_destroy and not (self.create_fsx_bucket or self.enable_mlflow
                                                  or self.needs_loki_bucket or self.enable_airflow):
            out.append((("empty_buckets_on_destroy",), "has no effect: the platform owns no bucket (FSx with its own "
                                                       "bucket, MLflow, Airflow or Loki on S3 creates one); remove "
                                                       "this key"))
        if self.fsx_deployment_type == "SCRATCH_2" and "fsx_throughput" in self._explicit:
            out.append((("fsx_throughput",), "SCRATCH_2 has a fixed throughput; remove fsx_throughput or use PERSISTENT_2"))
        for key, value in self.tags.items():
            if key.lower().startswith("aws:"):
                out.append((("tags", key), "tag keys starting with 'aws:' are reserved by AWS"))
            if len(key) > 128 or len(value) > 256:
                out.append((("tags", key), "expected a tag key up to 128 and a value up to 256 characters"))
        return out

    def _rules_addons(self) -> list[tuple[tuple[str, ...], str]]:
        """Rules that need the add-on registry: values files for add-ons that exist and are on, and capacity for the
        add-ons that run on Karpenter's general pool."""
        out: list[tuple[tuple[str, ...], str]] = []
        known = by_name()
        enabled = [a for a in REGISTRY if a.enabled(self)]
        for addon, path in self.addon_values.items():
            if addon not in known:
                hint = difflib.get_close_matches(addon, list(known), n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(sorted(known))}"
                out.append((("addon_values", addon), f"unknown add-on{extra}"))
            elif known[addon] not in enabled:
                toggle = f"set {known[addon].toggle} = true or " if known[addon].toggle else ""
                out.append((("addon_values", addon), f"has no effect: the {addon} add-on is not enabled; {toggle}"
                                                     f"remove this entry"))
            elif (problem := yaml_problem(self.resolve_path(path))) is not None:
                out.append((("addon_values", addon), problem))
        on_pools = [a.name for a in enabled if a.placement == POOLS]
        if on_pools and PLATFORM_POOL not in {p.name for p in self.enabled_pools}:  # type: ignore[attr-defined]
            out.append((("nodepools", PLATFORM_POOL), f"{', '.join(on_pools)} run on the {PLATFORM_POOL} pool (the "
                                                      f"only one without taints), which is disabled; enable it or "
                                                      f"turn those add-ons off"))
        return out

    def _version_problems(self) -> list[tuple[tuple[str, ...], str]]:
        calendar = versions.EKS_CALENDAR
        offered = ", ".join(repr(v) for v in versions.eks_versions_offered(today()))
        eks = calendar.get(self.eks_cluster_version)
        if eks is None:
            return [(("eks_cluster_version",), f"expected one of {offered}, got {self.eks_cluster_version!r} (this "
                                               f"mlplat release records no EKS support dates or pins for it)")]
        if versions.eks_support(eks.minor, today()) == "ended":
            return [(("eks_cluster_version",),
                     f"EKS no longer creates or runs clusters on {eks.minor}: its extended support ended on "
                     f"{eks.end_of_extended_support.isoformat()}; use {versions.EKS_DEFAULT_VERSION!r} (or one of "
                     f"{offered})")]
        return []

    def _warnings_core(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        for i, cidr in enumerate(self.cluster_endpoint_public_access_cidrs):
            if cidr.endswith("/0"):
                out.append((("cluster_endpoint_public_access_cidrs", f"[{i}]"),
                            f"{cidr} opens the Kubernetes API endpoint to the whole internet (it still needs valid "
                            f"credentials); list your egress ranges instead"))
        return out

    def _warnings_empty_file(self) -> list[tuple[tuple[str, ...], str]]:
        if self._explicit:
            return []
        return [(("blueprint",), f"the file sets no keys: this is a platform named {self.name!r} in {self.region} "
                                 f"with every default (`mlplat init` writes a starter to edit)")]

    def _warnings_version(self) -> list[tuple[tuple[str, ...], str]]:
        eks = versions.EKS_CALENDAR.get(self.eks_cluster_version)
        if eks is None or versions.eks_support(eks.minor, today()) != "extended":
            return []
        return [(("eks_cluster_version",),
                 f"{eks.minor} is in EKS extended support (standard support ended on "
                 f"{eks.end_of_standard_support.isoformat()}): the control plane costs "
                 f"${versions.EKS_EXTENDED_PRICE_PER_HOUR:.2f} instead of ${versions.EKS_STANDARD_PRICE_PER_HOUR:.2f} "
                 f"per hour (6x), and EKS upgrades it on {eks.end_of_extended_support.isoformat()}; use "
                 f"{versions.EKS_DEFAULT_VERSION!r}")]

    def resolve_path(self, path: str) -> Path:
        return Path(self._source).parent / path

    @property
    def zone_count(self) -> int:
        """How many zones (subnet pairs) the platform spans."""
        return len(self.azs) if self.azs else self.availability_zones_count

    @property
    def zones_doc(self) -> str:
        """The platform's zones in words, for messages."""
        if self.azs:
            return ", ".join(self.azs)
        return f"the first {self.availability_zones_count} zones of {self.region}, or those listed in azs"

    @property
    def create_fsx_bucket(self) -> bool:
        return self.enable_fsx and self.fsx_s3_import_path is None


@dataclasses.dataclass(frozen=True)
class Blueprint(AirflowKeys, SlurmKeys, WorkloadKeys, ObservabilityKeys, ModuleKeys, NodePoolKeys, CoreKeys):
    _explicit: frozenset[str] = explicit_field()
    _source: str = dataclasses.field(default="blueprint.tfvars", repr=False, compare=False)
    # Line of each key the file sets (for messages after parsing, such as warnings).
    _lines: Mapping[tuple[str, ...], int] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def problems(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        for name in sorted(n for n in dir(type(self)) if n.startswith("_rules_")):
            out.extend(getattr(self, name)())
        return out

    def warnings(self) -> list[str]:
        """`file:line: key: warning: ...` lines for settings that work but cost or risk more than they should."""
        found = [w for name in sorted(n for n in dir(type(self)) if n.startswith("_warnings_"))
                 for w in getattr(self, name)()]
        return [f"{self._source}:{locate(self._lines, path)}: {dotted(path)}: warning: {message}"
                for path, message in found]


# The anchors' names that are not keys here get their own answer (the mlplat key to use, or why it is not offered)
# instead of a did-you-mean; schema.build reads `_retired`.
Blueprint._retired = refusals({f.name for f in dataclasses.fields(Blueprint)})  # type: ignore[attr-defined]


# --- loading ---------------------------------------------------------------------------------------------------------

@functools.cache
def ec2_instance_types() -> frozenset[str]:
    """Every EC2 instance type, as AWS's own EC2 API model lists them (botocore's ec2 service model, InstanceType)."""
    import botocore.loaders

    model = botocore.loaders.Loader().load_service_model("ec2", "service-2")
    return frozenset(model["shapes"]["InstanceType"]["enum"])


def locate(lines: Mapping[tuple[str, ...], int], path: tuple[str, ...]) -> int:
    """1-based line of the deepest key of `path` the file sets (a key the file does not set: its nearest parent's, or
    line 1 for a top-level default)."""
    keys = tuple(p for p in path if not p.startswith("["))  # list items report the line of their list
    for end in range(len(keys), 0, -1):
        if keys[:end] in lines:
            return lines[keys[:end]]
    return 1


def dotted(path: tuple[str, ...]) -> str:
    return "".join(p if p.startswith("[") else ("." + p if i else p) for i, p in enumerate(path))


def parse_text(text: str, source: str) -> Blueprint:
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark, as some editors write
    try:
        data = hcl2.loads(text, serialization_options=SerializationOptions(strip_string_quotes=True, with_comments=False))
        syntax = hcl.inspect(text)
    except UnexpectedInput as exc:
        opened = hcl.unclosed(text)
        if opened is not None:  # reported where it opens, as Terraform does, not at the end of the file
            line, what = opened
            raise BlueprintError([f"{source}:{line}: syntax: {what} starts here; close it"]) from None
        line = getattr(exc, "line", 1) or 1
        token = getattr(exc, "token", None)
        near = f" near {str(token).strip()!r}" if token is not None and str(token).strip() else ""
        raise BlueprintError([f"{source}:{line}: syntax: not valid HCL{near}; expected `key = value` lines "
                              f"(see blueprints/ for examples)"]) from None
    except Exception as exc:  # python-hcl2 raises plain exceptions for some malformed input
        raise BlueprintError([f"{source}:1: syntax: not valid HCL ({exc}); expected `key = value` lines"]) from None
    if not isinstance(data, dict):
        raise BlueprintError([f"{source}:1: syntax: expected `key = value` lines"])
    problems = Problems()
    for path, _, message in syntax.problems:
        problems.add(path, message)
    blueprint = build(Blueprint, data, (), problems) if not problems else None
    if not problems:
        blueprint = dataclasses.replace(blueprint, _source=source)
        for path, message in blueprint.problems():
            problems.add(path, message)
    if problems:
        lines = {**syntax.lines, **{p: line for p, line, _ in syntax.problems}}
        ordered = sorted(((locate(lines, p), dotted(p), m) for p, m in problems.items), key=lambda t: (t[0], t[1]))
        raise BlueprintError([f"{source}:{line}: {key}: {message}" for line, key, message in ordered])
    return dataclasses.replace(blueprint, _lines=syntax.lines)


def load(path: str | Path) -> Blueprint:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BlueprintError([f"{path}:0: blueprint: file not found; create one with `mlplat init` or pass "
                              f"--blueprint PATH"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BlueprintError([f"{path}:0: blueprint: cannot read the file ({exc})"]) from None
    return parse_text(text, str(path))


def keys_reference() -> list[tuple[str, str, Any, str]]:
    """(key, type in words, default, doc) for every top-level key, in documentation order."""
    from mlplat.schema import type_words
    import typing

    hints = typing.get_type_hints(Blueprint)
    rows = []
    for cls in reversed(Blueprint.__mro__[1:-1]):
        for f in dataclasses.fields(cls):
            if f.name.startswith("_") or f.name not in cls.__dict__.get("__annotations__", {}):
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            rows.append((f.name, type_words(hints[f.name]), default, f.metadata.get("doc", "")))
    return rows


def load_or_exit(path: str | Path) -> Blueprint:
    """For entry points outside the CLI (`python main.py`, `cdktn synth`): print the problems and exit 2."""
    import sys

    try:
        return load(path)
    except BlueprintError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
