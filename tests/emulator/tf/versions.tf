# The provider block (endpoints, dummy credentials) is written next to these files by the test, from
# mlplat.emulator.provider_settings(), exactly as the stacks use it.
terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "name" {
  type    = string
  default = "emulator-fixture"
}

data "aws_availability_zones" "available" {
  state = "available"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}
