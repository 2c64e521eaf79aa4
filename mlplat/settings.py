"""Operator settings: where things run, as opposed to what the blueprint says to build.

They come from the environment so that `python main.py`, `cdktn synth` and the `mlplat` CLI see the same values:
    MLPLAT_BLUEPRINT          blueprint file (default blueprint.tfvars)
    MLPLAT_AWS_ENDPOINT_URL   set by `--local`: point the AWS provider at the embedded emulator
    MLPLAT_STATE_DIR          directory for local terraform state (default: next to cdktf.out)
    MLPLAT_PROVIDER_MIRROR    a terraform filesystem mirror for air-gapped use (no registry access); else the
                              `provider_mirror` of .mlplat/config.toml (which `make` writes when it finds a mirror)
    MLPLAT_BACKEND_S3_BUCKET  keep state in this S3 bucket (encrypted, S3 lock file) instead of local files
    MLPLAT_BACKEND_S3_REGION  that bucket's region, when it is not the platform's
    CDKTF_OUTDIR              set by `cdktn synth`; where stacks are written (default cdktf.out)
    MLPLAT_TODAY              the date support calendars are read at (YYYY-MM-DD; default today), e.g. to validate
                              a blueprint for a planned deploy date
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from mlplat.errors import EXIT_BAD_INPUT, MlplatError

# Per-checkout settings the CLI, `make` and the tests share (not committed: it names paths of this machine).
CONFIG_FILE = Path(".mlplat") / "config.toml"
WORK_DIR = Path(".mlplat") / "work"
# A platform's stacks are `<name>-aws` and `<name>-kubernetes` (stacks/): named here too, so that commands which only
# read state (`outputs`) know them without loading the jsii runtime.
AWS_STACK_SUFFIX = "aws"
KUBERNETES_STACK_SUFFIX = "kubernetes"
# The Kubernetes layer's variable for the local port of a tunnel to a private endpoint (TF_VAR_<name> sets it).
TUNNEL_PORT_VARIABLE = "api_tunnel_port"


def read_config(path: Path = CONFIG_FILE) -> dict[str, str]:
    if not path.is_file():
        return {}
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MlplatError(f"{path}: not valid TOML ({exc}); fix or delete it", exit_code=EXIT_BAD_INPUT) from None
    return {k: str(v) for k, v in data.items()}


def today() -> date:
    """The date EKS support dates are compared with: MLPLAT_TODAY if set, else the system's date."""
    value = os.environ.get("MLPLAT_TODAY")
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MlplatError(f"MLPLAT_TODAY: expected a date such as '2026-11-30', got {value!r}",
                          exit_code=EXIT_BAD_INPUT) from None


@dataclass(frozen=True)
class Settings:
    blueprint_path: Path = Path("blueprint.tfvars")
    outdir: Path = Path("cdktf.out")
    aws_endpoint_url: str | None = None
    state_dir: Path | None = None
    provider_mirror: Path | None = None
    backend_s3_bucket: str | None = None
    backend_s3_region: str | None = None  # the state bucket's region when not the platform's

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)

        def path(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        config = read_config()
        return cls(
            blueprint_path=path("MLPLAT_BLUEPRINT") or Path("blueprint.tfvars"),
            outdir=path("CDKTF_OUTDIR") or Path("cdktf.out"),
            aws_endpoint_url=env.get("MLPLAT_AWS_ENDPOINT_URL") or None,
            state_dir=path("MLPLAT_STATE_DIR"),
            provider_mirror=path("MLPLAT_PROVIDER_MIRROR") or (Path(config["provider_mirror"])
                                                               if config.get("provider_mirror") else None),
            backend_s3_bucket=env.get("MLPLAT_BACKEND_S3_BUCKET") or None,
            backend_s3_region=env.get("MLPLAT_BACKEND_S3_REGION") or None,
        )

    def to_env(self) -> dict[str, str]:
        """The inverse of from_env, for child processes (terraform's `cdktn` hooks, `python main.py`)."""
        pairs = {
            "MLPLAT_BLUEPRINT": self.blueprint_path,
            "CDKTF_OUTDIR": self.outdir,
            "MLPLAT_AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "MLPLAT_STATE_DIR": self.state_dir,
            "MLPLAT_PROVIDER_MIRROR": self.provider_mirror,
            "MLPLAT_BACKEND_S3_BUCKET": self.backend_s3_bucket,
            "MLPLAT_BACKEND_S3_REGION": self.backend_s3_region,
        }
        return {k: str(v) for k, v in pairs.items() if v is not None}

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)

    @property
    def local(self) -> bool:
        return self.aws_endpoint_url is not None
