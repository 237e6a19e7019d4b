"""Concurrent clients against a running dashboard: reads, saves, conflicting saves, undos.

Used by ``tests/test_dashboard_concurrency.py`` (the bundled sample) and
``bench/bench_dashboard_concurrency.py`` (a 100,000-image table). Every client is a thread
with its own HTTP connection; each round it reads a grid page and a row, saves an edit of a
row of its own, every third round saves a row every client edits (so saves race), and
every fifth round undoes its own last save. What comes back is tallied by kind and status.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadReport:
    """Status codes by request kind, failures (5xx, transport errors, bad 409s), latencies."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)

    def count(self, kind: str, status: int, ms: float) -> None:
        self.statuses[(kind, status)] += 1
        self.latencies_ms.setdefault(kind, []).append(ms)

    @property
    def server_errors(self) -> int:
        return sum(n for (_, status), n in self.statuses.items() if status >= 500)


def instances_of(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """A row's ground-truth instances as the edit endpoint takes them back (a draft)."""
    gt = detail["gt"]
    return [
        {
            "source": i,
            "keypoints": gt["keypoints"][i],
            "visibility": gt["visibility"][i],
            "box": gt["boxes"][i],
            "label": gt["labels"][i],
        }
        for i in range(gt["count"])
    ]


def _nudged(detail: dict[str, Any], step: float) -> list[dict[str, Any]]:
    """The row's instances with one labeled keypoint moved by ``step`` pixels (kept inside)."""
    instances = instances_of(detail)
    for instance in instances:
        for k, v in enumerate(instance["visibility"]):
            if v > 0:
                x = instance["keypoints"][k][0]
                width = detail.get("width") or 1e9
                instance["keypoints"][k][0] = x + step if x + step < width else x - step
                return instances
    return instances


def hammer(
    base_url: str,
    table: str,
    rows: list[int],
    *,
    clients: int = 8,
    rounds: int = 20,
    shared_row: int | None = None,
    timeout_s: float = 120.0,
) -> LoadReport:
    """Run ``clients`` threads for ``rounds`` rounds each; client ``c`` owns ``rows[c]``.

    ``rows`` needs ``clients`` rows that have at least one labeled keypoint.
    """
    import httpx2 as httpx

    report = LoadReport()
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def call(client: Any, kind: str, method: str, url: str, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            with lock:
                report.failures.append(f"{kind}: {type(exc).__name__}: {exc}")
            return None
        ms = (time.perf_counter() - began) * 1000
        with lock:
            report.count(kind, response.status_code, ms)
            if response.status_code >= 500:
                report.failures.append(
                    f"{kind} {url}: {response.status_code} {response.text[:300]}"
                )
            elif response.status_code == 409 and response.json().get("type") != "ConflictError":
                report.failures.append(f"{kind}: 409 without ConflictError: {response.text[:300]}")
        return response

    def client_loop(index: int) -> None:
        own = rows[index]
        last_saved: int | None = None
        with httpx.Client(base_url=base_url, timeout=timeout_s) as client:
            start.wait()
            for round_ in range(rounds):
                call(client, "grid page", "GET", f"/api/tables/{table}/rows", params={"offset": 0})
                got = call(client, "row", "GET", f"/api/tables/{table}/rows/{own}")
                if got is None or got.status_code != 200:
                    continue
                detail = got.json()
                body = {
                    "base_revision": detail["revision"],
                    "rows": {str(own): {"instances": _nudged(detail, 1.0 + round_ % 3)}},
                }
                saved = call(client, "save own row", "POST", f"/api/tables/{table}/edit", json=body)
                if saved is not None and saved.status_code == 200:
                    last_saved = saved.json()["revision"]
                if shared_row is not None and round_ % 3 == 0:
                    shared = call(client, "row", "GET", f"/api/tables/{table}/rows/{shared_row}")
                    if shared is not None and shared.status_code == 200:
                        detail = shared.json()
                        step = 1.0 + index + round_ % 2
                        body = {
                            "base_revision": detail["revision"],
                            "rows": {str(shared_row): {"instances": _nudged(detail, step)}},
                        }
                        url = f"/api/tables/{table}/edit"
                        call(client, "save shared row", "POST", url, json=body)
                if last_saved is not None and round_ % 5 == 4:
                    body = {"base_revision": last_saved}
                    call(client, "undo", "POST", f"/api/tables/{table}/undo", json=body)
                    last_saved = None

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return report
