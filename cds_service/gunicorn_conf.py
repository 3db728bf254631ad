"""gunicorn settings. Workers, threads and bind address come from the environment.

KETAMINE_CDS_BIND      default 127.0.0.1:8080
KETAMINE_CDS_WORKERS   default: one per CPU core (sync workers served best; python-stack.md §5)
KETAMINE_CDS_THREADS   default 1; more than 1 switches to gthread workers, which help only
                       when handlers wait on FHIR callbacks
KETAMINE_CDS_TIMEOUT   default 30 (seconds before a silent worker is restarted)
"""

import os

bind = os.environ.get("KETAMINE_CDS_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("KETAMINE_CDS_WORKERS", os.cpu_count() or 1))
threads = int(os.environ.get("KETAMINE_CDS_THREADS", "1"))
timeout = int(os.environ.get("KETAMINE_CDS_TIMEOUT", "30"))
graceful_timeout = 10
preload_app = True
accesslog = None  # the app logs each request itself, as JSON, without PHI
errorlog = "-"
control_socket_disable = True
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def child_exit(_server: object, worker: object) -> None:
    """Let /metrics forget a dead worker's live gauges (prometheus_client multiprocess mode)."""
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]
