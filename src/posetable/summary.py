"""A summary of a table revision: counts, visibility per keypoint, lineage.

Computed column-wise with DuckDB over the Lance dataset, never row by row in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow.compute as pc

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
    """

    ref: str
    rows: int
    instances: int
    images_without_instances: int
    visibility_counts: np.ndarray
    labels: dict[str, int]
    lineage: list[tuple[int, str]]
    schema_text: str

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
        }


def summarize(table: Table) -> TableSummary:
    """Summarise a table revision.

    Example:
        ``print(summarize(pt.Table.open("coco-sample")).to_text())``
    """
    schema = table.schema
    k = schema.num_keypoints
    keypoints = table.to_arrow(columns=["keypoints"]).column("keypoints").combine_chunks()
    instances = pc.list_flatten(pc.struct_field(keypoints, "instances"))
    counts = pc.fill_null(pc.list_value_length(pc.struct_field(keypoints, "instances")), 0)
    n_instances = len(instances)
    vis = pc.list_flatten(
        pc.struct_field(pc.struct_field(instances, "vertices_2d_additional_data"), "visibility")
    )
    visibility = np.zeros((k, 3), dtype=np.int64)
    if len(vis) and len(vis) % k == 0:
        grid = vis.to_numpy(zero_copy_only=False).reshape(-1, k)
        for v in range(3):
            visibility[:, v] = (grid == v).sum(axis=0)
    labels_flat = pc.list_flatten(
        pc.struct_field(pc.struct_field(keypoints, "instances_additional_data"), "label")
    ).to_numpy(zero_copy_only=False)
    label_counts = (
        np.bincount(labels_flat, minlength=len(schema.classes))
        if len(labels_flat)
        else np.zeros(len(schema.classes), int)
    )
    labels = {schema.classes[i]: int(c) for i, c in enumerate(label_counts) if c}
    name_width = max(len(n) for n in schema.keypoint_names)
    rows = [
        f"schema     K={k}, {len(schema.lines)} lines, "
        f"flip indices: {'yes' if schema.flip_indices else 'no'}, "
        f"sigmas: {'given' if schema.oks_sigmas_given else 'uniform 1/K'}",
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
        images_without_instances=int((counts.to_numpy() == 0).sum()),
        visibility_counts=visibility,
        labels=labels,
        lineage=[(h.revision, h.operation) for h in history],
        schema_text="\n".join(rows),
    )
