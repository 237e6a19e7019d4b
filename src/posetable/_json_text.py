"""Why a JSON file cannot be parsed, named precisely (shared by ``formats`` and ``eval``).

Only the error paths call these: the fast readers parse first and, when a parser gives up
(invalid UTF-8, nesting deeper than it allows, a syntax error), ask here what to tell the
user: the file, the byte offset, the line and column.
"""

from __future__ import annotations

import orjson

from posetable.errors import FormatError

MAX_DEPTH = 1024  # orjson's nesting limit; msgspec and json stop at Python's recursion limit


def _line_column(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def encoding_error(path: object, raw: bytes) -> FormatError | None:
    """A FormatError when ``raw`` is not UTF-8 text (None when it is)."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(raw) > 1 and b"\x00" in raw[:4]):
        return FormatError(
            "not valid JSON text: the file starts like UTF-16 or UTF-32 text (a NUL byte or a "
            "byte-order mark in its first bytes); a JSON file must be UTF-8",
            path=path,
            line=1,
        )
    if raw.isascii():
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw, exc.start)
        return FormatError(
            f"not valid JSON text: byte {exc.start} (line {line}, column {column}) is "
            f"0x{raw[exc.start]:02x}, not UTF-8 ({exc.reason}); a JSON file must be UTF-8",
            path=path,
            line=line,
        )
    return None


def nesting_error(
    path: object, raw: bytes, err: orjson.JSONDecodeError | None = None
) -> FormatError:
    """The FormatError for a document nested deeper than the parsers allow."""
    if err is None:
        try:
            orjson.loads(raw)
        except orjson.JSONDecodeError as found:
            err = found
        except RecursionError:
            pass
    where, line = "", None
    if err is not None and _too_deep(err):
        where, line = f" at line {err.lineno} column {err.colno} (byte {err.pos})", err.lineno
    return FormatError(
        f"JSON nested too deeply{where}: the parsers stop at about {MAX_DEPTH} levels of "
        "arrays/objects (a COCO file needs 4)",
        path=path,
        line=line,
    )


def _too_deep(err: orjson.JSONDecodeError) -> bool:
    return "depth limit" in err.msg or "recursion" in err.msg


def syntax_error(path: object, raw: bytes, exc: Exception | None = None) -> FormatError:
    """The FormatError for a file a parser rejected: encoding, nesting or syntax."""
    if not raw.strip():
        return FormatError("the file is empty; expected a JSON document", path=path, line=1)
    problem = encoding_error(path, raw)
    if problem is not None:
        return problem
    if isinstance(exc, RecursionError):
        return nesting_error(path, raw)
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if _too_deep(err):
            return nesting_error(path, raw, err)
        ending = ", the file ends too early" if err.pos >= len(raw) - 1 else ""
        return FormatError(
            f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno} "
            f"(byte {err.pos} of {len(raw)}{ending})",
            path=path,
            line=err.lineno,
        )
    except RecursionError:
        return nesting_error(path, raw)
    return FormatError(f"cannot be read as JSON: {exc}", path=path)
