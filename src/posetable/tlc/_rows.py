"""3LC rows <-> posetable rows.

A 3LC row of a keypoints table is ``{"image": path, "keypoints_2d": <3LC's keypoints
layout>, ...user columns}``; the image size lives in the keypoints value's bounds
(``x_max - x_min``). posetable keeps it in its ``width``/``height`` columns too; the 3LC
view hides them (``tlc`` metadata: ``columns`` and ``hidden``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from posetable.errors import InstancesError, RowError, UnsupportedError
from posetable.instances import Keypoints2DInstances
from posetable.schema import Keypoints2DSchema
from posetable.tlc._schemas import ImageUrlSchema, Schema
from posetable.tlc._url import Url

NATIVE_KEYPOINTS = "keypoints"
NATIVE_IMAGE = "image"
#: posetable's own columns a 3LC user column may not be named after.
RESERVED = ("width", "height", "sample_id", "row")
WEIGHT = "weight"


@dataclass
class ColumnPlan:
    """How the columns of 3LC rows become posetable columns.

    ``keypoints`` and ``image`` are the 3LC names of the keypoints and image columns; every
    other column is a user column (checked by its schema when one was given).
    """

    keypoints: str
    keypoint_schema: Keypoints2DSchema
    image: str
    schemas: dict[str, Schema]
    columns: list[str]
    weight: float | None = None
    inferred: bool = False
    _sizes: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_structure(
        cls, structure: Any, first_keys: list[str], *, argument: str, weight: float | None
    ) -> ColumnPlan:
        """The plan of ``structure`` (3LC's ``structure=``/``column_schemas=``)."""
        if isinstance(structure, Schema) and structure.values is not None:
            structure = structure.values
        if not isinstance(structure, Mapping):
            raise UnsupportedError(
                f"{argument} must be a dict {{column: schema}} naming the keypoints column's "
                f"Keypoints2DSchema, got {type(structure).__name__}"
            )
        kp = [c for c, s in structure.items() if isinstance(s, Keypoints2DSchema)]
        if len(kp) != 1:
            raise UnsupportedError(
                f"{argument} must give exactly one column a Keypoints2DSchema (posetable "
                f"tables hold one keypoints column), got {len(kp)}: {kp or 'none'}"
            )
        images = [c for c, s in structure.items() if isinstance(s, ImageUrlSchema)]
        if len(images) > 1:
            raise UnsupportedError(
                f"{argument} gives {len(images)} columns an ImageUrlSchema ({images}); "
                "posetable tables hold one image column"
            )
        image = images[0] if images else NATIVE_IMAGE
        if not images and NATIVE_IMAGE not in first_keys:
            raise UnsupportedError(
                f"{argument} has no ImageUrlSchema column and the rows have no 'image' "
                "column; posetable tables need one image path per row"
            )
        schemas: dict[str, Schema] = {}
        for column, schema in structure.items():
            if column in (kp[0], image):
                continue
            if not isinstance(schema, Schema):
                raise UnsupportedError(
                    f"{argument}[{column!r}] is a {type(schema).__name__}, which posetable "
                    "does not support for a user column; use StringSchema(), Int32Schema(), "
                    "Float32Schema(), BoolSchema() or CategoricalLabelSchema() (or leave the "
                    "column out of the structure to infer its type)"
                )
            schema.arrow_type(column)  # composite schemas are refused here
            schemas[column] = schema
        columns = list(structure) + [k for k in first_keys if k not in structure]
        if weight is not None and WEIGHT not in columns:
            columns.append(WEIGHT)
        plan = cls(kp[0], structure[kp[0]], image, schemas, columns, weight)
        plan._check_names(argument)
        return plan

    def _check_names(self, argument: str) -> None:
        for column in self.columns:
            if column in RESERVED:
                raise UnsupportedError(
                    f"{argument}: column {column!r} is reserved by posetable (its own "
                    f"{', '.join(RESERVED)} columns); rename it"
                )
            if column == NATIVE_KEYPOINTS and column != self.keypoints:
                raise UnsupportedError(
                    f"{argument}: column 'keypoints' would clash with the keypoints column "
                    f"({self.keypoints!r}); rename it"
                )
            if column == NATIVE_IMAGE and column != self.image:
                raise UnsupportedError(
                    f"{argument}: column 'image' would clash with the image column "
                    f"({self.image!r}); rename it"
                )

    def metadata(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        """The ``tlc`` metadata kept with the table."""
        return {
            **extra,
            "keypoints_column": self.keypoints,
            "image_column": self.image,
            "columns": list(self.columns),
            "hidden": ["width", "height"],
            "column_schemas": {c: s.to_dict() for c, s in self.schemas.items()},
        }

    def native_row(self, row: Mapping[str, Any], index: int) -> dict[str, Any]:
        """One 3LC row as a posetable row (checked; errors name the row and column)."""
        if not isinstance(row, Mapping):
            raise RowError(f"row {index}: a row must be a dict, got {type(row).__name__}")
        unknown = [k for k in row if k not in self.columns]
        if unknown:
            raise RowError(
                f"row {index}: columns {unknown} are not columns of this table "
                f"({self.columns}); every row has the columns of the first"
            )
        image = row.get(self.image)
        if isinstance(image, (Url, os.PathLike)):
            image = str(image)
        if not isinstance(image, str) or not image:
            raise RowError(
                f"row {index}: column {self.image!r} must be an image path, got {image!r}"
            )
        image = Url(image).expand_aliases().to_str()
        value = row.get(self.keypoints)
        try:
            instances = (
                Keypoints2DInstances.create_empty(num_keypoints=self.keypoint_schema.num_keypoints)
                if value is None
                else Keypoints2DInstances.from_row(value)
            )
        except InstancesError as exc:
            raise RowError(f"row {index}: column {self.keypoints!r}: {exc}") from exc
        width, height = self._size(instances, image, index)
        out: dict[str, Any] = {
            NATIVE_IMAGE: image,
            "width": width,
            "height": height,
            NATIVE_KEYPOINTS: instances,
        }
        for column in self.columns:
            if column in (self.image, self.keypoints):
                continue
            got = row.get(column)
            if column == WEIGHT and got is None and self.weight is not None:
                got = self.weight
            schema = self.schemas.get(column)
            out[column] = got if schema is None else schema.coerce(got, column, index)
        return out

    def _size(self, instances: Keypoints2DInstances, image: str, index: int) -> tuple[int, int]:
        if instances.x_max is not None and instances.y_max is not None:
            return (
                round(instances.x_max - instances.x_min),
                round(instances.y_max - instances.y_min),
            )
        if image not in self._sizes:  # no bounds given: read the size from the file's header
            try:
                with Image.open(image) as opened:
                    self._sizes[image] = opened.size
            except OSError as exc:
                raise RowError(
                    f"row {index}: the keypoints value has no image size (x_max/y_max) and "
                    f"image {image!r} cannot be read for it: {exc}"
                ) from exc
        return self._sizes[image]
