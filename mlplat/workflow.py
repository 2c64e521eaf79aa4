"""What every command shares: load the blueprint, bring up the embedded AWS for `--local`, synthesize, and hand
out a terraform runner configured for the stacks."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from mlplat.blueprint import Blueprint, load
from mlplat.errors import MlplatError
from mlplat.runner import Progress, Terraform
from mlplat.settings import Settings

if TYPE_CHECKING:
    from mlplat.aws import Aws

LOCAL_ROOT = Path(".mlplat-local")


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
                         progress=self.progress)

    @property
    def applicable_stacks(self) -> list[Path]:
        """Stacks terraform can apply here: locally only the AWS layer (no cluster behind the emulator)."""
        return [self.aws_stack] if self.settings.local else list(self.stack_dirs.values())


def synthesize(blueprint: Blueprint, settings: Settings) -> dict[str, Path]:
    from stacks.app import add_stacks, new_app

    settings.outdir.mkdir(parents=True, exist_ok=True)
    try:
        app = new_app(settings)
        stacks = add_stacks(app, blueprint, settings)
        app.synth()
    except RuntimeError as exc:  # jsii reports construct validation failures this way
        raise MlplatError(f"synthesis failed: {str(exc).strip()}") from None
    return {sid: settings.outdir / "stacks" / sid for sid in stacks.in_order}


@contextlib.contextmanager
def session(blueprint_path: Path, *, local: bool, provider_mirror: Path | None, quiet: bool,
            warn: bool = True) -> Iterator[Session]:
    blueprint = load(blueprint_path)
    progress = Progress(quiet=quiet)
    if warn:
        for warning in blueprint.warnings():
            progress.say(warning)
    env = dict(os.environ)
    base = Settings.from_env().with_(blueprint_path=blueprint_path)
    if provider_mirror is not None:
        base = base.with_(provider_mirror=provider_mirror)
    if not local:
        yield Session(blueprint, base, synthesize(blueprint, base), progress, env, base.outdir.parent.resolve())
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
        yield Session(blueprint, settings, synthesize(blueprint, settings), progress, env, root, emulator)
    finally:
        emulator.stop()
        progress.say("embedded AWS: stopped (state saved)")
