"""EC2 as a real account answers it.

Refusals AWS makes and moto does not (each one a deploy or destroy that works on moto and fails on AWS):
- a subnet in a zone the region does not have (moto accepts any region's zone names);
- deleting a subnet that network interfaces still use (e.g. left by instances Terraform never knew about), a security
  group that an interface or another group's rule still uses, an interface still attached to a running instance, or
  a VPC that still has non-default security groups, an attached internet gateway or a VPC endpoint; every refused
  DeleteVpc, moto's own (subnets, route tables, VPN gateways) included, is worded as EC2 words it; releasing an
  Elastic IP still associated in a nondefault VPC.
CreateVpcEndpoint without a type makes a Gateway endpoint, as EC2 does (moto's typeless endpoint cannot be deleted).
What lifts those refusals as on AWS: NAT gateways release their network interface when deleted, and the interfaces
RunInstances creates go with their instance unless the request says otherwise (moto keeps both, which would block the
subnet and its security groups for good).
RunInstances' network-interface TagSpecifications tag the interfaces it creates (moto drops them; Karpenter relies on
them, and the destroy sweep finds Karpenter's interfaces by them).
MonitorInstances and UnmonitorInstances (detailed monitoring), which moto does not implement: the AWS provider calls
them for an instance with `monitoring = true`; the answer is "pending" and the instance reads back "enabled"/"disabled".
DescribeInstanceTypeOfferings filter values take EC2's wildcards (`*`, `?`), as in `instance-type = g6e.*`; moto
matches them literally, so a family query finds nothing.
And the zones' opt-in status: DescribeAvailabilityZones reports `OptInStatus` and honours the `opt-in-status` filter,
both of which moto ignores (every zone here needs no opt-in).

Four EC2 read-back bugs of moto 5.2 that make a second `terraform plan` show changes:

- an instance launched with its security groups in the network interface specification reads back none (moto keeps
  them on the interface only); EC2 reports the primary interface's groups as the instance's;
- a network interface without a public IP reads back an empty `Association` element, which the provider takes for
  a public IP (an instance with associate_public_ip_address = false is replaced on every plan); EC2 omits it;

- a security group rule that references another group loses its description (moto reads it only from CIDR ranges);
- CreateLaunchTemplate's own TagSpecifications (the tags of the launch template resource, e.g. the provider's
  default_tags) are copied into the template's *data*, as if instances should get them, so the template reads back
  a `tag_specifications` block nobody configured.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import DependencyViolationError, EC2ClientError, InvalidAvailabilityZoneError
from moto.ec2.models import EC2Backend
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend, Zone
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ec2.models.instance_types import InstanceTypeOfferingBackend
from moto.ec2.models.instances import Instance
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.ec2.responses.elastic_network_interfaces import ElasticNetworkInterfaces
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.responses.monitoring import Monitoring
from moto.ec2.utils import parse_user_data


def _rule_description(rule: SecurityGroupRule) -> str | None:
    return rule.ip_range.get("Description") or rule.source_group.get("Description")


def _create_launch_template(self: LaunchTemplates) -> ActionResult:
    name = self._get_param("LaunchTemplateName")
    version_description = self._get_param("VersionDescription")
    tag_spec = self._parse_tag_specification()
    template_data: dict[str, Any] = self._get_param("LaunchTemplateData", {})
    template_data["UserData"] = parse_user_data(self._get_param("LaunchTemplateData.UserData"))
    self.error_on_dryrun()
    # The request's TagSpecifications tag the launch template itself; only LaunchTemplateData's apply to instances.
    template = self.ec2_backend.create_launch_template(name, version_description, template_data, tag_spec)
    version = template.default_version()
    return ActionResult(
        {
            "LaunchTemplate": {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersionNumber": template.default_version_number,
                "LatestVersionNumber": version.number,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "Tags": template.tags,
            },
        }
    )


_moto_create_subnet = EC2Backend.create_subnet
_moto_delete_subnet = EC2Backend.delete_subnet
_moto_delete_security_group = EC2Backend.delete_security_group
_moto_delete_vpc = EC2Backend.delete_vpc
_moto_describe_availability_zones = RegionsAndZonesBackend.describe_availability_zones
_moto_prep_nics = Instance.prep_nics
_moto_run_instances = EC2Backend.run_instances
_moto_delete_nat_gateway = EC2Backend.delete_nat_gateway
_moto_release_address = EC2Backend.release_address
_moto_create_vpc_endpoint = EC2Backend.create_vpc_endpoint
OPT_IN_NOT_REQUIRED = "opt-in-not-required"


def _region_zones(backend: EC2Backend) -> list[Zone]:
    return list(RegionsAndZonesBackend.zones.get(backend.region_name, []))


def _create_subnet(backend: EC2Backend, vpc_id: str, cidr_block: str, ipv6_cidr_block: str | None = None,
                   availability_zone: str | None = None, availability_zone_id: str | None = None,
                   *args: Any, **kwargs: Any) -> Any:
    zones = _region_zones(backend)
    wanted, known = ((availability_zone, [z.name for z in zones]) if availability_zone or not availability_zone_id
                     else (availability_zone_id, [z.zone_id for z in zones]))
    if wanted is None:  # AWS picks a zone of the region; moto would pick us-east-1a whatever the region
        availability_zone = wanted = zones[0].name
    if wanted not in known:
        raise InvalidAvailabilityZoneError(wanted, ", ".join(z.name for z in zones))
    return _moto_create_subnet(backend, vpc_id, cidr_block, ipv6_cidr_block, availability_zone, availability_zone_id,
                               *args, **kwargs)


def _describe_availability_zones(backend: RegionsAndZonesBackend, filters: dict[str, Any] | None = None,
                                 zone_names: list[str] | None = None, zone_ids: list[str] | None = None) -> list[Zone]:
    filters = dict(filters or {})
    opt_in = filters.pop("opt-in-status", None)
    zones = _moto_describe_availability_zones(backend, filters, zone_names=zone_names, zone_ids=zone_ids)
    return [z for z in zones if opt_in is None or OPT_IN_NOT_REQUIRED in opt_in]


def _interfaces(backend: EC2Backend) -> list[Any]:
    return list(backend.enis.values())


def _delete_subnet(backend: EC2Backend, subnet_id: str) -> Any:
    if any(getattr(eni.subnet, "id", None) == subnet_id for eni in _interfaces(backend)):
        raise DependencyViolationError(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
    return _moto_delete_subnet(backend, subnet_id)


def _delete_security_group(backend: EC2Backend, name: str | None = None, group_id: str | None = None) -> None:
    if not group_id and name:  # by name (default VPC groups only): check the group the name stands for
        group = backend.get_security_group_by_name_or_id(name)
        group_id = None if group is None else group.id
    if group_id and any(group_id in {g.id for g in eni.group_set} for eni in _interfaces(backend)):
        raise DependencyViolationError(f"resource {group_id} has a dependent object")
    if group_id and _referenced_by_another_group(backend, group_id):
        raise DependencyViolationError(f"resource {group_id} has a dependent object")
    return _moto_delete_security_group(backend, name=name, group_id=group_id)


def _referenced_by_another_group(backend: EC2Backend, group_id: str) -> bool:
    """A rule of another group that names this one (EC2 refuses to delete a group still referenced)."""
    for groups in backend.groups.values():
        for group in groups.values():
            if group.id == group_id:
                continue
            for rule in [*group.ingress_rules, *group.egress_rules]:
                if (rule.source_group or {}).get("GroupId") == group_id:
                    return True
    return False


def _delete_network_interface(response: ElasticNetworkInterfaces) -> Any:
    """DeleteNetworkInterface of an interface still attached to an instance: EC2 refuses it (moto deletes it)."""
    eni = response.ec2_backend.get_network_interface(response._get_param("NetworkInterfaceId"))
    instance = getattr(eni, "instance", None)
    if instance is not None and instance.state != "terminated":
        raise EC2ClientError("InvalidNetworkInterface.InUse", f"Interface: [{eni.id}] in use.")
    return _moto_delete_network_interface_response(response)


def _vpc_dependencies(vpc_id: str) -> DependencyViolationError:
    return DependencyViolationError(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")


def _delete_vpc(backend: EC2Backend, vpc_id: str) -> Any:
    groups = [g for g in backend.groups.get(vpc_id, {}).values() if not g.is_default]
    gateways = [igw for igw in backend.internet_gateways.values() if igw.vpc is not None and igw.vpc.id == vpc_id]
    endpoints = [e for e in backend.vpc_end_points.values() if e.vpc_id == vpc_id and e.state != "deleted"]
    if groups or gateways or endpoints:
        raise _vpc_dependencies(vpc_id)
    try:
        return _moto_delete_vpc(backend, vpc_id)
    except DependencyViolationError:  # moto words some of its refusals without the quotes EC2 puts round the id
        raise _vpc_dependencies(vpc_id) from None


def _prep_nics(instance: Instance, nic_spec: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
    """Interfaces RunInstances creates are deleted on termination unless the request says not (AWS's default)."""
    _moto_prep_nics(instance, nic_spec, *args, **kwargs)
    attached = {nic["NetworkInterfaceId"] for nic in nic_spec if nic.get("NetworkInterfaceId")}
    requested = {
        int(nic.get("DeviceIndex", 0)): str(nic["DeleteOnTermination"]).lower() == "true"
        for nic in nic_spec
        if "DeleteOnTermination" in nic and not nic.get("NetworkInterfaceId")
    }
    for device_index, eni in instance.nics.items():
        if eni.id not in attached:  # an existing interface keeps its own setting
            eni.delete_on_termination = requested.get(device_index, True)
    # An instance's security groups are its primary interface's: groups given in the interface specification (as the
    # AWS provider sends them with associate_public_ip_address) must read back as the instance's, as EC2 reports them.
    primary = instance.nics.get(0)
    if not instance.security_groups and primary is not None and primary._group_set:
        instance.security_groups = list(primary._group_set)


def _run_instances(backend: EC2Backend, image_id: str, count: int, user_data: Any, security_group_names: list[str],
                   **kwargs: Any) -> Any:
    """TagSpecifications of type network-interface (the request's, else its launch template's) tag the interfaces
    RunInstances creates, as EC2 does; moto drops them. Interfaces attached by id keep their own tags."""
    tags = dict(kwargs.get("tags", {}).get("network-interface", {}))
    if not tags and kwargs.get("launch_template"):
        template = backend._get_template_from_args(kwargs["launch_template"])
        for spec in template.data.get("TagSpecifications", []) or []:
            if spec.get("ResourceType") == "network-interface":
                tags.update({t["Key"]: t["Value"] for t in spec.get("Tags", [])})
    attached = {nic.get("NetworkInterfaceId") for nic in kwargs.get("nics", []) or [] if nic.get("NetworkInterfaceId")}
    reservation = _moto_run_instances(backend, image_id, count, user_data, security_group_names, **kwargs)
    if tags:
        for instance in reservation.instances:
            for eni in instance.nics.values():
                if eni.id not in attached:
                    eni.add_tags(tags)
    return reservation


def _delete_nat_gateway(backend: EC2Backend, nat_gateway_id: str) -> Any:
    nat = _moto_delete_nat_gateway(backend, nat_gateway_id)
    eni = getattr(nat, "_eni", None)
    if eni is not None and eni.id in backend.enis:
        for address in list(backend.addresses):
            if address.eni is eni and address.association_id:
                backend.disassociate_address(association_id=address.association_id)
        backend.delete_network_interface(eni.id)
    return nat


def _release_address(backend: EC2Backend, address: str | None = None, allocation_id: str | None = None) -> None:
    """An Elastic IP still associated in a nondefault VPC: EC2 refuses to release it (InvalidIPAddress.InUse, in the
    ReleaseAddress API reference); moto disassociates it silently."""
    eips = (backend.address_by_ip([address]) if address
            else backend.address_by_allocation([allocation_id]) if allocation_id else [])
    for eip in eips:
        holder_vpc = (getattr(getattr(eip.eni, "subnet", None), "vpc_id", None) if eip.eni is not None
                      else getattr(eip.instance, "vpc_id", None))
        if eip.association_id and not (holder_vpc and backend.get_vpc(holder_vpc).is_default):
            raise EC2ClientError("InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use.")
    return _moto_release_address(backend, address=address, allocation_id=allocation_id)


def _create_vpc_endpoint(backend: EC2Backend, vpc_id: str, service_name: str, endpoint_type: str | None,
                         *args: Any, **kwargs: Any) -> Any:
    """VpcEndpointType defaults to Gateway (CreateVpcEndpoint API reference); moto keeps None, then fails to delete
    it."""
    return _moto_create_vpc_endpoint(backend, vpc_id, service_name, endpoint_type or "Gateway", *args, **kwargs)


def _offering_matches_filters(self: Any, offering: dict[str, Any], filters: Any, location_type: str) -> bool:
    def matches(key: str, values: list[str]) -> bool:
        if key == "location":
            return any(fnmatch.fnmatchcase(offering["Location"], v) for v in values)
        if key == "instance-type":
            return any(fnmatch.fnmatchcase(offering["InstanceType"], v) for v in values)
        return False

    return all(matches(key, values) for key, values in filters.items())


def _set_monitoring(response: Monitoring, state: str, answer: str) -> ActionResult:
    response.error_on_dryrun()
    ids = response._get_param("InstanceIds", [])
    instances = response.ec2_backend.get_multi_instances_by_id(ids)  # InvalidInstanceID.NotFound for unknown ids
    for instance in instances:
        instance.monitoring_state = state
    return ActionResult({"InstanceMonitorings": [{"InstanceId": i.id, "Monitoring": {"State": answer}}
                                                 for i in instances]})


_moto_eni_association = NetworkInterface.association


def _eni_association(eni: NetworkInterface) -> dict[str, Any] | None:
    return _moto_eni_association.fget(eni) if eni.public_ip else None  # type: ignore[attr-defined]


_moto_delete_network_interface_response = ElasticNetworkInterfaces.delete_network_interface


def install() -> None:
    ElasticNetworkInterfaces.delete_network_interface = _delete_network_interface  # type: ignore[method-assign]
    NetworkInterface.association = property(_eni_association)  # type: ignore[assignment]
    Monitoring.monitor_instances = lambda self: _set_monitoring(self, "enabled", "pending")  # type: ignore[method-assign]
    Monitoring.unmonitor_instances = lambda self: _set_monitoring(self, "disabled", "disabling")  # type: ignore[method-assign]
    InstanceTypeOfferingBackend.matches_filters = _offering_matches_filters  # type: ignore[method-assign]
    EC2Backend.delete_nat_gateway = _delete_nat_gateway  # type: ignore[method-assign]
    EC2Backend.release_address = _release_address  # type: ignore[method-assign]
    EC2Backend.create_vpc_endpoint = _create_vpc_endpoint  # type: ignore[method-assign]
    EC2Backend.create_subnet = _create_subnet  # type: ignore[method-assign]
    EC2Backend.delete_subnet = _delete_subnet  # type: ignore[method-assign]
    EC2Backend.delete_security_group = _delete_security_group  # type: ignore[method-assign]
    EC2Backend.delete_vpc = _delete_vpc  # type: ignore[method-assign]
    RegionsAndZonesBackend.describe_availability_zones = _describe_availability_zones  # type: ignore[method-assign]
    Zone.opt_in_status = OPT_IN_NOT_REQUIRED  # type: ignore[attr-defined]
    Instance.prep_nics = _prep_nics  # type: ignore[method-assign]
    EC2Backend.run_instances = _run_instances  # type: ignore[method-assign]
    SecurityGroupRule.description = property(_rule_description)  # type: ignore[assignment]
    LaunchTemplates.create_launch_template = _create_launch_template  # type: ignore[method-assign]
