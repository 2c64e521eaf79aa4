"""What every command shares: load the blueprint, bring up the embedded AWS for `--local`, synthesize, and hand
out a terraform runner configured for the stacks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from mlplat.blueprint import Blueprint, load
from mlplat.errors import EXIT_BAD_INPUT, MlplatError
from mlplat.runner import Progress, Terraform
from mlplat.settings import TUNNEL_PORT_VARIABLE, WORK_DIR, Settings
from mlplat.state import state_bucket

if TYPE_CHECKING:
    from mlplat.aws import Aws

LOCAL_ROOT = Path(".mlplat-local")
# jsii (the cdktn runtime) runs on Node.js; it supports these majors (older ones fail in odd ways).
NODE_MIN_MAJOR = 20


@dataclass
class Session:
    blueprint: Blueprint
    settings: Settings
    stack_dirs: dict[str, Path]  # in dependency order: AWS layer, then Kubernetes layer
    progress: Progress
    env: dict[str, str]
    work_dir: Path
    emulator: object | None = None

    @property
    def aws_stack(self) -> Path:
        return next(iter(self.stack_dirs.values()))

    @property
    def kubernetes_stack(self) -> Path:
        return list(self.stack_dirs.values())[1]

    def aws(self) -> "Aws":
        """boto3 clients for this platform's account: the emulator's for --local, else the caller's credentials."""
        from mlplat.aws import Aws

        local_env = self.emulator.terraform_env() if self.emulator is not None else {}  # type: ignore[attr-defined]
        return Aws(region=self.blueprint.region, local_env=local_env)

    def terraform(self) -> Terraform:
        return Terraform(env=self.env, mirror=self.settings.provider_mirror, work_dir=self.work_dir,
                         progress=self.progress, aws=self.aws)

    @property
    def applicable_stacks(self) -> list[Path]:
        """Stacks terraform can apply here: locally only the AWS layer (no cluster behind the emulator)."""
        return [self.aws_stack] if self.settings.local else list(self.stack_dirs.values())


def require_node() -> None:
    """jsii starts `node`; without it the runtime fails with a traceback, so say what to install instead."""
    node = shutil.which("node")
    if node is None:
        raise MlplatError(f"Node.js not found on PATH: synthesizing runs the cdktn (jsii) runtime on Node.js "
                          f">= {NODE_MIN_MAJOR}; install it (`make run` puts Node 22 into .tools/bin), then run again",
                          exit_code=EXIT_BAD_INPUT)


def _quiet_jsii_exit() -> None:
    """jsii stops its Node process at exit by writing to it; after a Ctrl-C killed that process (it shares the
    terminal's process group), the write fails and Python prints a traceback of an atexit hook. Nothing is lost by
    then: the stop only needs to be quiet."""
    try:
        from jsii._kernel.providers import process
    except ImportError:
        return
    if getattr(process._NodeProcess.stop, "_mlplat_quiet", False):
        return
    original = process._NodeProcess.stop

    def stop(self: object) -> None:
        try:
            original(self)
        except (OSError, ValueError, AttributeError):
            pass

    stop._mlplat_quiet = True  # type: ignore[attr-defined]
    process._NodeProcess.stop = stop  # type: ignore[method-assign]


# What synthesis reads besides the blueprint: the code and data of this checkout.
SOURCES = ("mlplat", "stacks", "modules", "helm-values", "dashboards", "charts", "main.py", "pyproject.toml")
CACHE_FILE = ".mlplat-synth.json"


def fingerprint(blueprint: Blueprint, settings: Settings) -> str:
    """Everything a synthesis depends on: the blueprint and the files it names, this checkout's code and data, the
    settings, and the installed cdktn packages. The same fingerprint means the same synthesized stacks."""
    from importlib import metadata

    from mlplat.addons import ROOT

    digest = hashlib.sha256()
    files = [ROOT / name for name in SOURCES]
    for path in sorted(p for f in files for p in ([f] if f.is_file() else f.rglob("*"))):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    for source in [blueprint._source, *(str(blueprint.resolve_path(v)) for v in blueprint.addon_values.values())]:
        digest.update(source.encode() + b"\0" + (Path(source).read_bytes() if Path(source).is_file() else b""))
    packages = {name: metadata.version(name) for name in ("cdktn", "cdktn-provider-aws", "cdktn-provider-helm",
                                                          "constructs")}
    digest.update(json.dumps([settings.to_env(), packages], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def synthesize(blueprint: Blueprint, settings: Settings, progress: Progress | None = None) -> dict[str, Path]:
    progress = progress or Progress(quiet=True)
    key = fingerprint(blueprint, settings)
    cache = settings.outdir / CACHE_FILE
    try:
        cached = json.loads(cache.read_text())
    except (OSError, json.JSONDecodeError):
        cached = {}
    if cached.get("fingerprint") == key:
        dirs = {sid: settings.outdir / "stacks" / sid for sid in cached["stacks"]}
        if all((d / "cdk.tf.json").is_file() for d in dirs.values()):
            progress.say(f"synthesizing {blueprint.name}: up to date (nothing it depends on changed)")
            return dirs
    require_node()
    _quiet_jsii_exit()
    cache.unlink(missing_ok=True)
    with progress.step(f"synthesizing {blueprint.name}"):
        from stacks.app import add_stacks, new_app

        settings.outdir.mkdir(parents=True, exist_ok=True)
        try:
            app = new_app(settings)
            stacks = add_stacks(app, blueprint, settings)
            app.synth()
        except RuntimeError as exc:  # jsii reports construct validation failures this way
            raise MlplatError(f"synthesis failed: {str(exc).strip()}") from None
    dirs = {sid: settings.outdir / "stacks" / sid for sid in stacks.in_order}
    # Stacks of other blueprints synthesized here before would pile up; only this App's belong in the output.
    for stale in (settings.outdir / "stacks").iterdir():
        if stale.is_dir() and stale.name not in dirs and (stale / "cdk.tf.json").exists():
            shutil.rmtree(stale, ignore_errors=True)
    cache.write_text(json.dumps({"fingerprint": key, "stacks": list(dirs)}))
    return dirs


@contextlib.contextmanager
def session(blueprint_path: Path, *, local: bool, provider_mirror: Path | None, quiet: bool,
            warn: bool = True) -> Iterator[Session]:
    blueprint = load(blueprint_path)
    progress = Progress(quiet=quiet)
    if warn:
        for warning in blueprint.warnings():
            print(warning, file=sys.stderr)
    env = dict(os.environ)
    base = Settings.from_env().with_(blueprint_path=blueprint_path)
    if provider_mirror is not None:
        base = base.with_(provider_mirror=provider_mirror)
    if not local:
        work = (base.outdir.parent / WORK_DIR).resolve()
        yield Session(blueprint, base, synthesize(blueprint, base, progress), progress, env, work)
        return

    from mlplat.emulator import LocalAws

    root = (LOCAL_ROOT / blueprint.name).resolve()
    emulator = LocalAws(root / "emulator", region=blueprint.region)
    progress.say(f"embedded AWS: starting (state in {root / 'emulator'})")
    endpoint = emulator.start()
    try:
        progress.say(f"embedded AWS: listening on {endpoint}")
        settings = base.with_(outdir=root / "cdktf.out", aws_endpoint_url=endpoint, state_dir=root / "tfstate")
        env.update(emulator.terraform_env())
        yield Session(blueprint, settings, synthesize(blueprint, settings, progress), progress, env, root, emulator)
    finally:
        emulator.stop()
        progress.say("embedded AWS: stopped (state saved)")
        if emulator.request_errors:
            # terraform retries a 500, so the run may still have succeeded; an emulator bug must not pass unseen.
            progress.say(
                f"embedded AWS: {emulator.request_errors} request(s) failed inside the emulator (a bug in it, not in "
                f"your blueprint); details in {emulator.errors_file}"
            )


def tunnel_port(platform: str) -> int:
    """A fixed local port per platform (42000-42999): a saved plan of the Kubernetes layer records the port its
    providers connect to, so `deploy --plan` must open the tunnel on the same one."""
    return 42000 + int(hashlib.sha256(platform.encode()).hexdigest(), 16) % 1000


@contextlib.contextmanager
def kubernetes_access(s: Session, tf: Terraform) -> Iterator[object | None]:
    """Around terraform runs of the Kubernetes layer: on a real account whose endpoint is private (no public CIDRs)
    and which has the cluster access node, a tunnel through it (mlplat/tunnel.py), its port passed to the layer's
    providers. Otherwise nothing: the endpoint is reached directly (public CIDRs, a VPN, a runner in the VPC)."""
    if s.settings.local or s.blueprint.cluster_endpoint_public_access_cidrs:
        yield None
        return
    outputs = tf.output(s.aws_stack)
    if not outputs.get("access_node_instance_id"):
        yield None
        return
    from mlplat.tunnel import api_tunnel

    with api_tunnel(outputs, s.blueprint.region, say=s.progress.say, port=tunnel_port(s.blueprint.name),
                    env=tf.env) as tunnel:
        tf.env[f"TF_VAR_{TUNNEL_PORT_VARIABLE}"] = str(tunnel.port)
        try:
            yield tunnel
        finally:
            tf.env.pop(f"TF_VAR_{TUNNEL_PORT_VARIABLE}", None)


@contextlib.contextmanager
def account(blueprint: Blueprint, *, local: bool, progress: Progress) -> Iterator["Aws"]:
    """boto3 clients for the platform's account without synthesizing: the caller's credentials, or for --local the
    embedded AWS with this platform's saved state (started here, saved and stopped on exit)."""
    from mlplat.aws import Aws

    if not local:
        yield Aws(region=blueprint.region)
        return
    from mlplat.emulator import LocalAws

    emulator = LocalAws((LOCAL_ROOT / blueprint.name).resolve() / "emulator", region=blueprint.region)
    progress.say("embedded AWS: starting")
    emulator.start()
    try:
        yield Aws(region=blueprint.region, local_env=emulator.terraform_env())
    finally:
        emulator.stop()


def state_file(blueprint: Blueprint, stack: str, *, local: bool) -> Path | None:
    """Where a stack's state lives when it is a local file (None when it lives in S3)."""
    settings = Settings.from_env()
    if local:
        return (LOCAL_ROOT / blueprint.name / "tfstate" / f"{stack}.tfstate").resolve()
    if state_bucket(blueprint, settings) is not None:
        return None
    state_dir = settings.state_dir or settings.outdir.parent / ".mlplat-state"
    return (state_dir / f"{stack}.tfstate").resolve()
