"""The AWS endpoint the local stack talks to: moto's server embedded in this process, or an
emulator that is already running (LocalStack) when AWS_ENDPOINT_URL says so.

Either way the rest of the runtime only sees `Emulator.endpoint_url`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from infra.runtime import moto_fixes
from infra.runtime.moto_fixes.iam import ROOT_ACCESS_KEY_ID, enforce_iam

log = logging.getLogger("infra.runtime.emulator")

DEFAULT_PORT = 4566  # LocalStack's port, so tools and docs written for it carry over
HOST = "127.0.0.1"

# The platform's credentials: the local account's root (the embedded moto lets its key do
# anything, and holds every other key, the functions' assumed roles, to its IAM policies).
# Pinning fake ones keeps a developer's real AWS credentials out of every request and every
# worker process, so a call that somehow missed the endpoint override fails instead of
# touching a real account.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class EmulatorError(RuntimeError):
    pass


def use_fake_credentials(region: str) -> None:
    """Point this process (and the workers it starts) at fake credentials and one region."""
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_until_ready(endpoint_url: str, timeout: float = 30.0) -> None:
    """Block until the endpoint answers HTTP at all (any status counts: it is serving)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(endpoint_url.rstrip("/") + "/moto-api/", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # an HTTP answer, e.g. LocalStack's 404 for a moto-only path
        except OSError as exc:  # refused, reset, timed out
            last = exc
            time.sleep(0.05)
    raise EmulatorError(f"no AWS emulator answering at {endpoint_url} after {timeout:.0f}s: {last}")


@dataclass
class Emulator:
    endpoint_url: str
    embedded: bool  # False: someone else's emulator, which we must not stop
    _server: Any = field(default=None, repr=False)

    @classmethod
    def start(cls, port: int = DEFAULT_PORT, *, endpoint_url: str | None = None,
              host: str = HOST, patch_moto: bool = True) -> Emulator:
        """Use `endpoint_url` (default: $AWS_ENDPOINT_URL) if given, else start moto on `port`
        (0 picks a free one). `patch_moto=False` leaves moto's classes untouched (for tests
        that share the process with other moto users), IAM unenforced included."""
        external = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        if external:
            wait_until_ready(external, timeout=10)
            log.info("using the emulator at %s (AWS_ENDPOINT_URL); starting none", external)
            return cls(endpoint_url=external.rstrip("/"), embedded=False)

        # ThreadedMotoServer binds inside its thread: a taken port raises there and start()
        # then waits forever for a ready event that never comes. Check first, fail clearly.
        if port and not _port_free(host, port):
            raise EmulatorError(
                f"port {port} is already in use. If an emulator (LocalStack) is running there, "
                f"run with AWS_ENDPOINT_URL=http://{host}:{port}; otherwise pick another "
                f"--emulator-port.")
        from moto.server import ThreadedMotoServer  # heavy import, only when embedding

        if patch_moto:
            moto_fixes.apply()
            enforce_iam()  # functions act with their roles' policies, as deployed
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        bound_host, bound_port = server.get_host_and_port()
        url = f"http://{bound_host}:{bound_port}"
        wait_until_ready(url)
        log.info("moto server (embedded) listening on %s", url)
        return cls(endpoint_url=url, embedded=True, _server=server)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            log.info("moto server stopped")

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
