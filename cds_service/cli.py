"""``ketamine-cds``: serve the CDS Hooks service, prepare its database, or evaluate a Bundle."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from cds_service.settings_errors import SETTINGS_ERRORS, describe

__all__ = ["main"]

FHIR_SERVER_BIND_ENV = "KETAMINE_CDS_FHIR_SERVER_BIND"
DEFAULT_FHIR_SERVER_BIND = "127.0.0.1:8081"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader (`| head`, say) stopped reading: no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="ketamine-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the service through gunicorn")
    serve.add_argument("--bind", help="host:port (default 127.0.0.1:8080, or KETAMINE_CDS_BIND)")
    serve.add_argument("--workers", type=_positive, help="worker processes (default: CPU cores)")
    serve.add_argument("--threads", type=_positive, help="threads per worker (default 1)")
    commands.add_parser("init-db", help="create or migrate the database schema and exit")
    db = commands.add_parser("db", help="database maintenance")
    db.add_subparsers(dest="db_command", required=True).add_parser(
        "upgrade", help="apply the migrations (the service also does this on start)"
    )
    evaluate = commands.add_parser(
        "evaluate",
        help="print the cards for a FHIR Bundle (or a hook request file), without a server",
        description="Draft MedicationRequests/ServiceRequests in the Bundle become draftOrders "
        "for the order hooks. Bundled fixtures are dated around 2026-03-02: pass "
        "--as-of 2026-03-02 to see their intended answers.",
    )
    evaluate.add_argument("file", type=Path, help="a FHIR R4 Bundle or a CDS Hooks request (JSON)")
    evaluate.add_argument("--hook", choices=["patient-view", "order-select", "order-sign"])
    evaluate.add_argument("--format", choices=["text", "json"], default="text")
    evaluate.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="judge as of this day (YYYY-MM-DD)"
    )
    commands.add_parser(
        "check-config", help="check settings, value sets, trusted issuers and the database"
    )
    fhir = commands.add_parser(
        "fhir-server",
        help="serve fixture patients as an open, read-only FHIR R4 server, dated today",
    )
    fhir.add_argument("directory", nargs="?", type=Path, help="a directory of FHIR Bundles")
    fhir.add_argument(
        "--smart",
        action="store_true",
        help="also act as a SMART authorization server that approves at once (a test double, "
        "for launching the TRD and course view; loopback only)",
    )
    fhir.add_argument(
        "--bind",
        default=os.environ.get(FHIR_SERVER_BIND_ENV, DEFAULT_FHIR_SERVER_BIND),
        help=f"host:port (default {DEFAULT_FHIR_SERVER_BIND}, or {FHIR_SERVER_BIND_ENV})",
    )
    from cds_service.cli_reports import add_report_commands, run_report_command

    add_report_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "fhir-server":
        return _fhir_server(args)
    if args.command == "check-config":
        from cds_service.config_check import check_configuration

        findings = check_configuration()
        for finding in findings:
            print(finding)
        return 1 if any(f.level == "error" for f in findings) else 0

    from cds_service.config import Settings

    try:
        settings = Settings()
    except SETTINGS_ERRORS as exc:
        print(invalid_settings(exc), file=sys.stderr)
        return 2

    if args.command in ("feedback-report", "audit"):
        print(run_report_command(args, settings))
        return 0
    if args.command in ("init-db", "db"):
        from cds_service.storage import Database

        revision = Database(str(settings.database_url)).create_schema()
        print(f"database schema is ready (revision {revision})")
        return 0
    return _serve(settings, args)


def invalid_settings(exc: Exception) -> str:
    return "ketamine-cds: invalid settings:\n" + "\n".join(f"  {line}" for line in describe(exc))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from cds_service.evaluate import EvaluationError, build_request, evaluate, load, render_text

    try:
        request = build_request(load(args.file), args.hook)
        status, body = evaluate(request, args.as_of or date.today())
    except EvaluationError as exc:
        print(f"ketamine-cds evaluate: {exc}", file=sys.stderr)
        return 2
    except SETTINGS_ERRORS as exc:
        print(invalid_settings(exc), file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(body, indent=2))
    else:
        print(render_text(status, body))
    return 0 if status == 200 else 1


def _fhir_server(args: argparse.Namespace) -> int:
    from importlib.resources import files

    from werkzeug.serving import run_simple

    from cds_service.fhirserver import FhirStore, create_fhir_app

    directory = args.directory or Path(str(files("cds_service.fixtures") / "patients"))
    host, _, port = args.bind.rpartition(":")
    if not port.isdigit():
        print(
            f"ketamine-cds fhir-server: --bind must be host:port, not {args.bind!r}",
            file=sys.stderr,
        )
        return 2
    from cds_service.config import is_loopback_bind

    if args.smart and not is_loopback_bind(args.bind):
        print(
            f"ketamine-cds fhir-server: --smart approves every sign-in, so it binds loopback "
            f"only (127.0.0.1, localhost or [::1]), not {args.bind!r}",
            file=sys.stderr,
        )
        return 2
    taken = port_taken(
        args.bind, setting=FHIR_SERVER_BIND_ENV, target="fhir-server", command="fhir-server"
    )
    if taken:
        print(f"ketamine-cds fhir-server: {taken}", file=sys.stderr)
        return 2
    try:
        store = FhirStore.from_directory(directory, date.today())
    except (OSError, ValueError) as exc:
        print(f"ketamine-cds fhir-server: {exc}", file=sys.stderr)
        return 2
    patients = len(store.resources.get("Patient", {}))
    print(
        f"ketamine-cds: FHIR R4 server with {patients} patients on http://{args.bind}/",
        file=sys.stderr,
    )
    if args.smart:
        from cds_service.fhirserver.smart import BANNER

        print(f"ketamine-cds: {BANNER}", file=sys.stderr)
    app = create_fhir_app(store, smart=args.smart)
    run_simple(host or "127.0.0.1", int(port), app, threaded=True)
    return 0


def _prepare_metrics_dir(data_dir: Path) -> None:
    """Give gunicorn's workers an empty shared metrics directory, unless one is configured
    (_serve then creates it if missing, or refuses to start).

    It must be set before prometheus_client is first imported, which picks its storage then.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = data_dir / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def run_gunicorn(load: Callable[[], Any], *, log_format: str = "json", **overrides: Any) -> None:
    """Serve the WSGI app ``load()`` returns through gunicorn, with gunicorn_conf's settings
    (``overrides`` win where they are not None). The benchmarks' floor runs through this too.

    The workers answer requests gunicorn cannot parse with an OperationOutcome, and gunicorn's
    own log lines come in ``log_format`` (cds_service/serving.py)."""
    from gunicorn.app.base import BaseApplication

    from cds_service import gunicorn_conf
    from cds_service.serving import logger_class, worker_class

    options = {k: v for k, v in vars(gunicorn_conf).items() if not k.startswith("_")}
    options.update({k: v for k, v in overrides.items() if v is not None})
    options["worker_class"] = worker_class(int(options["threads"]))
    options["logger_class"] = logger_class(log_format)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return load()

    Server().run()


def _serve(settings: Any, args: argparse.Namespace) -> int:
    from cds_service.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    log = logging.getLogger("cds_service.cli")
    _prepare_metrics_dir(settings.data_dir)
    from cds_service import gunicorn_conf
    from cds_service.app import create_app
    from cds_service.metrics import prepare_multiprocess_dir

    try:
        prepare_multiprocess_dir()
    except ValueError as exc:
        log.error(f"cannot start: {exc}")
        return 2
    bind = args.bind or gunicorn_conf.bind
    try:  # validated again: the bind address can decide the public base URLs
        settings = type(settings)(bind=bind)
    except SETTINGS_ERRORS as exc:
        print(invalid_settings(exc), file=sys.stderr)
        return 2
    exposure = settings.slow_client_exposure()
    if exposure:
        log.warning(exposure)
    taken = port_taken(bind)
    if taken:
        log.error(taken)
        return 2
    log.info(f"starting on http://{bind}/cds-services", extra={"pid": os.getpid()})
    run_gunicorn(
        lambda: create_app(settings),
        log_format=settings.log_format,
        bind=bind,
        workers=args.workers,
        threads=args.threads,
    )
    return 0


def port_taken(
    bind: str, *, setting: str = "KETAMINE_CDS_BIND", target: str = "run", command: str = "serve"
) -> str | None:
    """Why ``host:port`` cannot be listened on, with what to do, or None when it can.

    gunicorn would retry for five seconds and end with "Can't connect"; this says which port
    and how to choose another. The service says it is ready only once gunicorn listens."""
    host, _, port_text = bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return f"cannot listen on {bind}: the port must be a number from 1 to 65535"
    port = int(port_text)
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        return f"cannot listen on {bind}: {host} is not a known address ({exc.strerror or exc})"
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return f"cannot listen on {bind}: {exc.strerror or exc}"
            other = f"{host}:{port + 1 if port < 65535 else 8081}"
            return (
                f"cannot listen on {bind}: {exc.strerror}. Another program (another "
                f"`make {target}`?) has port {port}. Choose another: {setting}={other} "
                f"make {target}, or ketamine-cds {command} --bind {other}"
            )
    return None


if __name__ == "__main__":
    raise SystemExit(main())
