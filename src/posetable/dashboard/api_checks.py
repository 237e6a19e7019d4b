"""Check and diagnosis endpoints: a revision's findings (for the grid's filter and badges)
and a run's Ronchi & Perona diagnosis.

The findings are those the revision's index keeps (``pt.check`` of it, run once, in the
background for a large table), served a page at a time; the diagnosis is one library call
(``pt.diagnose``) cached per table revision and run: revisions never change, so neither does
what they find.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter

from posetable.dashboard._kept_findings import NarrowFindings
from posetable.dashboard._params import MAX_INDEX, bounded
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._state import DashboardState, _Lru
from posetable.dashboard.app import JSONBytes
from posetable.diagnose._findings import Findings
from posetable.diagnose._found import SEVERITIES
from posetable.errors import UnsupportedError
from posetable.store import check_name
from posetable.table import Table

MAX_FINDINGS_PAGE = 1000


def router(state: DashboardState) -> APIRouter:
    """The check and diagnosis routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)
    diagnosis_cache: _Lru[tuple[str, str, str, int], dict[str, Any]] = _Lru(4)

    def findings_of(
        name: str, revision: int | None, rules: str | None
    ) -> tuple[Table, NarrowFindings | Findings]:
        """The revision's findings of ``rules`` (all by default): the ones the revision's
        index keeps (its check, run once, in the background for a large table), never a
        second ``pt.check``. A subset of rules is a subset of those findings: each rule's
        findings and the order (severity, rule, row, instance, keypoint) do not depend on
        which other rules ran."""
        from posetable.diagnose.check import check_rules

        table = state.table(name, revision)
        names = check_rules([r for r in (rules or "").split(",") if r] or None)
        found: NarrowFindings | Findings = state.index(table).findings()
        if set(names) != set(found.rule_names):
            codes = [i for i, n in enumerate(found.rule_names) if n in names]
            found = found.take(np.flatnonzero(np.isin(found.rule, codes)))
        return table, found

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
        """The revision's findings: counts by rule and severity, and a page of findings
        (filtered by ``severity``, ``rule``, ``row``) with the badge counts (errors,
        warnings, over all their findings) of the rows that page is on. Answered from the
        findings the dashboard keeps per revision: only the page's findings become
        dictionaries (and have their messages written)."""
        bounded("offset", offset, 0, MAX_INDEX)
        bounded("limit", limit, 1, MAX_FINDINGS_PAGE)
        if row is not None:
            bounded("row", row, 0, MAX_INDEX)
        if severity is not None and severity not in SEVERITIES:
            raise UnsupportedError(
                f"severity must be error, warning or info, got {severity!r}"[:200]
            )
        table, found = findings_of(name, revision, rules)
        n_sev = len(SEVERITIES)
        rule_names = found.rule_names
        cells = np.bincount(
            found.rule * n_sev + found.severity, minlength=len(rule_names) * n_sev
        ).reshape(len(rule_names), n_sev)
        by_rule = {
            rule_names[i]: dict(zip(SEVERITIES, cells[i].tolist(), strict=True))
            for i in np.flatnonzero(cells.sum(axis=1)).tolist()
        }
        chosen = np.ones(len(found), bool)
        if severity is not None:
            chosen &= found.severity == SEVERITIES.index(severity)
        if rule is not None:
            code = rule_names.index(rule) if rule in rule_names else -1
            chosen &= found.rule == code
        if row is not None:
            chosen &= found.row == row
        at = np.flatnonzero(chosen)
        page = found.take(at[offset : offset + limit])
        badged = (found.row >= 0) & (found.severity != SEVERITIES.index("info"))
        shown = np.unique(page.row[page.row >= 0])
        on_page = badged & np.isin(found.row, shown)
        errors = np.bincount(
            np.searchsorted(shown, found.row[on_page & (found.severity == 0)]),
            minlength=len(shown),
        )
        warnings = np.bincount(
            np.searchsorted(shown, found.row[on_page & (found.severity == 1)]),
            minlength=len(shown),
        )
        badges = {
            str(r): {"error": int(e), "warning": int(w)}
            for r, e, w in zip(shown.tolist(), errors, warnings, strict=True)
            if e or w
        }
        return JSONBytes(
            {
                "table": table.name,
                "revision": table.revision,
                "counts": dict(zip(SEVERITIES, cells.sum(axis=0).tolist(), strict=True)),
                "by_rule": by_rule,
                "rows": badges,
                "rows_with_findings": len(np.unique(found.row[badged])),
                "total": len(at),
                "offset": offset,
                "findings": page.to_table().to_pylist(),
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
