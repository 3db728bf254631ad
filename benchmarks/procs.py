"""A gunicorn master's workers, and a process's memory, from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path


def children(parent: int) -> list[int]:
    """The pids whose parent is ``parent`` (a gunicorn master's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return sorted(found)


def memory_kb(pid: int) -> tuple[int, int] | None:
    """(PSS, USS) of a process in kB, from /proc/<pid>/smaps_rollup; None once it is gone.

    PSS splits shared pages among the processes sharing them, so with ``--preload`` it does not
    count the master's pages once per worker, as RSS would.
    """
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return fields.get("Pss", 0), uss
