"""A gunicorn server for the benchmarks and the soak: started, waited for, measured, stopped."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.procs import children, memory_kb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A gunicorn master and its workers. Output goes to ``log_path`` (a temporary file when
    not given), so a chatty server can never block on a full pipe; start-up waits for
    ``/healthz`` and for ``workers`` workers."""

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
        if log_path is None:
            handle, raw = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
            log_path = Path(raw)
            with open(handle, "wb"):
                pass
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_healthy()
        deadline = time.monotonic() + 30
        while len(self.workers()) < workers and time.monotonic() < deadline:
            time.sleep(0.2)

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"{self.name} did not become healthy:\n{self.log_tail()}")

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
