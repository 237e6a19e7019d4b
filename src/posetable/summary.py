"""A summary of a table revision: counts, visibility per keypoint, lineage.

Computed column-wise with DuckDB over the Lance dataset, never row by row in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from posetable._arrow import flat_from_arrow
from posetable.table import Table


@dataclass(frozen=True)
class TableSummary:
    """Counts describing one revision.

    Attributes:
        ref: ``name@revision``.
        rows: number of images.
        instances: number of instances.
        images_without_instances: images with no instance.
        visibility_counts: (K, 3) counts of visibility 0/1/2 per keypoint.
        labels: instances per class name.
        lineage: ``[(revision, operation), ...]`` newest first.
        oks_sigmas_source: where the schema's OKS sigmas came from
            (:attr:`~posetable.schema.Keypoints2DSchema.oks_sigmas_source`: ``"COCO"``,
            ``"uniform 1/K"``, ``"user"``, ``"estimated from ..."``).
    """

    ref: str
    rows: int
    instances: int
    images_without_instances: int
    visibility_counts: np.ndarray
    labels: dict[str, int]
    lineage: list[tuple[int, str]]
    schema_text: str
    oks_sigmas_source: str = ""

    def to_text(self) -> str:
        """A human-readable report."""
        lines = [
            f"table      {self.ref}",
            f"lineage    {' <- '.join(f'{rev} ({op})' for rev, op in self.lineage)}",
            f"images     {self.rows} ({self.images_without_instances} without instances)",
            f"instances  {self.instances}  "
            + ", ".join(f"{k}: {v}" for k, v in self.labels.items()),
            "",
            self.schema_text,
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "ref": self.ref,
            "rows": self.rows,
            "instances": self.instances,
            "images_without_instances": self.images_without_instances,
            "visibility_counts": self.visibility_counts.tolist(),
            "labels": self.labels,
            "lineage": [list(x) for x in self.lineage],
            "oks_sigmas_source": self.oks_sigmas_source,
        }


def summarize(table: Table) -> TableSummary:
    """Summarise a table revision.

    Read batch by batch (never the whole table at once), column-wise.

    Example:
        >>> import posetable as pt, tempfile
        >>> from posetable.summary import summarize
        >>> kp = pt.Keypoints2DInstances.create_empty(image_width=8, image_height=8)
        >>> kp.add_instance([[1, 1, 2], [2, 2, 0]])
        >>> rows = [{"image": "a.jpg", "width": 8, "height": 8, "keypoints": kp},
        ...         {"image": "b.jpg", "width": 8, "height": 8}]
        >>> table = pt.Table.from_rows(rows, name="s", schema=pt.Keypoints2DSchema(2),
        ...                            store=tempfile.mkdtemp())
        >>> summary = summarize(table)
        >>> summary.rows, summary.instances, summary.images_without_instances
        (2, 1, 1)
        >>> summary.visibility_counts.tolist()
        [[0, 0, 1], [1, 0, 0]]
        >>> summary.oks_sigmas_source, "sigmas: uniform 1/K" in summary.to_text()
        ('uniform 1/K', True)
    """
    schema = table.schema
    k = schema.num_keypoints
    n_classes = len(schema.classes)
    n_instances = 0
    empty_rows = 0
    visibility = np.zeros((k, 3), dtype=np.int64)
    label_counts = np.zeros(n_classes, dtype=np.int64)
    for batch in table.iter_batches(columns=["keypoints"], batch_rows=16384):
        flat = flat_from_arrow(batch.column(0), num_keypoints=k)
        n_instances += int(flat.counts.sum())
        empty_rows += int((flat.counts == 0).sum())
        rows_vis = np.repeat(flat.has_visibilities, flat.counts)
        grid = flat.visibilities[rows_vis]
        for v in range(3):
            visibility[:, v] += (grid == v).sum(axis=0)
        if len(flat.labels):
            label_counts += np.bincount(flat.labels, minlength=n_classes)[:n_classes]
    labels = {schema.classes[i]: int(c) for i, c in enumerate(label_counts) if c}
    name_width = max(len("keypoint"), *(len(n) for n in schema.keypoint_names))
    rows = [
        f"schema     K={k}, {len(schema.lines)} lines, "
        f"flip indices: {'yes' if schema.flip_indices else 'no'}, "
        f"sigmas: {schema.oks_sigmas_source}",
        f"  {'keypoint':{name_width}}  sigma    v=0    v=1    v=2",
    ]
    for i, name in enumerate(schema.keypoint_names):
        rows.append(
            f"  {name:{name_width}}  {schema.oks_sigmas[i]:.4f} "
            f"{visibility[i, 0]:>6} {visibility[i, 1]:>6} {visibility[i, 2]:>6}"
        )
    history = table.history()
    return TableSummary(
        ref=table.ref,
        rows=len(table),
        instances=n_instances,
        images_without_instances=empty_rows,
        visibility_counts=visibility,
        labels=labels,
        lineage=[(h.revision, h.operation) for h in history],
        schema_text="\n".join(rows),
        oks_sigmas_source=schema.oks_sigmas_source,
    )
