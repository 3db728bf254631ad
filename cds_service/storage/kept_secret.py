"""A secret generated once and kept in the data directory (local development defaults)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["kept_secret"]


def kept_secret(data_dir: Path, name: str, make: Callable[[], str], *, setting: str) -> str:
    """The secret in ``data_dir/name``, created with ``make()`` on first use (mode 0600).

    Creation is atomic and first-wins, so processes starting together agree and no reader
    sees a half-written file. ``setting`` names the variable that replaces the file.
    """
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise RuntimeError(f"{path} is empty; delete it or set {setting}")
    return value
