"""Settings errors in words an operator can act on: which variable or TOML key, in which file,
what it must be, and what it was (never for a secret).

Usage: ``describe(exc)  # ["KETAMINE_CDS_FHIR_BUDGET_S: must be a number (got 'abc')"]``
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

__all__ = ["SETTINGS_ERRORS", "SettingsFileError", "describe"]

PREFIX = "KETAMINE_CDS_"
CONFIG_FILE_ENV = "KETAMINE_CDS_CONFIG_FILE"
SECRETS = {"audit_salt", "database_url"}  # a URL can hold a password
ALIASES: dict[str, tuple[str, ...]] = {
    "database_url": ("KETAMINE_CDS_DATABASE_URL", "DATABASE_URL")
}
_FIELD_OF_ALIAS = {name.lower(): field for field, names in ALIASES.items() for name in names}
_FIELD = re.compile(r'field "(\w+)"')
_WORDS = {
    "float_parsing": "must be a number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "missing": "is required",
    "extra_forbidden": "is not a setting",
    "json_invalid": "is not valid JSON",
    "list_type": "must be a list",
}


class SettingsFileError(ValueError):
    """The TOML file named by KETAMINE_CDS_CONFIG_FILE cannot be read."""


# What building Settings raises for a bad value, a bad JSON value or a bad file.
SETTINGS_ERRORS = (ValidationError, SettingsError, tomllib.TOMLDecodeError, SettingsFileError)


def describe(exc: Exception) -> list[str]:
    """One line per problem; for an exception that is not about settings, its text."""
    if isinstance(exc, ValidationError):
        return [_problem(error) for error in exc.errors(include_url=False)]
    if isinstance(exc, SettingsError):
        found = _FIELD.search(str(exc))
        cause = exc.__cause__
        why = f"not valid JSON ({cause})" if cause else str(exc)
        return [f"{_where((found.group(1),)) if found else 'a setting'}: {why}"]
    if isinstance(exc, tomllib.TOMLDecodeError):
        return [f"{os.environ.get(CONFIG_FILE_ENV)}: not valid TOML: {exc}"]
    return [str(exc)]


def _problem(error: Any) -> str:
    loc = tuple(error["loc"])
    if loc and isinstance(loc[0], str):  # pydantic names an aliased field by the alias used
        loc = (_FIELD_OF_ALIAS.get(loc[0].lower(), loc[0]), *loc[1:])
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind == "greater_than":
        words = f"must be greater than {_number(context.get('gt'))}"
    elif kind == "greater_than_equal":
        words = f"must be at least {_number(context.get('ge'))}"
    elif kind == "less_than_equal":
        words = f"must be at most {_number(context.get('le'))}"
    elif kind == "string_pattern_mismatch" and loc == ("bind",):
        words = "must be host:port"
    else:
        words = _WORDS.get(kind) or error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = isinstance(value, str | int | float) and not (set(map(str, loc)) & SECRETS)
    got = f" (got {repr(value)[:60]})" if shown and kind not in ("missing", "value_error") else ""
    return f"{_where(loc)}: {words}{got}" if loc else f"{words}{got}"


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _where(loc: tuple[Any, ...]) -> str:
    """The environment variable that set the field, else the TOML file and key, else the
    variable that would set it."""
    head: list[str] = []
    for part in loc:
        if isinstance(part, int):
            break
        head.append(str(part))
    rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[len(head) :])
    if not head:
        return "settings" + rest
    names: tuple[str, ...] = ALIASES.get(head[0], ()) if len(head) == 1 else ()
    names = names or (PREFIX + "__".join(h.upper() for h in head),)
    set_in_env = [name for name in names if _in_environment(name)]
    if set_in_env:
        return set_in_env[0] + rest
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and _in_toml(Path(config_file), head):
        return f"{config_file}: {'.'.join(head)}{rest}"
    return names[0] + rest


def _in_environment(name: str) -> bool:
    return any(key.upper() == name for key in os.environ)


def _in_toml(path: Path, keys: list[str]) -> bool:
    try:
        node: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True
