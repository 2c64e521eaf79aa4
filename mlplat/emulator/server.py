"""The embedded local AWS: moto's server on loopback, with our extensions, and state that outlives the process."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import threading
from collections import OrderedDict
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qs

from moto.core.base_backend import BackendDict
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mlplat.emulator import extensions
from mlplat.emulator.inventory import count_resources
from mlplat.emulator.persistence import restore_state, save_state
from mlplat.errors import MlplatError

SHUTDOWN_POLL_SECONDS = 0.05
LOOPBACK = "127.0.0.1"
LOCK_FILE_NAME = "emulator.lock"
ERRORS_FILE_NAME = "request-errors.log"
# SDK retries the emulator answered (what each got), kept across runs of one state directory.
RETRIES_FILE_NAME = "request-retries.log"
DUMMY_CREDENTIAL = "testing"

# Keys of the AWS provider's `endpoints` block (5.100 schema) that the stacks point at the emulator: the services moto
# serves that a platform may use. Canonical names only: `events` and `logs`, not their aliases `cloudwatchevents` and
# `cloudwatchlogs`. (ecrpublic is not here: moto has no ECR Public.)
PROVIDER_ENDPOINT_SERVICES: tuple[str, ...] = (
    "acm",
    "autoscaling",
    "cloudwatch",
    "dynamodb",
    "ec2",
    "ecr",
    "efs",
    "eks",
    "elb",
    "elbv2",
    "events",
    "fsx",
    "iam",
    "kms",
    "logs",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "sts",
)


def provider_settings(endpoint: str) -> dict[str, Any]:
    """The AWS provider block for the emulator at `endpoint`, as terraform JSON attribute names (region not included).

    The dummy credentials are here as well as in `LocalAws.terraform_env()` so that a provider block built from this
    can never sign a request with real credentials.
    """
    return {
        "access_key": DUMMY_CREDENTIAL,
        "secret_key": DUMMY_CREDENTIAL,
        "s3_use_path_style": True,
        "skip_credentials_validation": True,
        "skip_metadata_api_check": "true",  # a string attribute in provider 5.x
        "skip_region_validation": True,
        "skip_requesting_account_id": False,
        # An emulator error is a bug, not a transient fault: fail in seconds rather than retry for minutes. But an
        # answer the SDK lost (it gave up on the connection while a loaded machine served other calls one at a time)
        # is retried, and the retry replayed from the answers kept: two attempts were not always enough when a
        # two-core CI machine ran three round trips at once (a deploy failed on DescribeVpcAttribute, both
        # attempts' connections closed by the client), so four.
        "max_retries": 4,
        "endpoints": [dict.fromkeys(PROVIDER_ENDPOINT_SERVICES, endpoint)],
    }


class _QuietRequestHandler(WSGIRequestHandler):
    """Drops werkzeug's one-line-per-request log, which would bury terraform's output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _OneRequestAtATime:
    """moto's backends are plain dicts that one request mutates while another iterates them (IAM's get_role walks every
    role), which failed with "dictionary changed size during iteration" under terraform's parallel requests. AWS
    never fails so; answering one request at a time (the body read inside the lock) costs little, as the GIL already
    runs moto's Python one thread at a time, and the threaded server still accepts connections meanwhile."""

    ANSWERS_KEPT = 512  # the latest answers, by SDK invocation id, for retries of calls already carried out

    def __init__(self, app: DomainDispatcherApplication, retries_file: Path | None = None) -> None:
        self._app = app
        self.lock = threading.Lock()
        self._retries_file = retries_file
        self._answers: OrderedDict[str, tuple[str, list[tuple[str, str]], list[bytes]]] = OrderedDict()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            attempt = environ.get("HTTP_AMZ_SDK_REQUEST", "")
            invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID", "")
            retry = bool(attempt) and not attempt.startswith("attempt=1;")
            if retry and self._retries_file is not None:
                start_response = self._log_retry(environ, attempt, start_response)
            # A retry of a call this emulator already carried out: the SDK lost the first answer (it gave up waiting
            # while a loaded machine served other calls one at a time). Carrying the call out again would meet its
            # own result (a duplicate, a NotFound) where AWS, answering in time, never would; the first answer is
            # given again instead.
            if retry and invocation in self._answers:
                status, headers, chunks = self._answers[invocation]
                start_response(status, headers)
                return list(chunks)
            seen: dict[str, Any] = {}

            def keeping_start_response(status: str, headers: Any, *args: Any) -> Any:
                seen["status"], seen["headers"] = status, list(headers)
                return start_response(status, headers, *args)

            body = self._app(environ, keeping_start_response if invocation else start_response)
            try:
                chunks = list(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            # A failure (5xx) is what the SDK retries for: such a call is carried out again, never answered from here.
            if invocation and "status" in seen and not seen["status"].startswith("5"):
                self._answers[invocation] = (seen["status"], seen["headers"], chunks)
                while len(self._answers) > self.ANSWERS_KEPT:
                    self._answers.popitem(last=False)
            return chunks

    def _log_retry(self, environ: dict[str, Any], attempt: str, start_response: Any) -> Any:
        """An SDK's second (or later) attempt at one call: when the first was carried out and its answer lost, the
        retry meets the result (a duplicate, a NotFound). Logged with its answer, to tell those apart from the
        platform's own errors."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(data)
        action = (environ.get("HTTP_X_AMZ_TARGET") or parse_qs(data.decode(errors="replace")).get("Action", [""])[0]
                  or environ.get("PATH_INFO", ""))
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID", "")
        retries_file = self._retries_file

        def logging_start_response(status: str, headers: Any, *args: Any) -> Any:
            assert retries_file is not None
            with retries_file.open("a") as file:
                again = " (the first attempt was carried out: its answer, again)" if invocation in self._answers else ""
                file.write(f"{attempt} {environ.get('REQUEST_METHOD')} {action} invocation={invocation}: {status}"
                           f"{again}\n")
            return start_response(status, headers, *args)

        return logging_start_response


# moto keeps its state in module globals, so one process can serve one local AWS at a time.
_running_lock = threading.Lock()
_running: LocalAws | None = None


class LocalAws:
    """moto on 127.0.0.1 with the mlplat extensions; `stop()` saves its state to `state_dir`, `start()` restores it.

    Use one at a time per process (moto's backends are process-wide):

        with LocalAws(Path(".mlplat-local")) as aws:
            subprocess.run(["terraform", "apply"], env={**os.environ, **aws.terraform_env()})
    """

    def __init__(self, state_dir: Path, region: str = "us-west-2") -> None:
        self.state_dir = Path(state_dir)
        self.region = region
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._app: _OneRequestAtATime | None = None
        self._lock_file: IO[str] | None = None
        self.request_errors = 0  # requests the emulator failed with an internal error since the last start

    @property
    def errors_file(self) -> Path:
        return self.state_dir / ERRORS_FILE_NAME

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self._running_server().server_port}"

    def _running_server(self) -> BaseWSGIServer:
        if self._server is None:
            raise MlplatError("the local AWS is not running; call LocalAws.start() first")
        return self._server

    def start(self) -> str:
        """Start serving (state restored from `state_dir` if saved there) and return the endpoint URL."""
        global _running
        with _running_lock:
            if _running is not None:
                raise MlplatError(
                    f"a local AWS (state in {_running.state_dir}) is already running in this process; stop it first "
                    "(moto's state is process-wide, so two would share and overwrite each other's resources)"
                )
            _running = self
        try:
            self._lock_state_dir()
            self.errors_file.unlink(missing_ok=True)
            self.request_errors = 0
            BackendDict.reset()  # start from what state_dir holds, not from whatever an earlier instance left
            extensions.install(self.region)
            previous_port = restore_state(self.state_dir)
            self._app = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app),
                                           self.state_dir / RETRIES_FILE_NAME)
            self._server = self._serve(self._app, previous_port)
            self._server.log = self._log_server_error  # type: ignore[method-assign]
        except BaseException:
            self._unlock_state_dir()
            with _running_lock:
                _running = None
            raise
        # shutdown() waits for the serving loop to wake up: at the default 0.5 s poll, every stop waited that long.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                                        name="mlplat-local-aws", daemon=True)
        self._thread.start()
        return self.endpoint

    def _lock_state_dir(self) -> None:
        """Hold an exclusive lock on state_dir while serving: two emulators on one state would overwrite each other."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock_file = (self.state_dir / LOCK_FILE_NAME).open("w")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise MlplatError(
                f"another process is serving the local AWS state in {self.state_dir}; wait for it to finish "
                "(or stop it), then run again"
            ) from None
        self._lock_file = lock_file

    def _log_server_error(self, level: str, message: str, *args: Any) -> None:
        """werkzeug's server log: its only messages are "Error on request" reports (an exception inside moto or an
        extension, answered with a 500). They go to a file and a count, not to the caller's stderr, where the
        traceback would look like ours; the caller says that the emulator failed and where the details are."""
        if level != "error":
            return
        self.request_errors += 1
        with self.errors_file.open("a") as file:
            file.write((message % args if args else message).rstrip() + "\n")

    def _unlock_state_dir(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    @staticmethod
    def _serve(app: _OneRequestAtATime, previous_port: int | None) -> BaseWSGIServer:
        """Serve on the port of the saved state if it is free, so URLs in terraform state (SQS queue URLs embed the
        endpoint) stay valid across runs; otherwise on any free port."""
        if previous_port:
            try:
                return make_server(LOOPBACK, previous_port, app, threaded=True, request_handler=_QuietRequestHandler)
            except OSError:
                pass  # taken by now: any port will do, the saved state does not depend on it
        return make_server(LOOPBACK, 0, app, threaded=True, request_handler=_QuietRequestHandler)

    def stop(self) -> None:
        """Stop serving and save all state to `state_dir`. Does nothing if not running."""
        global _running
        if self._server is None:
            return
        port = self._server.server_port
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None
        try:
            # The server's request threads are daemons that shutdown() does not wait for: a request still being
            # answered (one terraform gave up on at an interrupt) must not change moto's state while it is pickled.
            with self._app.lock if self._app is not None else contextlib.nullcontext():
                save_state(self.state_dir, port)
        finally:
            self._unlock_state_dir()
            with _running_lock:
                _running = None

    def __enter__(self) -> LocalAws:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def terraform_env(self) -> dict[str, str]:
        """Environment for a terraform (or AWS CLI/SDK) subprocess talking to this emulator; merge over os.environ."""
        endpoint = self.endpoint
        return {
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
            # Empty clears a real session token or profile inherited from the caller's environment.
            "AWS_SESSION_TOKEN": "",
            "AWS_PROFILE": "",
            # Keep the user's ~/.aws files (profiles, SSO, credential_process, endpoint_url) out of the picture.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # Catches any service missing from the provider's `endpoints` block: it reaches the emulator, not AWS.
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            # terraform's own version check would reach out to HashiCorp; local mode makes no outside calls.
            "CHECKPOINT_DISABLE": "1",
        }

    def inventory(self) -> dict[str, int]:
        """Live resources by kind, ignoring what AWS itself provides (default VPC, AWS-managed policies, ...)."""
        self._running_server()
        return count_resources()
