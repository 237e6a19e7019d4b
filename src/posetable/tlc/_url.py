"""3LC's ``Url``: a path or URL string with registered aliases (``<DATA>/images/a.jpg``).

posetable stores plain paths. A ``Url`` made relative with aliases (:meth:`Url.to_relative`)
is expanded back to its path whenever posetable.tlc writes it into a table, so every
posetable tool (evaluation, dashboard, training) can open the file; rows read back hold the
expanded path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from posetable.errors import UnsupportedError

_TOKEN = re.compile(r"^[A-Z][A-Z0-9_]*$")
_ALIASES: dict[str, str] = {}


def _check_token(token: str) -> str:
    bare = token[1:-1] if token.startswith("<") and token.endswith(">") else token
    if not isinstance(bare, str) or not _TOKEN.match(bare):
        raise UnsupportedError(
            f"token must match [A-Z][A-Z0-9_]* (optionally written <TOKEN>), got {token!r}"
        )
    return bare


def register_url_alias(token: str, path: str | os.PathLike[str] | Url, force: bool = True) -> None:
    """Register ``<TOKEN>`` as an alias of ``path`` (3LC's ``tlc.register_url_alias``).

    Example:
        >>> register_url_alias("MY_DATA", "/data/coco")
        >>> Url("/data/coco/images/a.jpg").to_relative().to_str()
        '<MY_DATA>/images/a.jpg'
        >>> Url("<MY_DATA>/images/a.jpg").to_absolute().to_str()
        '/data/coco/images/a.jpg'
        >>> unregister_url_alias("MY_DATA")
    """
    bare = _check_token(token)
    if bare in _ALIASES and not force:
        raise UnsupportedError(
            f"token {bare!r} is already registered (as {_ALIASES[bare]!r}); pass force=True"
        )
    _ALIASES[bare] = str(path).rstrip("/\\") or "/"


def unregister_url_alias(token: str) -> None:
    """Remove a registered alias (a ``KeyError`` when it is not registered, as in 3LC)."""
    bare = _check_token(token)
    if bare not in _ALIASES:
        raise KeyError(f"no URL alias {bare!r} is registered; known: {sorted(_ALIASES)}")
    del _ALIASES[bare]


def get_registered_url_aliases() -> dict[str, str]:
    """The registered aliases, ``{"<TOKEN>": path}``."""
    return {f"<{token}>": path for token, path in _ALIASES.items()}


class Url:
    """A location: a local path (``/data/a.jpg``), a URL, or a path under an alias.

    Only local paths can be read by posetable; ``to_relative``/``to_absolute`` apply and
    expand registered aliases as 3LC's ``Url`` does.

    Example:
        >>> from posetable.tlc import Url
        >>> url = Url("/data/coco/images/a.jpg")
        >>> url.name, url.parent.to_str(), url.create_sibling("b.jpg").to_str()
        ('a.jpg', '/data/coco/images', '/data/coco/images/b.jpg')
    """

    _text: str

    def __init__(self, value: str | os.PathLike[str] | Url | None = "") -> None:
        if isinstance(value, Url):
            text = value._text
        elif isinstance(value, os.PathLike):
            text = os.fspath(value)
        elif isinstance(value, str):
            text = value
        elif value is None:
            text = ""
        else:
            raise UnsupportedError(
                f"Url needs a str, a path or a Url, got {type(value).__name__} {value!r}"
            )
        self._text = str(text)

    # -- text -------------------------------------------------------------------------------
    def to_str(self) -> str:
        """The URL as a string."""
        return self._text

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Url({self._text!r})"

    def __fspath__(self) -> str:
        return self.to_absolute()._text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Url):
            return self._text == other._text
        if isinstance(other, (str, os.PathLike)):
            return self._text == os.fspath(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._text)

    def __truediv__(self, other: str | os.PathLike[str]) -> Url:
        return Url(f"{self._text.rstrip('/')}/{os.fspath(other)}")

    @property
    def scheme(self) -> str:
        """``"file"`` for local paths, else the URL's scheme (``s3``, ``http``...)."""
        match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]+)://", self._text)
        return match.group(1).lower() if match else "file"

    @property
    def is_local(self) -> bool:
        """Whether this is a local path (the only kind posetable reads)."""
        return self.scheme == "file"

    def _path(self) -> Path:
        text = self.expand_aliases()._text
        if text.startswith("file://"):
            text = text[len("file://") :]
        return Path(text)

    # -- aliases ------------------------------------------------------------------------------
    def expand_aliases(self) -> Url:
        """This URL with a leading ``<TOKEN>`` replaced by its registered path."""
        match = re.match(r"^<([A-Z][A-Z0-9_]*)>", self._text)
        if not match:
            return Url(self)
        token = match.group(1)
        if token not in _ALIASES:
            raise UnsupportedError(
                f"Url {self._text!r} uses alias <{token}>, which is not registered (known: "
                f"{sorted(_ALIASES) or 'none'}); register it with register_url_alias"
            )
        return Url(_ALIASES[token] + self._text[match.end() :])

    def apply_aliases(self) -> Url:
        """This URL with the longest registered path it starts with replaced by its token."""
        text = self.expand_aliases()._text
        best: tuple[int, str] | None = None
        for token, path in _ALIASES.items():
            inside = text == path or text.startswith(path.rstrip("/") + "/")
            if inside and (best is None or len(path) > best[0]):
                best = (len(path), token)
        if best is None:
            return Url(text)
        return Url(f"<{best[1]}>{text[best[0] :]}")

    def to_relative(self, owner: str | os.PathLike[str] | Url | None = None) -> Url:
        """The URL with aliases applied (3LC's ``to_relative``); relative to ``owner``'s
        folder when ``owner`` is given and both are local paths."""
        if owner is None:
            return self.apply_aliases()
        base = Url(owner)
        if not (self.is_local and base.is_local):
            return Url(self)
        return Url(Path(os.path.relpath(self._path(), Path(base._path()).parent)).as_posix())

    def to_absolute(self, owner: str | os.PathLike[str] | Url | None = None) -> Url:
        """The URL with aliases expanded, a relative local path made absolute (against
        ``owner``'s folder when given, else the working directory)."""
        if not self.is_local:
            return Url(self)
        path = self._path()
        if not path.is_absolute():
            root = Url(owner)._path().parent if owner is not None else Path.cwd()
            path = root / path
        return Url(os.path.normpath(path))

    # -- the file system ------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the local file or folder exists (False for non-local URLs); a table's
        url exists when the table does (its folder has Lance's ``.lance`` suffix)."""
        if not self.is_local:
            return False
        path = self._path()
        return path.exists() or path.with_name(path.name + ".lance").is_dir()

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self._text.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> Url:
        """The URL of the folder holding this one."""
        head = self._text.rstrip("/").rsplit("/", 1)
        return Url(head[0] if len(head) == 2 and head[0] else "/")

    def create_sibling(self, name: str) -> Url:
        """The URL named ``name`` in the same folder."""
        return self.parent / name

    def create_unique(self) -> Url:
        """This URL, or when it exists the first free ``<name>_0001``, ``<name>_0002``..."""
        if not self.exists():
            return Url(self)
        base = self._text.rstrip("/")
        stem, dot, suffix = base.rpartition(".")
        if not dot or "/" in suffix:
            stem, suffix = base, ""
        for number in range(1, 100000):
            candidate = Url(f"{stem}_{number:04d}{'.' + suffix if suffix else ''}")
            if not candidate.exists():
                return candidate
        raise UnsupportedError(f"no free name next to {self._text!r}")  # pragma: no cover

    def read(self, *_: Any, **__: Any) -> bytes:
        """The bytes of a local file."""
        return self._path().read_bytes()
