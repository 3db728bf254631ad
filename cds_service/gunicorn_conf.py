"""gunicorn settings. Workers, threads and bind address come from the environment.

KETAMINE_CDS_BIND      default 127.0.0.1:8080
KETAMINE_CDS_WORKERS   default: one per CPU core (sync workers served best; BENCHMARKS.md)
KETAMINE_CDS_THREADS   default 1; more than 1 switches to gthread workers, which help only
                       when handlers wait on FHIR callbacks
KETAMINE_CDS_TIMEOUT   default 30 (seconds before a silent worker is restarted)
KETAMINE_CDS_GC_THRESHOLD  default 50000 (gen-0 garbage-collection threshold in workers)
"""

import gc
import logging
import os

from cds_service.config import DEFAULT_BIND

bind = os.environ.get("KETAMINE_CDS_BIND", DEFAULT_BIND)
workers = int(os.environ.get("KETAMINE_CDS_WORKERS", os.cpu_count() or 1))
threads = int(os.environ.get("KETAMINE_CDS_THREADS", "1"))
timeout = int(os.environ.get("KETAMINE_CDS_TIMEOUT", "30"))
graceful_timeout = 10
preload_app = True
accesslog = None  # the app logs each request itself, as JSON, without PHI
errorlog = "-"
control_socket_disable = True
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


# A hook call builds and drops a large tree of JSON objects (about 150 per FHIR resource). With
# the default gen-0 threshold of 700 that triggers dozens of collections per call, each also
# scanning the value sets and models loaded at start: profiled at a third of a 1,000-resource
# call before this setting (issue 7). The trees hold no cycles, so reference counting frees
# them anyway.
GC_GEN0_THRESHOLD = int(os.environ.get("KETAMINE_CDS_GC_THRESHOLD", "50000"))


def tune_garbage_collector() -> None:
    """Exempt everything loaded so far from collection, and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)


def when_ready(server: object) -> None:
    """In the master once it listens, after --preload and before any worker is forked: workers
    inherit the collector setting, and frozen objects are never written by a collection, so
    their pages stay shared. Only now is the service ready."""
    tune_garbage_collector()
    listeners = [str(listener) for listener in getattr(server, "LISTENERS", [])]
    logging.getLogger("cds_service.serving").info(
        "service ready", extra={"listening": listeners, "pid": os.getpid()}
    )


def child_exit(_server: object, worker: object) -> None:
    """Let /metrics forget a dead worker's live gauges (prometheus_client multiprocess mode)."""
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]
