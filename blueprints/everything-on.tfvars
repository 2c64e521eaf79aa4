# Every pool and every module on: the superset the tests and the benchmark use.
name                     = "everything"
region                   = "us-west-2"
availability_zones_count = 4
single_nat_gateway       = false
neuron_az                = "us-west-2d"
cuda_efa_az              = "us-west-2c"

cluster_endpoint_public_access_cidrs = ["203.0.113.0/24"]
admin_principal_arns                 = ["arn:aws:iam::123456789012:role/PlatformAdmin"]

enable_efs           = true
enable_fsx           = true
fsx_storage_capacity = 2400
fsx_throughput       = 250

nodepools = {
  cpu         = { enabled = true }
  gpu-efa     = { enabled = true }
  neuron      = { enabled = true }
  inferentia1 = { enabled = true }
}

enable_argocd                    = true
enable_ai_ml_observability_stack = true
enable_kueue                     = true
enable_mlflow                    = true
enable_kuberay_operator          = true
enable_kubeflow_trainer          = true
enable_leader_worker_set         = true
enable_kserve                    = true
enable_jupyterhub                = true
jupyterhub_users                 = ["alice", "bob"]
enable_ack_sagemaker             = true
# The S3 locations examples/ack-sagemaker-trainingjob.yaml reads and writes.
ack_sagemaker_s3_access = {
  read_buckets   = ["ml-datasets-example"]
  write_prefixes = ["s3://ml-artifacts-example/sagemaker/"]
}
enable_slurm                     = true
# Two Slurm nodes on the gpu-efa pool (the sbatch example in examples/slurm-sbatch.sh), none yet on neuron.
slurm_nodesets = {
  gpu-efa = { replicas = 2, accelerators_per_node = 8, efa_per_node = 4 }
  neuron  = { replicas = 0 }
}
# A placeholder key (not a real user's): the login node's root authorized_keys.
slurm_login_ssh_public_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f slurm-test"]
# Airflow with the platform's example DAG (no airflow_dags_git_repo): it runs a pipeline in ml-workloads.
enable_airflow                   = true

tags = {
  team = "ml-platform"
}
