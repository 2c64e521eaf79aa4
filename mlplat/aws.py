"""boto3 clients for the account a command works on: the real one (the caller's credential chain), or the embedded
local AWS behind `--local` (its endpoint and dummy credentials, never the caller's)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from mlplat.errors import MlplatError

# Fail in seconds, not minutes: these calls are checks before long operations.
_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=30)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def new_botocore_session() -> botocore.session.Session:
    """A botocore session whose service models come from one loader per process: each session otherwise parses the
    JSON models of the services it makes clients for again (about 0.3 s for EC2's)."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return core


def new_session(**kwargs: Any) -> boto3.session.Session:
    return boto3.session.Session(botocore_session=new_botocore_session(), **kwargs)


@functools.cache
def _shared_session() -> boto3.session.Session:
    """One boto3 session per process for the clients `Aws` makes."""
    return new_session()


@dataclass
class Aws:
    region: str
    # Environment of the emulator (endpoint, dummy credentials) for --local; empty for a real account.
    local_env: Mapping[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            kwargs: dict[str, Any] = {"region_name": self.region, "config": _CONFIG}
            if self.local_env:
                kwargs.update(endpoint_url=self.local_env["AWS_ENDPOINT_URL"],
                              aws_access_key_id=self.local_env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=self.local_env["AWS_SECRET_ACCESS_KEY"])
            self._clients[service] = _shared_session().client(service, **kwargs)
        return self._clients[service]

    def session(self) -> boto3.session.Session:
        """A boto3 session for code that makes its own clients (mlplat/sweep.py): the emulator's for --local."""
        if not self.local_env:
            return new_session(region_name=self.region)
        return _LocalSession(self.local_env, self.region)


class _LocalSession(boto3.session.Session):
    def __init__(self, local_env: Mapping[str, str], region: str) -> None:
        super().__init__(aws_access_key_id=local_env["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=local_env["AWS_SECRET_ACCESS_KEY"], region_name=region,
                         botocore_session=new_botocore_session())
        self._endpoint = local_env["AWS_ENDPOINT_URL"]

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["endpoint_url"] = self._endpoint  # never the caller's real account
        return super().client(service_name, *args, **kwargs)


def call(what: str, fn: Any, **kwargs: Any) -> Any:
    """One AWS call, with its failure turned into an MlplatError that says what was being checked."""
    try:
        return fn(**kwargs)
    except NoCredentialsError:
        raise MlplatError(f"{what}: no AWS credentials found; configure them (aws configure, AWS_PROFILE, SSO) or "
                          f"use --local") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise MlplatError(f"{what}: AWS answered {err.get('Code')}: {err.get('Message')}") from None
    except BotoCoreError as exc:
        raise MlplatError(f"{what}: {exc}") from None
