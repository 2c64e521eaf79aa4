#!/bin/bash
# An NCCL all-reduce across two Slurm nodes of the gpu-efa NodeSet, launched with torchrun by `srun`, writing its
# results to /fsx. Slurm nodes are pods (NodeSet slurm-worker-gpu-efa, partition gpu-efa) that hold their GPUs and EFA
# interfaces for as long as they run, outside Kueue's quotas.
#
# Needs: enable_slurm = true, enable_fsx = true, nodepools.gpu-efa.enabled = true, cuda_efa_az, and
#   slurm_nodesets = { gpu-efa = { replicas = 2, accelerators_per_node = 8, efa_per_node = 4 } }
#   slurm_login_ssh_public_keys = ["ssh-ed25519 AAAA... you@laptop"]
#
# Reach the login node (a ClusterIP Service: nothing is exposed outside the cluster) from your machine:
#   aws eks update-kubeconfig --name <name> --region <region>
#   kubectl -n slurm get pods              # slurm-controller-0, slurm-login-slinky-..., slurm-worker-gpu-efa-0 and -1
#   kubectl -n slurm port-forward service/slurm-login-slinky 2222:22 &
#   ssh -p 2222 root@localhost 'mkdir -p /fsx/slurm-nccl'         # the key listed in slurm_login_ssh_public_keys
#   scp -P 2222 examples/slurm-sbatch.sh root@localhost:/fsx/slurm-nccl/
#   ssh -p 2222 root@localhost
# Then, on the login node:
#   sinfo                                   # partition gpu-efa, 2 nodes idle
#   sbatch /fsx/slurm-nccl/slurm-sbatch.sh
#   squeue; tail -f /fsx/slurm-nccl/nccl-allreduce-<job id>.out
#   sacct -j <job id>                       # the job's record, from the Aurora accounting database
#
# The Slurm images carry Slurm, not PyTorch: the first run creates a virtual environment on /fsx (shared by every node)
# and installs PyTorch into it. NCCL crosses EFA only where libfabric and aws-ofi-nccl are installed; NCCL_DEBUG=INFO
# says which network it picked ("NET/OFI Selected provider is efa", or "NET/Socket" when it fell back to TCP).
#SBATCH --job-name=nccl-allreduce
#SBATCH --partition=gpu-efa
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:8
#SBATCH --exclusive
#SBATCH --time=00:30:00
#SBATCH --chdir=/fsx/slurm-nccl
#SBATCH --output=/fsx/slurm-nccl/%x-%j.out

set -euo pipefail

VENV=/fsx/venvs/torch
if [ ! -x "$VENV/bin/torchrun" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch
fi

export NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET
export FI_PROVIDER=efa FI_EFA_USE_DEVICE_RDMA=1   # libfabric over EFA, GPUDirect RDMA on p4d/p5
MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_ADDR MASTER_PORT=29500

cat > /fsx/slurm-nccl/allreduce.py <<'PY'
import os
import time

import torch
import torch.distributed as dist

dist.init_process_group("nccl")
rank, world = dist.get_rank(), dist.get_world_size()
torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
if rank == 0:
    print(f"{'bytes':>12} {'time_us':>10} {'algbw_GBps':>11} {'busbw_GBps':>11}", flush=True)
for power in range(20, 34, 2):  # 1 MiB .. 8 GiB of float32
    tensor = torch.ones(2 ** power // 4, dtype=torch.float32, device="cuda")
    for _ in range(5):  # warm-up
        dist.all_reduce(tensor)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(20):
        dist.all_reduce(tensor)
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / 20
    algbw = tensor.numel() * 4 / seconds / 1e9
    busbw = algbw * 2 * (world - 1) / world  # bus bandwidth as nccl-tests defines it for all-reduce
    if rank == 0:
        print(f"{tensor.numel() * 4:>12} {seconds * 1e6:>10.1f} {algbw:>11.2f} {busbw:>11.2f}", flush=True)
dist.destroy_process_group()
PY

# One torchrun per node (srun starts one task per node), eight processes each, rendezvous on the first node. Single
# quotes: each task expands its own SLURM_NODEID.
srun bash -c '"$0" --nnodes="$SLURM_NNODES" --nproc-per-node=8 --node-rank="$SLURM_NODEID" \
  --master-addr="$MASTER_ADDR" --master-port="$MASTER_PORT" /fsx/slurm-nccl/allreduce.py' "$VENV/bin/torchrun"
