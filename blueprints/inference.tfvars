# Model serving: spot-friendly GPU pool, Inferentia1 for cheap CNN serving, observability on.
name                     = "inference"
region                   = "us-east-1"
availability_zones_count = 3
single_nat_gateway       = false
enable_fsx               = false

nodepools = {
  gpu = {
    capacity_types   = ["spot", "on-demand"]
    max_accelerators = 32
  }
  inferentia1 = {
    enabled = true
  }
}

enable_ai_ml_observability_stack = true
