"""Plans resource by resource (mlplat/plans.py), saved plans, and how the runner stops terraform on an interrupt.
The same paths run against the real terraform in tests/foundation/test_e2e_local.py and test_interrupt.py."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mlplat import adopt, plans
from mlplat.errors import MlplatError
from mlplat.runner import Interrupted, Progress, Terraform, write_cli_config

STACK = {"resource": {
    "aws_subnet": {"net_private-0_A1": {"//": {"metadata": {"path": "mlplat-aws/network/private-0"}}}},
    "aws_eks_cluster": {"eks_cluster_B2": {"//": {"metadata": {"path": "mlplat-aws/eks/cluster"}}}},
    "aws_iam_role": {"eks_role_C3": {"//": {"metadata": {"path": "mlplat-aws/eks/role"}}}},
    "aws_fsx_lustre_file_system": {"fsx_fs_D4": {"//": {"metadata": {"path": "mlplat-aws/fsx/fs"}}}},
    "aws_eks_access_entry": {"eks_admin_E5": {"//": {"metadata": {"path": "mlplat-aws/eks/admin"}}}},
    "aws_route": {"net_internet_F6": {"//": {"metadata": {"path": "mlplat-aws/network/internet"}}}},
}}
SHOWN = {"resource_changes": [
    {"address": "aws_iam_role.eks_role_C3", "mode": "managed", "change": {"actions": ["update"]}},
    {"address": "aws_eks_access_entry.eks_admin_E5[\"arn:aws:iam::1:role/A\"]", "mode": "managed",
     "change": {"actions": ["create"]}},
    {"address": "aws_subnet.net_private-0_A1", "mode": "managed", "action_reason": "replace_because_cannot_update",
     "change": {"actions": ["delete", "create"], "replace_paths": [["availability_zone"], ["cidr_block"]]}},
    {"address": "aws_fsx_lustre_file_system.fsx_fs_D4", "mode": "managed", "action_reason": "replace_because_tainted",
     "change": {"actions": ["create", "delete"]}},
    {"address": "aws_eks_cluster.eks_cluster_B2", "mode": "managed", "change": {"actions": ["delete"]},
     "action_reason": "delete_because_no_resource_config"},
    {"address": "data.aws_partition.partition", "mode": "data", "change": {"actions": ["read"]}},
    {"address": "aws_vpc.v", "mode": "managed", "change": {"actions": ["no-op"]}},
    # Adopted after an interrupt (mlplat/adopt.py): an import block's resource.
    {"address": "aws_route.net_internet_F6", "mode": "managed",
     "change": {"actions": ["no-op"], "importing": {"id": "rtb-1_0.0.0.0/0"}}},
]}


@pytest.fixture()
def plan(tmp_path) -> plans.Plan:
    (tmp_path / "cdk.tf.json").write_text(json.dumps(STACK))
    changes = plans.changes_from_show(SHOWN, tmp_path / "cdk.tf.json")
    return plans.Plan(stack="mlplat-aws", file=tmp_path / "p.tfplan", add=3, change=1, remove=3, changes=changes,
                      imports=1)


def test_replacements_and_deletions_come_first_with_what_forces_them(plan):
    assert [(c.action, c.path, c.replace_paths, c.reason) for c in plan.changes] == [
        ("replace", "fsx/fs", (), "tainted: an earlier apply did not finish it"),
        ("replace", "network/private-0", ("availability_zone", "cidr_block"), "an attribute cannot change in place"),
        ("delete", "eks/cluster", (), "no longer in the blueprint"),
        ("update", "eks/role", (), ""),
        ("import", "network/internet", (), ""),
        ("create", "eks/admin", (), ""),
    ]
    assert plans.question(plan) == ("apply to mlplat-aws: 2 to replace, 1 to delete, 1 to update, 1 to import, "
                                    "1 to create?")
    assert plan.total == 8


def test_human_list_marks_every_change_and_colours_only_on_request(plan):
    lines = plans.render(plan)
    assert lines == [
        "mlplat-aws: 2 to replace, 1 to delete, 1 to update, 1 to import, 1 to create",
        "  -/+ replace fsx/fs  (aws_fsx_lustre_file_system)  [tainted: an earlier apply did not finish it]",
        "  -/+ replace network/private-0  (aws_subnet)  [forced by availability_zone, cidr_block; an attribute "
        "cannot change in place]",
        "    - delete  eks/cluster  (aws_eks_cluster)  [no longer in the blueprint]",
        "    ~ update  eks/role  (aws_iam_role)",
        "   <- import  network/internet  (aws_route)",
        "    + create  eks/admin  (aws_eks_access_entry)",
    ]
    assert "\033[" not in "".join(lines)
    assert plans.render(plan, colour=True)[1].startswith("\033[1;35m")


def test_json_lists_every_change_with_counts(plan):
    doc = plan.as_dict()
    assert {k: v for k, v in doc.items() if k != "changes"} == {
        "add": 3, "change": 1, "remove": 3, "replacements": 2, "deletes": 1, "updates": 1, "imports": 1,
        "creates": 1}
    assert doc["changes"][1] == {"address": "aws_subnet.net_private-0_A1", "path": "network/private-0",
                                 "action": "replace", "reason": "an attribute cannot change in place",
                                 "replace_paths": ["availability_zone", "cidr_block"]}


def test_saved_plan_is_refused_for_another_blueprint_or_target(tmp_path, plan):
    blueprint = tmp_path / "bp.tfvars"
    blueprint.write_text('name = "mlplat"\n')
    plan.file.write_bytes(b"binary plan")
    bundle = tmp_path / "review.plan"
    plans.save_bundle(bundle, [plan], platform="mlplat", blueprint=blueprint, local=True)
    meta, files = plans.open_bundle(bundle, platform="mlplat", blueprint=blueprint, local=True)
    assert (meta["stacks"], files) == (["mlplat-aws"], {"mlplat-aws.tfplan": b"binary plan"})
    blueprint.write_text('name = "mlplat"\nenable_fsx = true\n')
    with pytest.raises(MlplatError) as err:
        plans.open_bundle(bundle, platform="mlplat", blueprint=blueprint, local=False)
    assert err.value.exit_code == 2
    assert str(err.value).startswith(f"--plan {bundle} does not match what you asked to deploy: it was made with "
                                     f"--local; {blueprint} changed since the plan was made (")


# --- interrupts ------------------------------------------------------------------------------------------------------

FAKE_TERRAFORM = textwrap.dedent("""\
    #!{python}
    # A stand-in terraform: announces two operations, finishes one, then runs until interrupted; on SIGINT it takes
    # a moment to "write its state" and exits 1, as terraform does. It records its pid for the test.
    import json, os, signal, sys, time
    if sys.argv[1:3] == ["state", "list"]:  # what the state holds afterwards: the finished create only
        print("aws_vpc.a")
        sys.exit(0)
    open(os.environ["FAKE_PID_FILE"], "w").write(str(os.getpid()))
    def stop(signum, frame):
        time.sleep(0.5)
        open(os.environ["FAKE_STOPPED"], "w").write("graceful")
        sys.exit(1)
    signal.signal(signal.SIGINT, stop)
    for addr in ("aws_vpc.a", "aws_fsx_lustre_file_system.b"):
        print(json.dumps({{"type": "apply_start", "hook": {{"resource": {{"addr": addr}}, "action": "create"}}}}), flush=True)
    print(json.dumps({{"type": "apply_complete", "hook": {{"resource": {{"addr": "aws_vpc.a"}}, "action": "create"}}}}),
          flush=True)
    while True:
        time.sleep(0.1)
""")


def test_an_interrupt_reaches_terraform_which_stops_cleanly(tmp_path):
    fake = tmp_path / "terraform"
    fake.write_text(FAKE_TERRAFORM.format(python=sys.executable))
    fake.chmod(0o755)
    env = {**os.environ, "TERRAFORM_BINARY": str(fake), "FAKE_PID_FILE": str(tmp_path / "pid"),
           "FAKE_STOPPED": str(tmp_path / "stopped")}
    tf = Terraform(env=env, work_dir=tmp_path, progress=Progress(quiet=True))
    # What it was before (the default handler; SIG_IGN when the test run was started in the background by a shell).
    before = signal.getsignal(signal.SIGINT)

    def interrupt_me() -> None:  # as `timeout -s INT` does: the signal goes to mlplat only
        while not (tmp_path / "pid").exists():
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_me, daemon=True).start()
    with pytest.raises(Interrupted) as err:
        tf.apply(tmp_path)
    assert err.value.exit_code == 130
    assert err.value.details == {"interrupted": True, "in_flight": ["aws_fsx_lustre_file_system.b"]}
    # Not in the state afterwards: it may exist in AWS untracked, and the message says what to do about it.
    assert str(err.value).splitlines()[-1] == (
        "  create aws_fsx_lustre_file_system.b  [not in terraform's state: if AWS created it before the interrupt, "
        "the next plan adopts it (import) when AWS keys it by name or content; mlplat destroy removes the network's "
        "other strays, by the platform's tags]")
    # And recorded, for that next plan.
    assert adopt.read_record(tf.work_dir, tmp_path.name) == ["aws_fsx_lustre_file_system.b"]
    assert (tmp_path / "stopped").read_text() == "graceful"  # it got the interrupt and stopped on its own
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # and it is gone, not orphaned
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_terraform_collects_garbage_less_often_unless_told(tmp_path):
    """GOGC=400 for terraform and its providers (a fifth less CPU per plan, measured); the caller's value wins."""
    env = {**os.environ, "TERRAFORM_BINARY": sys.executable}
    env.pop("GOGC", None)
    assert Terraform(env=env, work_dir=tmp_path).env["GOGC"] == "400"
    assert Terraform(env={**env, "GOGC": "100"}, work_dir=tmp_path).env["GOGC"] == "100"


def test_an_unreachable_registry_says_how_to_use_a_mirror(tmp_path):
    """The newcomer's P5: with no mirror and no registry, init fails with the way out in the message. The registry is
    made unreachable for certain (its provider service pointed at a closed local port), so the test needs no network
    and cannot pass by reaching it."""
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf.json").write_text(json.dumps(
        {"terraform": {"required_providers": {"null": {"source": "hashicorp/null", "version": "3.2.2"}}}}))
    rc = tmp_path / "unreachable.tfrc"
    rc.write_text('host "registry.terraform.io" {\n  services = {\n    "providers.v1" = "http://127.0.0.1:9/v1/providers/"'
                  '\n  }\n}\n')
    tf = Terraform(env={**os.environ, "TF_CLI_CONFIG_FILE": str(rc)}, work_dir=tmp_path, progress=Progress(quiet=True))
    with pytest.raises(MlplatError) as raised:
        tf.init(stack, backend=False)
    message = str(raised.value)
    assert message.startswith("terraform init failed for stack stack:\nFailed to query available provider packages")
    assert message.endswith(
        "terraform could not reach the Terraform registry to install the providers: point --provider-mirror (or "
        "MLPLAT_PROVIDER_MIRROR, or provider_mirror in .mlplat/config.toml) at a `terraform providers mirror` "
        "directory holding them; `mlplat doctor` checks it")


def test_a_mirror_without_providers_is_refused_with_what_it_should_hold(tmp_path):
    with pytest.raises(MlplatError) as raised:
        write_cli_config(tmp_path / "cfg", tmp_path)
    assert (raised.value.exit_code, str(raised.value)) == (2, (
        f"provider mirror {tmp_path} has no registry.terraform.io/ directory; point MLPLAT_PROVIDER_MIRROR (or "
        f"--provider-mirror) at a `terraform providers mirror` output"))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_step_shows_a_start_line_a_heartbeat_on_a_terminal_and_its_duration():
    """The newcomer's P12: a step that takes a while is never silent on a terminal; in a log file it prints no
    heartbeat noise; quiet (--json) prints nothing."""
    lines = {}
    for name, stream in (("terminal", _Terminal()), ("file", io.StringIO())):
        with Progress(stream=stream, heartbeat_seconds=0.05).step("planning mlplat-aws"):
            time.sleep(0.3)
        lines[name] = stream.getvalue().splitlines()
    assert lines["terminal"][0] == lines["file"][0] == "planning mlplat-aws ..."
    beats = lines["terminal"][1:-1]
    assert beats and all(b.startswith("planning mlplat-aws ... ") and b.endswith(" s") for b in beats)
    assert len(lines["file"]) == 2 and lines["file"][1].startswith("planning mlplat-aws: done in 0.")
    assert lines["terminal"][-1].startswith("planning mlplat-aws: done in ")
    quiet = _Terminal()
    with Progress(quiet=True, stream=quiet, heartbeat_seconds=0.05).step("planning"):
        time.sleep(0.1)
    assert quiet.getvalue() == ""
