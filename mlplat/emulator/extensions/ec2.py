"""Two EC2 read-back bugs of moto 5.2 that make a second `terraform plan` show changes:

- a security group rule that references another group loses its description (moto reads it only from CIDR ranges);
- CreateLaunchTemplate's own TagSpecifications (the tags of the launch template resource, e.g. the provider's
  default_tags) are copied into the template's *data*, as if instances should get them, so the template reads back
  a `tag_specifications` block nobody configured.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.ec2.responses.launch_templates import LaunchTemplates
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


def install() -> None:
    SecurityGroupRule.description = property(_rule_description)  # type: ignore[assignment]
    LaunchTemplates.create_launch_template = _create_launch_template  # type: ignore[method-assign]
