"""``ketamine-cds feedback-report`` and ``ketamine-cds audit``: read-only views of the database."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select

__all__ = ["add_report_commands", "run_report_command"]


def _day(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)


def add_report_commands(commands: Any) -> None:
    report = commands.add_parser(
        "feedback-report",
        help="acceptance and override rates by card topic, decision and override reason",
    )
    report.add_argument(
        "--since", type=_day, help="cards issued from this day, 00:00 UTC (YYYY-MM-DD)"
    )
    report.add_argument("--format", choices=["text", "json", "csv"], default="text")

    audit = commands.add_parser("audit", help="query the audit trail, newest first")
    audit.add_argument("--since", type=_day, help="calls from this day, 00:00 UTC (YYYY-MM-DD)")
    audit.add_argument("--service", help="a service id")
    audit.add_argument("--status", type=int, help="an HTTP status, e.g. 412")
    audit.add_argument("--patient", help="a patient id; it is hashed with the audit salt")
    audit.add_argument("--limit", type=int, default=50)
    audit.add_argument("--format", choices=["text", "json"], default="text")


def run_report_command(args: argparse.Namespace, settings: Any) -> str:
    from cds_service.storage import Database

    db = Database(str(settings.database_url))
    db.create_schema()
    try:
        if args.command == "feedback-report":
            return _feedback_report(db, args)
        return _audit(db, args, settings)
    finally:
        db.dispose()


def _feedback_report(db: Any, args: argparse.Namespace) -> str:
    from cds_service.storage.report import feedback_report

    rows = feedback_report(db, args.since)
    if args.format == "json":
        return json.dumps([r.as_dict() for r in rows], indent=2)
    if args.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "topic",
                "decision",
                "issued",
                "accepted",
                "overridden",
                "acceptance_rate",
                "override_reasons",
            ]
        )
        for r in rows:
            reasons = ";".join(f"{code}:{n}" for code, n in r.override_reasons.items())
            writer.writerow(
                [
                    r.topic,
                    r.decision,
                    r.issued,
                    r.accepted,
                    r.overridden,
                    r.acceptance_rate or "",
                    reasons,
                ]
            )
        return out.getvalue().rstrip("\n")
    if not rows:
        return "No cards issued and no feedback received" + (
            f" since {args.since.date()}." if args.since else "."
        )
    # Imported here: the CLI must not load prometheus_client before `serve` sets up its
    # multiprocess directory, and the services package brings it in.
    from cds_service.services.codes import override_displays

    displays = override_displays()
    topic_width = max(len("topic"), *(len(r.topic) for r in rows))
    decision_width = max(len("decision"), *(len(r.decision) for r in rows))
    line = f"{{:<{topic_width}}} {{:<{decision_width}}} {{:>6}} {{:>8}} {{:>10}} {{:>6}}".format
    lines = [line("topic", "decision", "issued", "accepted", "overridden", "rate")]
    for r in rows:
        rate = f"{r.acceptance_rate:.0%}" if r.acceptance_rate is not None else "-"
        lines.append(line(r.topic, r.decision, r.issued, r.accepted, r.overridden, rate))
        for code, count in r.override_reasons.items():
            name = f"{code} ({displays[code]})" if code in displays else code
            lines.append(f"{'':<{topic_width}}   overridden because {name}: {count}")
    return "\n".join(lines)


def _audit(db: Any, args: argparse.Namespace, settings: Any) -> str:
    from cds_service.storage import load_or_create_salt, patient_hash
    from cds_service.storage.audit import SALT_FILE
    from cds_service.storage.dialects import as_utc
    from cds_service.storage.models import AuditRecord

    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(max(1, args.limit))
    if args.since:
        query = query.where(AuditRecord.at >= args.since)
    if args.service:
        query = query.where(AuditRecord.service_id == args.service)
    if args.status is not None:
        query = query.where(AuditRecord.status == args.status)
    if args.patient:
        configured = settings.audit_salt.get_secret_value() if settings.audit_salt else None
        if configured is None and not (settings.data_dir / SALT_FILE).is_file():
            return (
                f"No audit salt in {settings.data_dir} and KETAMINE_CDS_AUDIT_SALT is not set: "
                "point KETAMINE_CDS_DATA_DIR at the service's data directory."
            )
        salt = load_or_create_salt(configured, settings.data_dir)
        query = query.where(AuditRecord.patient_hash == patient_hash(salt, args.patient))
    with db.session() as session:
        rows = list(session.scalars(query))
    fields = [
        "at",
        "request_id",
        "service_id",
        "hook",
        "hook_instance",
        "patient_hash",
        "issuer",
        "card_topics",
        "decisions",
        "status",
        "latency_ms",
    ]
    # In UTC whatever the database: SQLite hands back naive times, PostgreSQL its session's zone.
    records = [{f: getattr(r, f) for f in fields} | {"at": as_utc(r.at)} for r in rows]
    if args.format == "json":
        return json.dumps(records, indent=2, default=str)
    if not records:
        return "No audited calls match."
    return "\n".join(
        f"{r['at']:%Y-%m-%d %H:%M:%S} {r['status']} {r['service_id']} "
        f"{r['latency_ms']} ms patient={(r['patient_hash'] or '-')[:12]} "
        f"issuer={r['issuer'] or '-'} topics={','.join(r['card_topics'] or []) or '-'} "
        f"decisions={','.join(r['decisions'] or []) or '-'} request={r['request_id']}"
        for r in records
    )
