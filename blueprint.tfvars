# The default blueprint: runs end to end on the embedded local AWS (`make run`). For a real account, start from
# `mlplat init` instead (a commented starter). Every key is documented in README.md (Blueprint reference).
name               = "mlplat"
region             = "us-west-2"
eks_cluster_version = "1.36"
vpc_cidr           = "10.1.0.0/16"
single_nat_gateway = true

enable_efs = true
enable_fsx = true
