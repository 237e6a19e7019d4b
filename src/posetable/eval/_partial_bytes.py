"""A partial evaluation's bytes: a versioned header, the arrays, a checksum; and its errors.

Layout: ``MAGIC``, the format version (uint32) and the header's length (uint64), the header
(JSON: scalar fields and, per array, its name, dtype, shape, offset and length), the arrays'
bytes (bool arrays bit-packed), and a blake2b-256 checksum of everything before it. Only
numeric dtypes are read back (no pickle: bytes from elsewhere are parsed, never executed).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np
import orjson

from posetable.errors import EvaluationError

MAGIC = b"POSETABLE-PARTIAL\n"
FORMAT_VERSION = 1
_CHECKSUM = 32  # blake2b-256 of everything before it


class PartialError(EvaluationError):
    """A partial evaluation that cannot be read or merged (bytes that are not a partial, a
    newer format, no partial to merge)."""


_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint64", "float64"}


def pack(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of a header (JSON-ready values) and named numeric arrays."""
    entries = []
    chunks: list[bytes] = []
    offset = 0
    for name, value in arrays.items():
        array = np.asarray(value)
        dtype = array.dtype.name
        if dtype not in _DTYPES:
            raise PartialError(f"array {name!r} has dtype {dtype}, which a partial cannot hold")
        raw = np.packbits(array.ravel()).tobytes() if dtype == "bool" else array.tobytes()
        entries.append(
            {"name": name, "dtype": dtype, "shape": list(array.shape), "offset": offset,
             "nbytes": len(raw)}
        )  # fmt: skip
        chunks.append(raw)
        offset += len(raw)
    body = orjson.dumps({**header, "arrays": entries})
    head = MAGIC + struct.pack("<IQ", FORMAT_VERSION, len(body)) + body
    payload = b"".join([head, *chunks])
    return payload + hashlib.blake2b(payload, digest_size=_CHECKSUM).digest()


def unpack(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header, arrays) back from :func:`pack`'s bytes.

    Raises:
        PartialError: not a partial, another format version, a damaged or cut checksum, or a
            header that does not describe the bytes.
    """
    fixed = len(MAGIC) + struct.calcsize("<IQ")
    if not data.startswith(MAGIC):
        raise PartialError(
            f"these {len(data)} bytes are not a posetable partial (they do not start with "
            f"{MAGIC!r}); make partials with pt.evaluate_partial(...).to_bytes()"
        )
    if len(data) < fixed + _CHECKSUM:
        raise PartialError(f"the partial is cut short: {len(data)} bytes")
    version, size = struct.unpack("<IQ", data[len(MAGIC) : fixed])
    if version != FORMAT_VERSION:
        raise PartialError(
            f"the partial has format version {version}; this posetable reads version "
            f"{FORMAT_VERSION} (make every partial with the same posetable version)"
        )
    payload, checksum = data[:-_CHECKSUM], data[-_CHECKSUM:]
    if hashlib.blake2b(payload, digest_size=_CHECKSUM).digest() != checksum:
        raise PartialError(
            f"the partial's checksum does not match its {len(data)} bytes: it was damaged or "
            "cut short in transfer"
        )
    try:
        header = orjson.loads(payload[fixed : fixed + size])
        start = fixed + size
        arrays: dict[str, np.ndarray] = {}
        for entry in header.pop("arrays"):
            name, dtype = str(entry["name"]), str(entry["dtype"])
            shape = tuple(int(v) for v in entry["shape"])
            lo = start + int(entry["offset"])
            hi = lo + int(entry["nbytes"])
            if dtype not in _DTYPES or hi > len(payload) or lo < start:
                raise ValueError(f"array {name!r} ({dtype}) lies outside the partial")
            raw = np.frombuffer(payload, np.uint8, hi - lo, lo)
            count = int(np.prod(shape, dtype=np.int64))
            if dtype == "bool":
                values = np.unpackbits(raw, count=count).astype(bool)
            else:
                values = raw.view(dtype).copy()
            arrays[name] = values.reshape(shape)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PartialError(f"the partial's header cannot be read: {exc}") from None
    return header, arrays
