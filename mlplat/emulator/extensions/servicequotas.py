"""EC2's vCPU quotas in Service Quotas, which moto models for the VPC service only.

`mlplat preflight` compares each node pool's CPU limit with the account's Running On-Demand and Spot vCPU quotas.
Quota codes and names as Service Quotas lists them for ec2: mlplat/preflight.py's record. The values are the
emulator account's, not AWS defaults (a new account starts far lower, often at 0 for accelerated families): an account
whose quotas were raised for the default blueprint, every vCPU quota at EMULATOR_VCPU_QUOTA. Tests lower a quota with `set_ec2_quota`, as a team's account might have it.
"""

from __future__ import annotations

from typing import Any

from moto.servicequotas.exceptions import NoSuchResource
from moto.servicequotas.models import ServiceQuotasBackend, servicequotas_backends

from mlplat.preflight import QUOTAS

EC2_SERVICE_NAME = "Amazon Elastic Compute Cloud (Amazon EC2)"
# The codes and names mlplat's preflight asks for (recorded there, with their source).
EC2_VCPU_QUOTAS: dict[str, str] = dict(QUOTAS.values())
EMULATOR_VCPU_QUOTA = 4096.0

_moto_get_service_quota = ServiceQuotasBackend.get_service_quota


def _applied(backend: ServiceQuotasBackend) -> dict[str, float]:
    if not hasattr(backend, "ec2_vcpu_quotas"):
        backend.ec2_vcpu_quotas = {code: EMULATOR_VCPU_QUOTA for code in EC2_VCPU_QUOTAS}  # type: ignore[attr-defined]
    return backend.ec2_vcpu_quotas  # type: ignore[attr-defined, no-any-return]


def set_ec2_quota(account_id: str, region: str, quota_code: str, value: float) -> None:
    """Give the emulator account's quota `quota_code` in `region` a value (tests; the API only requests increases)."""
    if quota_code not in EC2_VCPU_QUOTAS:
        raise KeyError(f"unknown EC2 vCPU quota {quota_code}; known: {', '.join(EC2_VCPU_QUOTAS)}")
    _applied(servicequotas_backends[account_id][region])[quota_code] = float(value)


def _get_service_quota(backend: ServiceQuotasBackend, service_code: str, quota_code: str) -> dict[str, Any]:
    if service_code != "ec2":
        return _moto_get_service_quota(backend, service_code, quota_code)
    if quota_code not in EC2_VCPU_QUOTAS:
        raise NoSuchResource
    return {
        "ServiceCode": "ec2", "ServiceName": EC2_SERVICE_NAME, "QuotaCode": quota_code,
        "QuotaName": EC2_VCPU_QUOTAS[quota_code],
        "QuotaArn": f"arn:{backend.partition}:servicequotas:{backend.region_name}:{backend.account_id}:ec2/{quota_code}",
        "Value": _applied(backend)[quota_code], "Unit": "None", "Adjustable": True, "GlobalQuota": False,
        "UsageMetric": {"MetricNamespace": "AWS/Usage", "MetricName": "ResourceCount",
                        "MetricDimensions": {"Class": "vCPU", "Resource": "vCPU", "Service": "EC2", "Type": "Resource"},
                        "MetricStatisticRecommendation": "Maximum"},
    }


def install() -> None:
    ServiceQuotasBackend.get_service_quota = _get_service_quota  # type: ignore[method-assign]
