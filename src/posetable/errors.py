"""The posetable error tree.

Every error posetable raises on bad input derives from :class:`PosetableError` and from the
built-in exception it refines, so ``except ValueError`` keeps working in user code.
Messages name where the problem is (file and line, table row and instance, argument),
what was expected and what was found.

Example:
    >>> import posetable as pt
    >>> try:
    ...     pt.Keypoints2DSchema(3, oks_sigmas=[0.1, 0.2])
    ... except pt.errors.SchemaError as error:
    ...     print(error)
    oks_sigmas must have length K=3, got 2
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "EvaluationError",
    "FormatError",
    "InstancesError",
    "MissingDependencyError",
    "NotFoundError",
    "PosetableError",
    "PosetableWarning",
    "RevisionError",
    "RowError",
    "RowIndexError",
    "RunError",
    "SchemaError",
    "StoreError",
    "TableExistsError",
    "UnsupportedError",
    "UnsupportedNameError",
]


class PosetableError(Exception):
    """Base class of every error posetable raises on purpose."""


class PosetableWarning(UserWarning):
    """Base class of the warnings posetable emits (assumed defaults, filled fields...)."""


class SchemaError(PosetableError, ValueError):
    """A keypoint schema (names, lines, flip indices, sigmas, pose) is invalid."""


class InstancesError(PosetableError, ValueError):
    """Keypoint instances have the wrong shape, values or types."""


class RowError(PosetableError, ValueError):
    """A table row is malformed (missing ``width``/``height``, bad keypoints value...)."""


class RowIndexError(RowError, IndexError):
    """A row position is out of range for the table (also an :class:`IndexError`)."""


class FormatError(PosetableError, ValueError):
    """A file (COCO JSON, YOLO label, data.yaml...) does not follow its format.

    Attributes:
        path: the file, when known.
        line: the 1-based line, when known.
    """

    def __init__(self, message: str, *, path: object = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


class NotFoundError(PosetableError, LookupError):
    """A table, revision or run does not exist (the message lists the known ones)."""


class RevisionError(PosetableError, ValueError):
    """A revision cannot be made or read as asked."""


class ConflictError(RevisionError):
    """Another writer changed what an edit touches (or created the same name) first.

    Nothing was written; the message names both revisions and how to go on.
    """


class TableExistsError(RevisionError):
    """A new table was asked for under a name that already holds a table.

    Nothing was written; the message names the existing table (its latest revision, K and
    rows) and what was being written, and how to go on (another name, or
    ``if_exists="new_revision"`` to add it as the next revision on purpose).
    """


class UnsupportedError(PosetableError, ValueError):
    """An argument value (often one of 3LC's) that posetable does not support.

    The message names the argument, the value given and what is supported; nothing was
    written.
    """


class UnsupportedNameError(UnsupportedError, AttributeError):
    """A 3LC name (``tlc.BoundingBoxListSchema``...) that posetable does not provide.

    Also an ``AttributeError``, so ``hasattr`` and ``getattr(..., default)`` keep working.
    """


class StoreError(PosetableError, OSError):
    """The store could not be read or written (a file system or Lance failure, named)."""


class EvaluationError(PosetableError, ValueError):
    """Evaluation parameters that cannot be evaluated (``COCOeval.params``: empty or NaN
    thresholds, ``maxDets`` that are not counts...); the message names the parameter."""


class RunError(PosetableError, ValueError):
    """A run's predictions or arguments do not fit its table."""


class MissingDependencyError(PosetableError, ImportError):
    """An optional extra is not installed; the message names the pip command."""


def missing_extra(package: str, extra: str) -> MissingDependencyError:
    """Build the error raised when an optional dependency is missing."""
    return MissingDependencyError(
        f'{package} is needed for this feature; install it with: pip install "posetable[{extra}]"'
    )
