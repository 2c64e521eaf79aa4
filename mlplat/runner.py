"""Runs terraform (or OpenTofu) on the synthesized stacks, streaming its `-json` UI output as progress lines.

Terraform runs in a session of its own, so a Ctrl-C (or SIGTERM) reaches mlplat, not terraform directly: mlplat then
passes terraform one interrupt, waits for it to stop the way terraform stops (finish or abandon the operations in
flight, write the state, release the lock, stop its providers), and reports what was in flight. No terraform or
provider process outlives mlplat, and nothing prints a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from mlplat import adopt
from mlplat.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, MlplatError
from mlplat.plans import Plan, changes_from_show

CLI_CONFIG_NAME = "terraform-cli.tfrc"
REGISTRY_UNREACHABLE = ("could not connect to registry.terraform.io", "Could not retrieve the list of available "
                        "versions", "Failed to query available provider packages")


@dataclass
class Summary:
    add: int = 0
    change: int = 0
    remove: int = 0
    imports: int = 0

    @property
    def total(self) -> int:
        return self.add + self.change + self.remove + self.imports

    def as_dict(self) -> dict[str, int]:
        return {"add": self.add, "change": self.change, "remove": self.remove}


@dataclass
class Progress:
    """Prints progress lines to stderr; quiet when the caller wants machine output only."""

    quiet: bool = False
    stream: Any = field(default_factory=lambda: sys.stderr)
    heartbeat_seconds: float = 10.0

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """A step that may take a while: a start line, a heartbeat every `heartbeat_seconds` on a terminal, and its
        duration."""
        started = time.monotonic()
        self.say(f"{label} ...")
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(self.heartbeat_seconds):
                self.say(f"{label} ... {time.monotonic() - started:.0f} s")

        beat = None
        if not self.quiet and getattr(self.stream, "isatty", lambda: False)():
            beat = threading.Thread(target=heartbeat, daemon=True)
            beat.start()
        try:
            yield
        finally:
            done.set()
            if beat is not None:
                beat.join()
        self.say(f"{label}: done in {time.monotonic() - started:.1f} s")


class Interrupted(MlplatError):
    """Terraform was interrupted and has stopped; the state is written and unlocked."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, in_flight: list[str]) -> None:
        super().__init__(message)
        self.details = {"interrupted": True, "in_flight": in_flight}


def platform_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Output name -> value, from `terraform output -json` or a state file's `outputs`. cdktn adds
    `cross-stack-output-*` outputs for the Kubernetes layer's remote state; they are plumbing, not the platform's."""
    return {k: v.get("value") for k, v in outputs.items() if not k.startswith("cross-stack-output-")}


def find_binary(env: Mapping[str, str]) -> str:
    wanted = env.get("TERRAFORM_BINARY") or "terraform"
    found = shutil.which(wanted)
    if not found:
        raise MlplatError(f"terraform not found (looked for {wanted!r} on PATH): install terraform >= 1.11, or set "
                          f"TERRAFORM_BINARY to a terraform or OpenTofu (tofu) binary", exit_code=EXIT_BAD_INPUT)
    return found


def write_cli_config(directory: Path, mirror: Path) -> Path:
    """A CLI config that installs providers only from `mirror` (air-gapped: the registry is never contacted)."""
    if not (mirror / "registry.terraform.io").is_dir():
        raise MlplatError(f"provider mirror {mirror} has no registry.terraform.io/ directory; point "
                          f"MLPLAT_PROVIDER_MIRROR (or --provider-mirror) at a `terraform providers mirror` output",
                          exit_code=EXIT_BAD_INPUT)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CLI_CONFIG_NAME
    path.write_text(
        "provider_installation {\n"
        f"  filesystem_mirror {{\n    path = {json.dumps(str(mirror.resolve()))}\n  }}\n"
        "}\n"
    )
    return path


class _Interrupts:
    """While terraform runs: SIGINT/SIGTERM are passed to terraform's process group instead of raising."""

    def __init__(self, in_flight: dict[str, str]) -> None:
        self.count = 0
        self.process: subprocess.Popen | None = None
        self.in_flight = in_flight  # live: operations started and not finished
        self.at_signal: dict[str, str] = {}  # what was in flight at the first interrupt

    def handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count == 1:
            self.at_signal = dict(self.in_flight)
        if self.process is not None and self.process.poll() is None:
            # Terraform's own handling: the first interrupt stops gracefully, a second one stops at once.
            try:
                os.killpg(self.process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    @contextmanager
    def installed(self, process: subprocess.Popen) -> Iterator[None]:
        self.process = process
        previous = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.process = None


class Terraform:
    def __init__(self, *, env: Mapping[str, str] | None = None, mirror: Path | None = None,
                 work_dir: Path, progress: Progress | None = None, aws: Callable[[], Any] | None = None) -> None:
        self.work_dir = work_dir
        self.aws = aws  # boto3 clients of the platform's account, to adopt what an interrupt left (mlplat/adopt.py)
        self._destroy_plans: set[Path] = set()  # stacks whose plan file is a destroy plan
        self.env = dict(os.environ if env is None else env)
        self.binary = find_binary(self.env)
        self.progress = progress or Progress()
        self.env["TF_IN_AUTOMATION"] = "1"
        self.env["CHECKPOINT_DISABLE"] = "1"
        # Go's collector at its default (100) costs terraform and the AWS provider (a 700 MB binary with a large live
        # heap) a fifth of their CPU: a 115-resource plan took 29 CPU-s at 100 and 23 at 400, with peak memory 320 MB
        # and 475 MB (mlplat plan --local, default blueprint, measured 2026-11-30). A GOGC of the caller's own wins.
        self.env.setdefault("GOGC", "400")
        if mirror is not None:
            self.env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(work_dir, mirror))
        elif self.env.get("TF_CLI_CONFIG_FILE") and not Path(self.env["TF_CLI_CONFIG_FILE"]).exists():
            # A dangling TF_CLI_CONFIG_FILE only produces warnings; terraform's defaults apply without it.
            self.env.pop("TF_CLI_CONFIG_FILE")

    # --- plumbing -------------------------------------------------------------------------------------------------
    def _data_dir(self, stack_dir: Path) -> Path:
        data_dir = Path(self.env.get("TF_DATA_DIR") or stack_dir / ".terraform")
        return data_dir if data_dir.is_absolute() else stack_dir / data_dir

    def _run(self, stack_dir: Path, args: list[str], *, on_message: Callable[[dict], None] | None = None,
             ok_codes: tuple[int, ...] = (0,)) -> int:
        label = stack_dir.name
        in_flight: dict[str, str] = {}  # address -> action, started and not finished
        interrupts = _Interrupts(in_flight)
        proc = subprocess.Popen([self.binary, *args], cwd=stack_dir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        errors: list[str] = []
        with interrupts.installed(proc):
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError:
                    self.progress.say(f"  {label}: {line.rstrip()}")
                    continue
                hook = msg.get("hook", {})
                address = hook.get("resource", {}).get("addr")
                if msg.get("type") == "apply_start" and address:
                    in_flight[address] = hook.get("action", "")
                elif msg.get("type") in ("apply_complete", "apply_errored") and address:
                    in_flight.pop(address, None)
                if msg.get("type") == "diagnostic" and msg.get("diagnostic", {}).get("severity") == "error":
                    d = msg["diagnostic"]
                    where = d.get("address") or (d.get("range") or {}).get("filename", "")
                    errors.append(f"{d.get('summary')}: {d.get('detail', '').strip()}" + (f" ({where})" if where else ""))
                if on_message:
                    on_message(msg)
            stderr = proc.stderr.read() if proc.stderr else ""
            code = proc.wait()
        if interrupts.count:
            raise self._interrupted(stack_dir, args[0], {**interrupts.at_signal, **in_flight}, code)
        if code not in ok_codes:
            detail = "\n".join(errors) or stderr.strip() or f"exit code {code}"
            if args[0] == "init" and any(marker in detail for marker in REGISTRY_UNREACHABLE):
                detail += ("\nterraform could not reach the Terraform registry to install the providers: point "
                           "--provider-mirror (or MLPLAT_PROVIDER_MIRROR, or provider_mirror in .mlplat/config.toml) "
                           "at a `terraform providers mirror` directory holding them; `mlplat doctor` checks it")
            raise MlplatError(f"terraform {args[0]} failed for stack {label}:\n{detail}")
        return code

    def _interrupted(self, stack_dir: Path, command: str, in_flight: dict[str, str], code: int) -> Interrupted:
        label = stack_dir.name
        lines = [f"interrupted: terraform {command} of {label} stopped (exit {code}); its state is written and "
                 f"unlocked, and no terraform process is left"]
        if not in_flight:
            lines.append("nothing was being changed at that moment")
            return Interrupted("\n".join(lines), [])
        tracked = set(self.state_resources(stack_dir))
        adopt.record_interrupted(self.work_dir, label, [a for a, action in in_flight.items()
                                                        if action == "create" and a not in tracked])
        lines.append("in flight when it stopped (the next plan shows what is left; an interrupted create that "
                     "terraform recorded is replaced, since it is tainted):")
        shown = sorted(in_flight.items())
        for address, action in shown[:25]:
            note = ""
            if action == "create" and address not in tracked:
                note = ("  [not in terraform's state: if AWS created it before the interrupt, the next plan "
                        "adopts it (import) when AWS keys it by name or content; mlplat destroy removes the "
                        "network's other strays, by the platform's tags]")
            lines.append(f"  {action or 'change'} {address}{note}")
        if len(shown) > 25:
            lines.append(f"  ... and {len(shown) - 25} more (all of them in --json)")
        return Interrupted("\n".join(lines), sorted(in_flight))

    def _progress_printer(self, label: str) -> Callable[[dict], None]:
        def show(msg: dict) -> None:
            kind = msg.get("type")
            hook = msg.get("hook", {})
            if kind in ("apply_start", "apply_complete", "apply_errored"):
                verb = {"apply_start": "…", "apply_complete": "done", "apply_errored": "FAILED"}[kind]
                action = hook.get("action", "")
                addr = hook.get("resource", {}).get("addr", "")
                secs = f" {hook['elapsed_seconds']}s" if "elapsed_seconds" in hook else ""
                self.progress.say(f"  {label}: {action} {addr} {verb}{secs}")
            elif kind == "change_summary":
                self.progress.say(f"  {label}: {msg.get('@message')}")
        return show

    # --- commands -------------------------------------------------------------------------------------------------
    def init(self, stack_dir: Path, *, backend: bool = True) -> None:
        """`terraform init`, unless this directory was initialized for the same providers, backend and provider
        source already (init re-verifies every provider binary, seconds of work for nothing)."""
        marker = self._data_dir(stack_dir) / "mlplat-init.json"
        key = self._init_key(stack_dir, backend)
        try:
            if json.loads(marker.read_text()) == key and (stack_dir / ".terraform.lock.hcl").is_file():
                self.progress.say(f"{stack_dir.name}: terraform init: up to date")
                return
        except (OSError, json.JSONDecodeError):
            pass
        with self.progress.step(f"{stack_dir.name}: terraform init"):
            self._run(stack_dir, ["init", "-input=false", "-no-color", "-json",
                                  *([] if backend else ["-backend=false"])])
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(key))

    def _init_key(self, stack_dir: Path, backend: bool) -> dict[str, Any]:
        try:
            terraform_block = json.loads((stack_dir / "cdk.tf.json").read_text()).get("terraform", {})
        except (OSError, json.JSONDecodeError):
            terraform_block = None
        config = self.env.get("TF_CLI_CONFIG_FILE")
        return {"terraform": terraform_block, "backend": backend, "binary": self.binary,
                "cli_config": Path(config).read_text() if config and Path(config).is_file() else None}

    def validate(self, stack_dir: Path) -> None:
        proc = subprocess.run([self.binary, "validate", "-json", "-no-color"], cwd=stack_dir, env=self.env,
                              capture_output=True, text=True)
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise MlplatError(f"terraform validate failed for stack {stack_dir.name}: {proc.stderr.strip()}") from None
        if not report.get("valid"):
            problems = [f"{d.get('summary')}: {d.get('detail', '').strip()}" for d in report.get("diagnostics", [])
                        if d.get("severity") == "error"]
            raise MlplatError(f"terraform validate failed for stack {stack_dir.name}:\n" + "\n".join(problems))

    def plan(self, stack_dir: Path, *, destroy: bool = False, out: str = "mlplat.tfplan") -> Plan:
        """Plan into `out` (in the stack directory) and read back every planned change from it. After an interrupt,
        the creates it cut short that AWS did carry out are adopted (mlplat/adopt.py) and planned as imports."""
        (stack_dir / adopt.ADOPT_FILE).unlink(missing_ok=True)  # found afresh by every plan
        (self._destroy_plans.add if destroy else self._destroy_plans.discard)(stack_dir)
        recorded = [] if destroy else adopt.read_record(self.work_dir, stack_dir.name)
        plan, shown = self._plan(stack_dir, destroy=destroy, out=out)
        creates = adopt.planned_creates(shown, recorded) if shown and self.aws is not None else {}
        if not creates:
            return plan
        self.progress.say(f"{stack_dir.name}: looking in AWS for {len(creates)} create(s) an interrupt cut short")
        lookup = adopt.look_up(self.aws(), creates)
        for note in lookup.notes:
            self.progress.say(f"  {note}")
        if lookup.adoptions:
            adopt.write_imports(stack_dir, lookup.adoptions)
            plan, _ = self._plan(stack_dir, destroy=destroy, out=out)
        plan.adoption = list(lookup.notes)
        return plan

    def _plan(self, stack_dir: Path, *, destroy: bool, out: str) -> tuple[Plan, dict[str, Any]]:
        summary = Summary()

        def collect(msg: dict) -> None:
            if msg.get("type") == "change_summary":
                c = msg.get("changes", {})
                summary.add, summary.change, summary.remove = c.get("add", 0), c.get("change", 0), c.get("remove", 0)
                summary.imports = c.get("import", 0)
            if msg.get("type") not in ("apply_start", "apply_complete", "apply_errored"):
                self._progress_printer(stack_dir.name)(msg)

        args = ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", "-lock-timeout=60s", f"-out={out}"]
        if destroy:
            args.append("-destroy")
        self.progress.say(f"{stack_dir.name}: terraform plan{' -destroy' if destroy else ''}")
        code = self._run(stack_dir, args, on_message=collect, ok_codes=(0, 2))
        # Exit 0 under -detailed-exitcode: nothing to change, so no list to read back (`show` loads every provider's
        # schema, seconds of CPU).
        shown = self._show(stack_dir, out) if code == 2 else {}
        changes = changes_from_show(shown, stack_dir / "cdk.tf.json") if code == 2 else []
        return Plan(stack=stack_dir.name, file=stack_dir / out, add=summary.add, change=summary.change,
                    remove=summary.remove, changes=changes, imports=summary.imports), shown

    def _show(self, stack_dir: Path, plan_file: str) -> dict[str, Any]:
        args = [self.binary, "show", "-json", "-no-color", plan_file]
        proc = subprocess.run(args, cwd=stack_dir, env=self.env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise MlplatError(f"terraform show failed for stack {stack_dir.name}: {proc.stderr.strip()}")
        return json.loads(proc.stdout or "{}")

    def apply(self, stack_dir: Path, *, plan_file: str | Path | None = None, destroy: bool = False) -> Summary:
        summary = Summary()

        def collect(msg: dict) -> None:
            if msg.get("type") == "change_summary":
                c = msg.get("changes", {})
                summary.add, summary.change, summary.remove = c.get("add", 0), c.get("change", 0), c.get("remove", 0)
            self._progress_printer(stack_dir.name)(msg)

        args = ["apply", "-input=false", "-no-color", "-json", "-lock-timeout=60s"]
        if plan_file:
            args.append(str(plan_file))
        else:
            args.append("-auto-approve")
            if destroy:
                args.append("-destroy")
        self.progress.say(f"{stack_dir.name}: terraform {'destroy' if destroy else 'apply'}")
        try:
            self._run(stack_dir, args, on_message=collect)
            if not destroy and stack_dir not in self._destroy_plans:
                # Settled: what the interrupt left is in the state now, or was not in AWS. (A destroy leaves the
                # record: a named leftover would fail the next deploy, which can then adopt it.)
                adopt.clear(self.work_dir, stack_dir)
        except Interrupted:
            raise
        except MlplatError as exc:
            if "Saved plan is stale" in str(exc):
                raise MlplatError(f"the saved plan for {stack_dir.name} is stale: the platform changed since it was "
                                  f"made, so applying it could undo those changes; nothing was applied. Plan again "
                                  f"(mlplat plan --out FILE) and review the new plan") from None
            raise
        return summary

    def output(self, stack_dir: Path) -> dict[str, Any]:
        proc = subprocess.run([self.binary, "output", "-json", "-no-color"], cwd=stack_dir, env=self.env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise MlplatError(f"terraform output failed for stack {stack_dir.name}: {proc.stderr.strip()}; "
                              f"deploy the stack first")
        return platform_outputs(json.loads(proc.stdout or "{}"))

    def state(self, stack_dir: Path) -> dict[str, Any]:
        """The stack's raw state, as `terraform state pull` prints it ({} when nothing is deployed). Unlike
        `terraform show -json` it starts no provider."""
        proc = subprocess.run([self.binary, "state", "pull"], cwd=stack_dir, env=self.env, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise MlplatError(f"terraform state pull failed for stack {stack_dir.name}: {proc.stderr.strip()}")
        return json.loads(proc.stdout or "{}")

    def state_resources(self, stack_dir: Path) -> list[str]:
        proc = subprocess.run([self.binary, "state", "list", "-no-color"], cwd=stack_dir, env=self.env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            return []
        return [line for line in proc.stdout.splitlines() if line.strip()]
