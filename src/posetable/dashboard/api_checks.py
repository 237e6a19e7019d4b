"""Check and diagnosis endpoints: a revision's findings (for the grid's filter and badges)
and a run's Ronchi & Perona diagnosis.

Both are one library call (``pt.check``, ``pt.diagnose``) cached per table revision (and
run): revisions never change, so neither does what they find.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter

from posetable.dashboard._params import MAX_INDEX, bounded
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._state import DashboardState, _Lru
from posetable.dashboard.app import JSONBytes
from posetable.errors import UnsupportedError
from posetable.store import check_name

MAX_FINDINGS_PAGE = 1000


def router(state: DashboardState) -> APIRouter:
    """The check and diagnosis routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)
    findings_cache: _Lru[tuple[str, int, tuple[str, ...]], list[dict[str, Any]]] = _Lru(8)
    diagnosis_cache: _Lru[tuple[str, str, str, int], dict[str, Any]] = _Lru(4)

    def findings_of(name: str, revision: int | None, rules: str | None) -> tuple[Any, list]:
        from posetable.diagnose.check import check, check_rules

        table = state.table(name, revision)
        names = tuple(check_rules([r for r in (rules or "").split(",") if r] or None))
        key = (table.name, table.revision, names)
        rows = findings_cache.get(key, lambda: check(table, rules=list(names)).to_pylist())
        return table, rows

    @api.get("/tables/{name}/check")
    def table_check(
        name: str,
        revision: int | None = None,
        rules: str | None = None,
        severity: str | None = None,
        rule: str | None = None,
        row: int | None = None,
        offset: int = 0,
        limit: int = 200,
    ) -> JSONBytes:
        """The revision's findings: counts by rule and severity, per-row badge counts, and a
        page of findings (filtered by ``severity``, ``rule``, ``row``)."""
        bounded("offset", offset, 0, MAX_INDEX)
        bounded("limit", limit, 1, MAX_FINDINGS_PAGE)
        if row is not None:
            bounded("row", row, 0, MAX_INDEX)
        if severity is not None and severity not in ("error", "warning", "info"):
            raise UnsupportedError(
                f"severity must be error, warning or info, got {severity!r}"[:200]
            )
        table, rows = findings_of(name, revision, rules)
        by_rule: dict[str, dict[str, int]] = {}
        badges: dict[int, dict[str, int]] = {}
        for f in rows:
            counts = by_rule.setdefault(f["rule"], {"error": 0, "warning": 0, "info": 0})
            counts[f["severity"]] += 1
            if f["row"] is not None and f["severity"] != "info":
                badge = badges.setdefault(int(f["row"]), {"error": 0, "warning": 0})
                badge[f["severity"]] += 1
        chosen = [
            f
            for f in rows
            if (severity is None or f["severity"] == severity)
            and (rule is None or f["rule"] == rule)
            and (row is None or f["row"] == row)
        ]
        return JSONBytes(
            {
                "table": table.name,
                "revision": table.revision,
                "counts": {
                    s: sum(1 for f in rows if f["severity"] == s)
                    for s in ("error", "warning", "info")
                },
                "by_rule": by_rule,
                "rows": {str(r): c for r, c in sorted(badges.items())},
                "total": len(chosen),
                "offset": offset,
                "findings": chosen[offset : offset + limit],
            }
        )

    @api.get("/runs/{name}/diagnose")
    def run_diagnose(name: str, table: str | None = None, revision: int | None = None) -> JSONBytes:
        """A run's diagnosis: AP before and after each fix, error counts per keypoint, the
        PR curves after each fix, background errors."""
        from posetable.diagnose.error_analysis import diagnose

        check_name(name, "run")
        run = state.open_run(name)
        target = state.table(
            table or run.table_name, revision if table else (revision or run.table_revision)
        )
        key = (name, str(run.manifest.get("created")), target.name, target.revision)

        def make() -> dict[str, Any]:
            result = diagnose(target, run)
            out = result.to_dict()
            out["table"] = target.name
            out["revision"] = target.revision
            out["run"] = name
            out["oks_thresholds"] = np.asarray(result.oks_thresholds).tolist()
            out["recall_thresholds"] = np.asarray(result.recall_thresholds).tolist()
            out["curves"] = {k: np.asarray(v).tolist() for k, v in result.curves.items()}
            out["instance_errors"] = result.instance_errors.to_pylist()
            return out

        return JSONBytes(diagnosis_cache.get(key, make))

    return api
