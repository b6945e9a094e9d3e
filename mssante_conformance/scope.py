"""The declared scope of a run: which part of Ref#1 v1.5 its verdict speaks for.

A verdict is relative to a scope: ``conforme`` for ``api_lps`` says nothing of the interface
opérateurs. The scope selects catalog families (the plugin deselects the others); the
``--profile monitoring`` subset still applies on top. The report carries the scope with its
families, so that ``verify`` can recompute the verdict from report.json alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from mssante_conformance.catalog import FAMILIES

API_LPS_FAMILIES = tuple(f.id for f in FAMILIES.values() if f.interface == "api_lps")
OPERATOR_INTERFACE_FAMILIES = tuple(f.id for f in FAMILIES.values() if f.interface == "operator_interface")


@dataclass(frozen=True)
class Scope:
    id: str
    label: str  # French, shown in the report and the console
    families: tuple[str, ...]

    def covers(self, family: str) -> bool:
        return family in self.families

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "families": list(self.families)}


SCOPES: dict[str, Scope] = {s.id: s for s in (
    Scope("api_lps", "API LPS", API_LPS_FAMILIES),
    Scope("operator_interface", "Interface opérateurs", OPERATOR_INTERFACE_FAMILIES),
    Scope("complet", "Complet (API LPS et interface opérateurs)",
          API_LPS_FAMILIES + OPERATOR_INTERFACE_FAMILIES),
)}
DEFAULT_SCOPE = "complet"
