"""The form server as it runs in production, for the durability tests and the server benchmark: a real
gunicorn process on a free port, the real `flask --app formserver` CLI, and a small JSON client.

Environment of every process: DATABASE_URL, SECRET_KEY, FORMSERVER_HANDBOOK_ROOT (this checkout).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery"


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "live-test-secret",
            "FORMSERVER_HANDBOOK_ROOT": str(ROOT), "FORMSERVER_SIGNATURE_DRAWING_REQUIRED": "false", **extra}  # typed


def flask_cli(database_url: str, *args: str, stdin: str = "", timeout: float = 120) -> str:
    """Run `flask --app formserver ARGS` as an admin would; its output (fails loudly on a non-zero exit)."""
    result = subprocess.run([str(BIN / "flask"), "--app", "formserver", *args], input=stdin, text=True,
                            capture_output=True, env=server_env(database_url), cwd=ROOT, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def user_with_token(database_url: str, username: str, role: str = "staff", team: str = "desk") -> str:
    """Create a user and an API token with the real CLI; the token."""
    flask_cli(database_url, "create-user", username, "--role", role, "--team", team, stdin=PASSWORD + "\n")
    return flask_cli(database_url, "create-token", username, "--label", "test").strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """`gunicorn -w N 'formserver:create_app()'` (or another app), started and waited for."""

    def __init__(self, database_url: str, workers: int = 2, worker_class: str = "sync", threads: int = 1,
                 app: str = "formserver:create_app()", log: Path | None = None, env: dict[str, str] | None = None,
                 reuse_port: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.boot_seconds = 0.0
        command = [str(BIN / "gunicorn"), "-w", str(workers), "-k", worker_class, "--threads", str(threads),
                   "-b", f"127.0.0.1:{self.port}", "--no-control-socket", "--timeout", "60",
                   "--graceful-timeout", "5", *(["--reuse-port"] if reuse_port else []), app]
        out = log.open("ab") if log else subprocess.DEVNULL
        self.process = subprocess.Popen(command, cwd=ROOT, env={**server_env(database_url), **(env or {})},
                                        stdout=out, stderr=subprocess.STDOUT)
        if log:
            out.close()

    def wait_ready(self, path: str = "/healthz", timeout: float = 60) -> None:
        start = time.monotonic()
        deadline = start + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; log: {self.log}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = request("GET", self.url + path, timeout=2)
                if status < 500 and len(self.workers()) >= 1:
                    self.boot_seconds = time.monotonic() - start
                    return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready after {timeout} s; log: {self.log}")

    def workers(self) -> list[int]:
        """Process ids of the master's children (the workers), from /proc."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 4 is the parent pid; the command name (field 2) may contain spaces, so split after ')'.
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                children.append(int(entry.name))
        return sorted(children)

    @staticmethod
    def age(pid: int) -> float:
        """Seconds since process `pid` started (0 if it is gone)."""
        try:
            started = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19])
            uptime = float(Path("/proc/uptime").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return 0.0
        return uptime - started / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Gunicorn:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def request(method: str, url: str, body: Any = None, token: str = "", timeout: float = 10) -> tuple[int, Any]:
    """(status, parsed JSON or raw text) of one request on a fresh connection."""
    host = url.split("//", 1)[1].split("/", 1)[0]
    path = "/" + url.split("//", 1)[1].split("/", 1)[1] if url.count("/") > 2 else "/"
    connection = http.client.HTTPConnection(host, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                           headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data.decode("utf-8", "replace")


def patrol_values(base_url: str, token: str) -> dict[str, Any]:
    """A valid patrol, its area taken from the form definition the API serves."""
    from tests.server_support import PATROL_OK

    status, form = request("GET", f"{base_url}/api/v1/forms/patrol", token=token)
    assert status == 200, form
    area = next(i for i in form["header"] if i["id"] == "area")
    values = {k: v for k, v in PATROL_OK.items() if v is not None}
    values["area"] = area["options"][0]
    return values

