"""`make bench`: synthesis wall time and peak RSS of the everything-on blueprint, side by side with the framework
floor (a trivial cdktn app importing the same providers), as ratios. Each run is a fresh process; the peak RSS is the
whole process tree (Python plus the jsii Node runtime), sampled from /proc."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR_APP = '''
from cdktn import App, TerraformStack
from cdktn_provider_aws.provider import AwsProvider
from cdktn_provider_aws.vpc import Vpc
from cdktn_provider_helm.provider import HelmProvider
import os
app = App(outdir=os.environ["CDKTF_OUTDIR"])
aws = TerraformStack(app, "aws")
AwsProvider(aws, "aws", region="us-west-2")
Vpc(aws, "vpc", cidr_block="10.0.0.0/16")
k8s = TerraformStack(app, "k8s")
HelmProvider(k8s, "helm")
app.synth()
'''


def _tree_rss_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed ({' '.join(argv)}):\n{proc.stderr.read().decode()[-2000:]}")
    return elapsed, peak


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlplat.bench")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--blueprint", type=Path, default=ROOT / "blueprints" / "everything-on.tfvars")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    results: dict[str, list[tuple[float, int]]] = {"floor": [], "everything-on": []}
    with tempfile.TemporaryDirectory(prefix="mlplat-bench-") as tmp:
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
               "MLPLAT_BLUEPRINT": str(args.blueprint), "MLPLAT_STATE_DIR": f"{tmp}/state"}
        for i in range(args.rounds):  # alternate, so drift on the machine hits both sides alike
            for name, cmd in (("floor", [sys.executable, "-c", FLOOR_APP]), ("everything-on", [sys.executable, "main.py"])):
                run_env = {**env, "CDKTF_OUTDIR": f"{tmp}/{name}-{i}"}
                results[name].append(measure(cmd, run_env))
                if not args.json:
                    t, m = results[name][-1]
                    print(f"  round {i + 1} {name:>14}: {t:6.2f} s  {m / 1024:7.0f} MiB", file=sys.stderr)
    med = {n: (statistics.median(t for t, _ in r), statistics.median(m for _, m in r)) for n, r in results.items()}
    report = {
        "rounds": args.rounds,
        "floor": {"wall_s": round(med["floor"][0], 2), "peak_rss_mib": round(med["floor"][1] / 1024)},
        "everything_on": {"wall_s": round(med["everything-on"][0], 2), "peak_rss_mib": round(med["everything-on"][1] / 1024)},
        "ratio_wall": round(med["everything-on"][0] / med["floor"][0], 2),
        "ratio_peak_rss": round(med["everything-on"][1] / med["floor"][1], 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"synth of {args.blueprint.name} vs framework floor (median of {args.rounds} fresh processes):")
        print(f"  wall time: {report['everything_on']['wall_s']} s vs {report['floor']['wall_s']} s "
              f"= {report['ratio_wall']}x")
        print(f"  peak RSS:  {report['everything_on']['peak_rss_mib']} MiB vs {report['floor']['peak_rss_mib']} MiB "
              f"= {report['ratio_peak_rss']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
