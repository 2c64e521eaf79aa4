"""Runs terraform (or OpenTofu) on the synthesized stacks, streaming its `-json` UI output as progress lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from mlplat.errors import EXIT_BAD_INPUT, MlplatError

CLI_CONFIG_NAME = "terraform-cli.tfrc"


@dataclass
class Summary:
    add: int = 0
    change: int = 0
    remove: int = 0

    @property
    def total(self) -> int:
        return self.add + self.change + self.remove

    def as_dict(self) -> dict[str, int]:
        return {"add": self.add, "change": self.change, "remove": self.remove}


@dataclass
class Progress:
    """Prints one line per resource operation to stderr; quiet when the caller wants machine output only."""

    quiet: bool = False
    stream: Any = field(default_factory=lambda: sys.stderr)

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)


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


class Terraform:
    def __init__(self, *, env: Mapping[str, str] | None = None, mirror: Path | None = None,
                 work_dir: Path, progress: Progress | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.binary = find_binary(self.env)
        self.progress = progress or Progress()
        self.env["TF_IN_AUTOMATION"] = "1"
        self.env["CHECKPOINT_DISABLE"] = "1"
        if mirror is not None:
            self.env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(work_dir, mirror))
        elif self.env.get("TF_CLI_CONFIG_FILE") and not Path(self.env["TF_CLI_CONFIG_FILE"]).exists():
            # A dangling TF_CLI_CONFIG_FILE only produces warnings; terraform's defaults apply without it.
            self.env.pop("TF_CLI_CONFIG_FILE")

    # --- plumbing -------------------------------------------------------------------------------------------------
    def _run(self, stack_dir: Path, args: list[str], *, on_message: Callable[[dict], None] | None = None,
             ok_codes: tuple[int, ...] = (0,)) -> int:
        label = stack_dir.name
        proc = subprocess.Popen([self.binary, *args], cwd=stack_dir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        errors: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                self.progress.say(f"  {label}: {line.rstrip()}")
                continue
            if msg.get("type") == "diagnostic" and msg.get("diagnostic", {}).get("severity") == "error":
                d = msg["diagnostic"]
                where = d.get("address") or (d.get("range") or {}).get("filename", "")
                errors.append(f"{d.get('summary')}: {d.get('detail', '').strip()}" + (f" ({where})" if where else ""))
            if on_message:
                on_message(msg)
        stderr = proc.stderr.read() if proc.stderr else ""
        code = proc.wait()
        if code not in ok_codes:
            detail = "\n".join(errors) or stderr.strip() or f"exit code {code}"
            raise MlplatError(f"terraform {args[0]} failed for stack {label}:\n{detail}")
        return code

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
        self.progress.say(f"{stack_dir.name}: terraform init")
        self._run(stack_dir, ["init", "-input=false", "-no-color", "-json", *([] if backend else ["-backend=false"])])

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

    def plan(self, stack_dir: Path, *, destroy: bool = False, out: str | None = None) -> Summary:
        summary = Summary()

        def collect(msg: dict) -> None:
            if msg.get("type") == "change_summary":
                c = msg.get("changes", {})
                summary.add, summary.change, summary.remove = c.get("add", 0), c.get("change", 0), c.get("remove", 0)
            self._progress_printer(stack_dir.name)(msg)

        args = ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", "-lock-timeout=60s"]
        if destroy:
            args.append("-destroy")
        if out:
            args.append(f"-out={out}")
        self.progress.say(f"{stack_dir.name}: terraform plan{' -destroy' if destroy else ''}")
        self._run(stack_dir, args, on_message=collect, ok_codes=(0, 2))
        return summary

    def apply(self, stack_dir: Path, *, plan_file: str | None = None, destroy: bool = False) -> Summary:
        summary = Summary()

        def collect(msg: dict) -> None:
            if msg.get("type") == "change_summary":
                c = msg.get("changes", {})
                summary.add, summary.change, summary.remove = c.get("add", 0), c.get("change", 0), c.get("remove", 0)
            self._progress_printer(stack_dir.name)(msg)

        args = ["apply", "-input=false", "-no-color", "-json", "-lock-timeout=60s"]
        if plan_file:
            args.append(plan_file)
        else:
            args.append("-auto-approve")
            if destroy:
                args.append("-destroy")
        self.progress.say(f"{stack_dir.name}: terraform {'destroy' if destroy else 'apply'}")
        self._run(stack_dir, args, on_message=collect)
        return summary

    def output(self, stack_dir: Path) -> dict[str, Any]:
        proc = subprocess.run([self.binary, "output", "-json", "-no-color"], cwd=stack_dir, env=self.env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise MlplatError(f"terraform output failed for stack {stack_dir.name}: {proc.stderr.strip()}; "
                              f"deploy the stack first")
        # cdktn adds `cross-stack-output-*` outputs for the Kubernetes layer's remote state; they are plumbing.
        return {k: v.get("value") for k, v in json.loads(proc.stdout or "{}").items()
                if not k.startswith("cross-stack-output-")}

    def show_state(self, stack_dir: Path) -> dict[str, Any]:
        """The stack's state as `terraform show -json` prints it ({} when nothing is deployed)."""
        proc = subprocess.run([self.binary, "show", "-json", "-no-color"], cwd=stack_dir, env=self.env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise MlplatError(f"terraform show failed for stack {stack_dir.name}: {proc.stderr.strip()}")
        return json.loads(proc.stdout or "{}")

    def state_resources(self, stack_dir: Path) -> list[str]:
        proc = subprocess.run([self.binary, "state", "list", "-no-color"], cwd=stack_dir, env=self.env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            return []
        return [line for line in proc.stdout.splitlines() if line.strip()]
