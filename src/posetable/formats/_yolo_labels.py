"""YOLO label files (one line per instance, whitespace-separated numbers), parsed at once.

All files are read and joined into one buffer. numpy finds the lines and counts the
numbers on each (no ``split`` per line); Arrow's C++ CSV reader parses every number in one
call. Only when that fails does a slow path look for the first bad token, to name its file
and line. Blank lines are skipped, a UTF-8 byte-order mark is ignored (as Ultralytics does).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from tqdm.auto import tqdm

from posetable.errors import FormatError
from posetable.formats._images import open_file

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = bytes.maketrans(b" \t\r\x0b\x0c", b"\n\n\n\n\n")


@dataclass(frozen=True)
class LabelLines:
    """The non-blank lines of many label files.

    Attributes:
        files: the label file paths.
        file_index: (L,) the file of each line.
        line_number: (L,) its 1-based line number in that file.
        widths: (L,) how many numbers it holds.
        offsets: (L + 1,) where its numbers start in ``values``.
        values: all numbers, float64.
    """

    files: Sequence[str]
    file_index: np.ndarray
    line_number: np.ndarray
    widths: np.ndarray
    offsets: np.ndarray
    values: np.ndarray

    def error(self, line: int, text: str) -> FormatError:
        """A FormatError naming the file and line of line ``line``."""
        return FormatError(
            text, path=self.files[int(self.file_index[line])], line=int(self.line_number[line])
        )

    def table(self, width: int) -> np.ndarray:
        """(L, width) values; every line must have ``width`` numbers."""
        return self.values.reshape(len(self.widths), width)


def read_files(paths: Sequence[str], *, progress: bool = False) -> list[bytes]:
    """The bytes of each file (b"" for a missing one)."""
    out = []
    for path in tqdm(paths, desc="label files", disable=not progress, leave=False, unit="file"):
        try:
            with open_file(path, "label file") as handle:
                data = handle.read()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise FormatError(f"cannot read the label file: {exc}", path=path) from None
        out.append(data[3:] if data.startswith(_BOM) else data)
    return out


def parse_lines(paths: Sequence[str], contents: Sequence[bytes]) -> LabelLines:
    """Find the lines and numbers of many label files (see the module docstring)."""
    sizes = np.fromiter(map(len, contents), np.int64, len(contents))
    text = b"\n".join(contents) + b"\n"
    buf = np.frombuffer(text, dtype=np.uint8)
    is_newline = buf == 10
    space = is_newline | (buf == 32) | (buf == 9) | (buf == 13) | (buf == 11) | (buf == 12)
    starts_token = ~space
    starts_token[1:] &= space[:-1]
    ends = np.flatnonzero(is_newline)
    line_starts = np.concatenate([[0], ends[:-1] + 1])
    per_line = np.add.reduceat(starts_token.view(np.uint8), line_starts, dtype=np.int64)
    file_starts = np.concatenate([[0], np.cumsum(sizes + 1)[:-1]])
    file_of_line = np.searchsorted(file_starts, line_starts, side="right") - 1
    first_line = np.searchsorted(line_starts, file_starts)
    number = np.arange(len(line_starts)) - first_line[file_of_line] + 1
    keep = per_line > 0
    widths = per_line[keep]
    offsets = np.zeros(len(widths) + 1, dtype=np.int64)
    np.cumsum(widths, out=offsets[1:])
    lines = LabelLines(list(paths), file_of_line[keep], number[keep], widths, offsets, np.zeros(0))
    values = _numbers(text, int(offsets[-1]))
    if values is None:
        raise _bad_token(lines, contents)
    return LabelLines(lines.files, lines.file_index, lines.line_number, widths, offsets, values)


def _numbers(text: bytes, expected: int) -> np.ndarray | None:
    if expected == 0:
        return np.zeros(0)
    body = text.translate(_WHITESPACE)
    try:
        column = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(column_names=["v"]),
            parse_options=pa_csv.ParseOptions(delimiter=",", quote_char=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={"v": pa.float64()}, null_values=[], strings_can_be_null=False
            ),
        ).column(0)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if len(column) != expected or column.null_count:
        return None
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _bad_token(lines: LabelLines, contents: Sequence[bytes]) -> FormatError:
    for f, data in enumerate(contents):
        for number, line in enumerate(data.splitlines(), 1):
            for column, token in enumerate(line.split(), 1):
                try:
                    float(token)
                except ValueError:
                    shown = token.decode(errors="replace")[:40]
                    return FormatError(
                        f"column {column}: expected a number, found {shown!r}",
                        path=lines.files[f],
                        line=number,
                    )
    return FormatError("the label files hold values that are not numbers", path=lines.files[0])
