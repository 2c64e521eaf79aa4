# Multi-node GPU training: EFA p-family pool pinned to one AZ, FSx for Lustre next to it, Kueue for fair sharing.
name                     = "gpu-training"
region                   = "us-west-2"
availability_zones_count = 3
single_nat_gateway       = false
cuda_efa_az              = "us-west-2c"

enable_efs           = true
enable_fsx           = true
fsx_deployment_type  = "PERSISTENT_2"
fsx_storage_capacity = 4800
fsx_throughput       = 500

nodepools = {
  gpu-efa = {
    enabled          = true
    max_accelerators = 64
  }
}

enable_kueue                     = true
enable_ai_ml_observability_stack = true
