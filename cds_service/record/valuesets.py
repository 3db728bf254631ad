"""Value sets, and the index that says which of them hold a code.

Each set's rules list codes by system: exact codes, prefixes of the dotless code (ICD-10-CM
``I71`` holds ``I71.2``), numeric ranges (CPT) and patterns. Asking every set about every
coding multiplies the sets by the codings, and a client decides how many codings a resource
carries. The index answers "which sets hold this code" with one lookup per prefix length
instead, so reading a record costs the same per coding however many sets the rules ask about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cds_service.record.terminology import Code

__all__ = ["MembershipIndex", "Rule", "ValueSet", "icd_key"]

# Charts repeat the same few codes hundreds of times, but the codes come from clients, so the
# memo is emptied when full rather than allowed to grow without bound.
MEMO_LIMIT = 20_000


def icd_key(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


@dataclass
class Rule:
    """Membership in one system: listed codes, code prefixes (ICD-10-CM and -PCS), numeric
    ranges (CPT), and patterns over the dotless code (an ICD-10-CM character position)."""

    system: str
    codes: set[str] = field(default_factory=set)
    prefixes: list[str] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)
    patterns: list[re.Pattern[str]] = field(default_factory=list)

    def scans(self, code: Code) -> bool:
        """True when the code falls in one of the ranges or matches one of the patterns."""
        key = icd_key(code.code)
        if self.ranges and key.isascii() and key.isdigit() and len(key) == 5:
            number = int(key)
            if any(low <= number <= high for low, high in self.ranges):
                return True
        return any(p.match(key) for p in self.patterns)


@dataclass
class ValueSet:
    """One value set. ``index`` is the Terminology's, shared by all its sets."""

    id: str
    title: str
    purpose: str
    include: list[Rule]
    exclude: list[Rule]
    index: MembershipIndex = field(init=False, repr=False, compare=False)

    def contains(self, code: Code) -> bool:
        return self.id in self.index.sets_of(code)

    def match(self, codes: Iterable[Code]) -> Code | None:
        """The first coding in the set (and not excluded from it), else None."""
        for code in codes:
            if self.contains(code):
                return code
        return None


class _RuleTable:
    """Rules of many sets, looked up by (system, code) and (system, prefix)."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], set[str]] = {}
        self.prefixed: dict[tuple[str, str], set[str]] = {}
        self.prefix_lengths: dict[str, list[int]] = {}
        self.scanned: list[tuple[str, Rule]] = []

    def add(self, vs_id: str, rule: Rule) -> None:
        for code in rule.codes:
            self.exact.setdefault((rule.system, code), set()).add(vs_id)
        for prefix in rule.prefixes:
            self.prefixed.setdefault((rule.system, prefix), set()).add(vs_id)
            lengths = self.prefix_lengths.setdefault(rule.system, [])
            if len(prefix) not in lengths:
                lengths.append(len(prefix))
        if rule.ranges or rule.patterns:
            self.scanned.append((vs_id, rule))

    def sets_of(self, code: Code) -> set[str]:
        system = code.system
        if system is None:  # a coding without a system is in no value set
            return set()
        found = set(self.exact.get((system, code.code), ()))
        lengths = self.prefix_lengths.get(system)
        if lengths:
            key = icd_key(code.code)
            for length in lengths:
                if len(key) >= length:
                    found.update(self.prefixed.get((system, key[:length]), ()))
        for vs_id, rule in self.scanned:
            if rule.system == system and vs_id not in found and rule.scans(code):
                found.add(vs_id)
        return found


class MembershipIndex:
    """Which value sets hold a code: included by one of a set's rules and excluded by none."""

    def __init__(self, valuesets: Iterable[ValueSet]) -> None:
        self._include = _RuleTable()
        self._exclude = _RuleTable()
        for valueset in valuesets:
            for rule in valueset.include:
                self._include.add(valueset.id, rule)
            for rule in valueset.exclude:
                self._exclude.add(valueset.id, rule)
            valueset.index = self
        self._memo: dict[Code, frozenset[str]] = {}

    def sets_of(self, code: Code) -> frozenset[str]:
        known = self._memo.get(code)
        if known is None:
            included = self._include.sets_of(code)
            known = frozenset(included - self._exclude.sets_of(code) if included else ())
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[code] = known
        return known

    def first_codes(self, codes: Iterable[Code]) -> dict[str, Code]:
        """For each value set that holds one of ``codes``, the first that it holds."""
        first: dict[str, Code] = {}
        for code in codes:
            for vs_id in self.sets_of(code):
                first.setdefault(vs_id, code)
        return first
