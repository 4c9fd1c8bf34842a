"""Shared helpers for tests that need the real built site (the browser itself: tests/browser.py)."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def mkdocs_build(project: Path, site_dir: Path) -> subprocess.CompletedProcess:
    """Run the real `mkdocs build --strict` (no -q: quiet mode hides the warnings strict counts)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(project / "mkdocs.yml"),
                           "-d", str(site_dir)], cwd=project, env=env, capture_output=True, text=True, timeout=300)


@functools.cache
def built_site() -> tuple[Path, str]:
    """The project's handbook, built once per test session: (site dir, build log)."""
    site = Path(tempfile.mkdtemp(prefix="handbook-site-")) / "site"
    result = mkdocs_build(PROJECT, site)
    if result.returncode != 0:
        raise AssertionError(f"mkdocs build failed:\n{result.stdout}\n{result.stderr}")
    return site, result.stdout + result.stderr


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve a directory on a free loopback port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def output_dir() -> Path:
    """Where tests leave screenshots for people to look at (not committed)."""
    path = PROJECT / "test-output"
    path.mkdir(exist_ok=True)
    return path
