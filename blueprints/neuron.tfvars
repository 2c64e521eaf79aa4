# AWS Trainium/Inferentia2: the neuron pool pinned to the AZ with trn1 capacity; FSx scratch space for datasets.
name                     = "neuron"
region                   = "us-west-2"
availability_zones_count = 4
neuron_az                = "us-west-2d"

enable_fsx          = true
fsx_deployment_type = "SCRATCH_2"

nodepools = {
  gpu = {
    enabled = false
  }
  neuron = {
    enabled          = true
    max_accelerators = 128
  }
}

enable_ai_ml_observability_stack = true
