"""Errors of the format readers that also read as the built-in a caller may expect."""

from __future__ import annotations

from posetable.errors import NotFoundError


class MissingFileError(NotFoundError, FileNotFoundError):
    """A file the import needs (annotation file, data.yaml, image, list file) does not exist.

    It is a :class:`~posetable.errors.NotFoundError` and a :class:`FileNotFoundError`.

    Example:
        >>> issubclass(MissingFileError, FileNotFoundError)
        True
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
