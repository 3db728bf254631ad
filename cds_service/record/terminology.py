"""Value-set membership and medication recognition, from data files (``cds_service/knowledge``).

Value sets list codes by system; ICD-10-CM entries are prefixes (``I71`` matches ``I71.2``).
Medications are recognised by code first (RxNorm ingredient or product, NDC), then by a
whole-word ingredient name in a coding display or the text, and such a match is flagged
(docs/clinical-basis.md §12). A site adds codes by naming an extra directory
with the same layout (``valuesets/*.json``, ``medications/rxnorm-products.json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NamedTuple

from cds_service.record.valuesets import MembershipIndex, Rule, ValueSet, icd_key

__all__ = [
    "ICD10CM",
    "LOINC",
    "NDC",
    "RXNORM",
    "SNOMED",
    "Code",
    "Ingredient",
    "Recognition",
    "Terminology",
    "ValueSet",
    "default_terminology",
]

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
NDC = "http://hl7.org/fhir/sid/ndc"

# Systems as real EHRs also send them (HL7 OIDs, http/https variants).
SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "http://hl7.org/fhir/sid/icd-10": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "https://snomed.info/sct": SNOMED,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    "https://www.nlm.nih.gov/research/umls/rxnorm": RXNORM,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "https://loinc.org": LOINC,
    "urn:oid:2.16.840.1.113883.6.69": NDC,
}


class Code(NamedTuple):
    """One coding as the record keeps it: a normalised system, the code, and its display.

    A NamedTuple rather than a dataclass: charts hold thousands, and value-set memos hash them.
    """

    system: str | None
    code: str
    display: str | None = None

    def token(self) -> str:
        return f"{self.system}|{self.code}" if self.system else self.code


def normalise_system(system: Any) -> str | None:
    if not isinstance(system, str) or not system:
        return None
    return SYSTEM_ALIASES.get(system.rstrip("/"), system.rstrip("/"))


# Charts repeat the same few medication codings hundreds of times, but they come from clients,
# so the memo is emptied when full rather than allowed to grow without bound.
MEMO_LIMIT = 20_000
MEMO_TEXT_LIMIT = 512


@dataclass(frozen=True)
class Ingredient:
    name: str
    rxcui: str | None
    groups: frozenset[str]
    drug_class: str | None
    min_adequate_daily_mg: float | None
    verification: str


@dataclass(frozen=True)
class Recognition:
    """What a medication coding or text names: ingredients, how they were matched, strengths."""

    ingredients: tuple[str, ...] = ()
    matched_by: str | None = None  # rxnorm-ingredient | rxnorm-product | ndc | name
    strengths: dict[str, tuple[float, str]] = field(default_factory=dict)
    product: Code | None = None

    @property
    def by_name(self) -> bool:
        return self.matched_by == "name"


class Terminology:
    """Loaded value sets and medication tables. Build once per process; read-only after."""

    def __init__(self, sources: list[Traversable | Path]) -> None:
        self.valuesets: dict[str, ValueSet] = {}
        self.ingredients: dict[str, Ingredient] = {}
        self._by_rxcui: dict[str, str] = {}
        self._products: dict[str, dict[str, Any]] = {}
        self._ndc: dict[str, dict[str, Any]] = {}
        self._ndc_prefixes: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        self._recognised: dict[tuple[tuple[Code, ...], tuple[str | None, ...]], Recognition] = {}
        for source in sources:
            self._load(source)
        self.membership = MembershipIndex(self.valuesets.values())  # each set holds it too
        names = sorted({*self.ingredients, *self._aliases}, key=len, reverse=True)
        self._name_pattern = re.compile(
            r"\b(" + "|".join(re.escape(n) for n in names) + r")\b", re.IGNORECASE
        )

    def _load(self, root: Traversable | Path) -> None:
        vs_dir = root / "valuesets"
        if vs_dir.is_dir():
            for entry in sorted(vs_dir.iterdir(), key=lambda e: e.name):
                if entry.name.endswith(".json"):
                    self._add_valueset(json.loads(entry.read_text(encoding="utf-8")))
        med_dir = root / "medications"
        ingredients = med_dir / "ingredients.json"
        if ingredients.is_file():
            for name, data in json.loads(ingredients.read_text(encoding="utf-8"))[
                "ingredients"
            ].items():
                self.ingredients[name] = Ingredient(
                    name=name,
                    rxcui=data.get("rxcui"),
                    groups=frozenset(data.get("groups", [])),
                    drug_class=data.get("class"),
                    min_adequate_daily_mg=data.get("minAdequateDailyMg"),
                    verification=data.get("verification", "UNVERIFIED"),
                )
                if data.get("rxcui"):
                    self._by_rxcui[data["rxcui"]] = name
                for alias in data.get("aliases", []):
                    self._aliases[alias.lower()] = name
        products = med_dir / "rxnorm-products.json"
        if products.is_file():
            self._products.update(json.loads(products.read_text(encoding="utf-8"))["products"])
        ndc = med_dir / "ndc.json"
        if ndc.is_file():
            data = json.loads(ndc.read_text(encoding="utf-8"))
            self._ndc.update({_ndc_key(k): v for k, v in data.get("packages", {}).items()})
            self._ndc_prefixes.update(
                {_ndc_key(k): v for k, v in data.get("productPrefixes", {}).items()}
            )

    def _add_valueset(self, data: dict[str, Any]) -> None:
        def rules(items: list[dict[str, Any]]) -> list[Rule]:
            out = []
            for item in items:
                system = normalise_system(item["system"]) or item["system"]
                out.append(
                    Rule(
                        system=system,
                        codes={c["code"] for c in item.get("codes", [])},
                        prefixes=[icd_key(_code(p)) for p in item.get("prefixes", [])],
                        ranges=[(int(r["low"]), int(r["high"])) for r in item.get("ranges", [])],
                        patterns=[re.compile(p["pattern"]) for p in item.get("patterns", [])],
                    )
                )
            return out

        existing = self.valuesets.get(data["id"])
        if existing:  # a site file extends a shipped set
            existing.include += rules(data.get("include", []))
            existing.exclude += rules(data.get("exclude", []))
            return
        self.valuesets[data["id"]] = ValueSet(
            id=data["id"],
            title=data.get("title", data["id"]),
            purpose=data.get("purpose", ""),
            include=rules(data.get("include", [])),
            exclude=rules(data.get("exclude", [])),
        )

    def valueset(self, vs_id: str) -> ValueSet:
        try:
            return self.valuesets[vs_id]
        except KeyError:
            raise KeyError(f"no value set {vs_id!r}; known: {sorted(self.valuesets)}") from None

    def in_group(self, ingredient: str, group: str) -> bool:
        found = self.ingredients.get(ingredient)
        return bool(found and group in found.groups)

    def recognise(self, codes: Iterable[Code], texts: Iterable[str | None] = ()) -> Recognition:
        """Name the ingredients a medication coding or text refers to.

        Usage: ``terminology.recognise([Code(RXNORM, "312938")]).ingredients  # ("sertraline",)``
        """
        key = (tuple(codes), tuple(texts))
        found = self._recognised.get(key)
        if found is None:
            found = self._recognise(list(key[0]), key[1])
            if sum(len(t or "") for t in key[1]) <= MEMO_TEXT_LIMIT:
                if len(self._recognised) >= MEMO_LIMIT:
                    self._recognised.clear()
                self._recognised[key] = found
        return found

    def _recognise(self, codes: list[Code], texts: tuple[str | None, ...]) -> Recognition:
        for code in codes:
            if code.system == RXNORM and code.code in self._by_rxcui:
                return Recognition((self._by_rxcui[code.code],), "rxnorm-ingredient", product=code)
            if code.system == RXNORM and code.code in self._products:
                return self._from_product(self._products[code.code], "rxnorm-product", code)
            if code.system == NDC:
                key = _ndc_key(code.code)
                if key in self._ndc:
                    return self._from_product(self._ndc[key], "ndc", code)
                for prefix, name in self._ndc_prefixes.items():
                    if key.startswith(prefix):
                        return Recognition((name,), "ndc", product=code)
        candidates = [c.display for c in codes] + list(texts)
        for text in candidates:
            if not text:
                continue
            names = {m.lower() for m in self._name_pattern.findall(text)}
            found = {self._aliases.get(n, n) for n in names} & set(self.ingredients)
            if found:
                return Recognition(tuple(sorted(found)), "name")
        return Recognition()

    def _from_product(self, product: dict[str, Any], how: str, code: Code) -> Recognition:
        names: list[str] = []
        strengths: dict[str, tuple[float, str]] = {}
        for part in product.get("ingredients", []):
            name = part.get("name")
            if name not in self.ingredients:
                continue
            names.append(name)
            if part.get("strength") is not None and part.get("unit"):
                strengths[name] = (float(part["strength"]), str(part["unit"]).upper())
        return Recognition(tuple(names), how, strengths, product=code)


def _code(entry: str | dict[str, Any]) -> str:
    """A prefix entry: a bare code, or ``{"code", "display"}`` as the value-set files give it."""
    return entry if isinstance(entry, str) else str(entry["code"])


def _ndc_key(code: str) -> str:
    """An NDC in 11-digit form: dashed 10-digit codes are padded to 5-4-2 (or 5-4 for a
    product code); undashed codes are taken as given."""
    parts = code.strip().split("-")
    if len(parts) in (2, 3):
        widths = (5, 4, 2)[: len(parts)]
        return "".join(p.zfill(w) for p, w in zip(parts, widths, strict=True))
    return code.replace(" ", "")


def knowledge_root() -> Traversable:
    return files("cds_service.knowledge")


@cache
def default_terminology(extra_dir: str | None = None) -> Terminology:
    """The shipped terminology, extended by a site directory if one is configured."""
    sources: list[Traversable | Path] = [knowledge_root()]
    if extra_dir:
        path = Path(extra_dir)
        if not path.is_dir():
            raise ValueError(f"the extra terminology directory {extra_dir} does not exist")
        sources.append(path)
    return Terminology(sources)
