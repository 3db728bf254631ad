"""A gunicorn server for the benchmarks and the soak: started, waited for, measured, stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.procs import children, memory_kb

CLI = Path(sys.executable).with_name("ketamine-cds")


def service_env(settings: dict[str, str]) -> dict[str, str]:
    """The environment for a service under test: this process's, less any database URL,
    ``KETAMINE_CDS_*`` setting or metrics directory it carries (which would silently change
    what is measured), plus ``settings``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KETAMINE_CDS_")
        and k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    return {**env, **settings}


def serve_command(port: int, workers: int) -> list[str]:
    return [str(CLI), "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A gunicorn master and its workers. Output goes to ``log_path`` (a temporary file, removed
    on stop, when not given), so a chatty server can never block on a full pipe; start-up waits
    for ``/healthz`` and for ``workers`` workers, and stops the server if either never comes."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        port: int,
        *,
        log_path: Path | None = None,
        workers: int = 0,
    ) -> None:
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self._log_dir: Path | None = None
        if log_path is None:
            self._log_dir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
            log_path = self._log_dir / "server.log"
        self.log_path = log_path
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_healthy()
        deadline = time.monotonic() + 30
        while len(self.workers()) < workers:
            if time.monotonic() > deadline:
                self._fail(f"{self.name} started {len(self.workers())} of {workers} workers")
            time.sleep(0.2)

    def _fail(self, why: str) -> None:
        tail = self.log_tail()
        self.stop()
        raise SystemExit(f"{why}:\n{tail}")

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"{self.name} exited early")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self._fail(f"{self.name} did not become healthy")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def workers(self) -> list[int]:
        """The gunicorn master's children (the workers)."""
        return children(self.process.pid)

    def worker_memory_mb(self) -> dict[str, float]:
        """Largest PSS and USS among the workers, in MB."""
        readings = [m for m in map(memory_kb, self.workers()) if m]
        return {
            "pss": max((pss for pss, _ in readings), default=0) / 1024,
            "uss": max((uss for _, uss in readings), default=0) / 1024,
        }

    def stop(self) -> None:
        """SIGTERM, as a deployment would (graceful), then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
