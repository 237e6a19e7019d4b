"""Flip indices from left/right keypoint names: the one implementation.

Two callers want different things from the same names: the COCO reader (a file that gives
no flip indices) wants flips when the names pair up and None otherwise, never an error;
the skeleton operations and users want an error that lists every name that does not pair.
:func:`flip_indices_from_names` serves both through ``strict=``; it is public as
:func:`posetable.schema.flip_indices_from_names` (lenient unless ``strict=True``), and
:func:`posetable.skeleton.flip_indices_from_names` is its strict mode.

Side markers recognised (case-insensitive): ``left``/``right`` anywhere in the name
(``left_eye``, ``LeftEye``, ``eye_left``, DeepLabCut's ``leftear``), ``l_``/``r_`` (or
``l-``, ``l.``, ``l ``) prefixes, ``_l``/``_r`` (or ``-l``, ``.l``, `` l``) suffixes; and,
in strict mode only, OpenPose's bare capitals ``LShoulder``/``RShoulder`` (where both
exist). A name without a side flips to itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, overload

from posetable._validate import check_flip_indices
from posetable.errors import SchemaError

_WORD = re.compile(r"left|right", re.IGNORECASE)
_PREFIX = re.compile(r"^([lr])([_\-. ])", re.IGNORECASE)
_SUFFIX = re.compile(r"([_\-. ])([lr])$", re.IGNORECASE)
_CAPITAL = re.compile(r"^([LR])(?=[A-Z])")
_OTHER = {"l": "r", "r": "l", "left": "right", "right": "left"}


def _swap(text: str) -> str:
    """``left`` <-> ``right`` (or ``l`` <-> ``r``), keeping the case pattern."""
    other = _OTHER[text.lower()]
    if text.isupper():
        return other.upper()
    return other.capitalize() if text[0].isupper() else other


def mirror(name: str) -> tuple[str | None, bool]:
    """The mirrored name and whether its side marker is unambiguous (``left``/``right``,
    ``l_``/``r_`` prefixes, ``_l``/``_r`` suffixes) rather than a bare capital ``L``/``R``.

    Example:
        >>> mirror("left_eye"), mirror("LShoulder"), mirror("nose")
        (('right_eye', True), ('RShoulder', False), (None, False))
    """
    if _WORD.search(name):
        return _WORD.sub(lambda m: _swap(m.group(0)), name), True
    if _PREFIX.match(name):
        return _PREFIX.sub(lambda m: _swap(m.group(1)) + m.group(2), name), True
    if _SUFFIX.search(name):
        return _SUFFIX.sub(lambda m: m.group(1) + _swap(m.group(2)), name), True
    if _CAPITAL.match(name):
        return _CAPITAL.sub(lambda m: _swap(m.group(1)), name), False
    return None, False


def mirror_name(name: str) -> str | None:
    """The lower-cased name of the mirrored keypoint (unambiguous markers only), or None.

    Example:
        >>> mirror_name("L_Paw"), mirror_name("LShoulder")
        ('r_paw', None)
    """
    partner, sure = mirror(name)
    return partner.lower() if partner is not None and sure else None


@overload
def flip_indices_from_names(names: Sequence[str], *, strict: Literal[True]) -> tuple[int, ...]: ...
@overload
def flip_indices_from_names(
    names: Sequence[str], *, strict: bool = False
) -> tuple[int, ...] | None: ...
def flip_indices_from_names(
    names: Sequence[str], *, strict: bool = False
) -> tuple[int, ...] | None:
    """Flip indices derived from left/right names (markers: see :mod:`posetable._flip_names`).

    Lenient (``strict=False``, what the COCO reader uses for a file that gives no flip
    indices): the flips when the names pair up into an involution, None when no name has a
    partner or the pairs do not form one; a sided name without a partner flips to itself.

    Strict (``strict=True``, what the skeleton operations use): always K flip indices
    (the identity when no name has a side), also pairing OpenPose's ``LShoulder``/
    ``RShoulder``; raises instead of guessing.

    Raises:
        SchemaError: strict only: listing every left/right name whose partner is missing,
            names that differ only by case, or pairs that do not form an involution.

    Example:
        >>> flip_indices_from_names(["nose", "left_eye", "right_eye"])
        (0, 2, 1)
        >>> flip_indices_from_names(["a", "b"]) is None
        True
        >>> flip_indices_from_names(["nose", "left_eye", "right_eye", "LEar", "REar"], strict=True)
        (0, 2, 1, 4, 3)
        >>> flip_indices_from_names(["leftear", "rightear", "tail_l", "tail_r"], strict=True)
        (1, 0, 3, 2)
        >>> flip_indices_from_names(["left_paw", "tail"], strict=True)
        Traceback (most recent call last):
        ...
        posetable.errors.SchemaError: flip_indices_from_names: left/right names without a \
partner: 'left_paw' (no 'right_paw')
    """
    items = [str(n) for n in names]
    index: dict[str, int] = {}
    for i, name in enumerate(items):
        key = name.lower()
        if strict and key in index:
            raise SchemaError(
                f"flip_indices_from_names: names {items[index[key]]!r} and {name!r} differ "
                "only by case, so their mirror partners are ambiguous"
            )
        index[key] = i
    flips = list(range(len(items)))
    unmatched = []
    for i, name in enumerate(items):
        partner, sure = mirror(name)
        if partner is None or not (sure or strict):
            continue
        j = index.get(partner.lower())
        if j is None:
            if sure:
                unmatched.append(f"{name!r} (no {partner!r})")
            continue
        flips[i] = j
    if not strict:
        paired = flips != list(range(len(items)))
        return tuple(flips) if paired and all(flips[j] == i for i, j in enumerate(flips)) else None
    if unmatched:
        raise SchemaError(
            "flip_indices_from_names: left/right names without a partner: " + ", ".join(unmatched)
        )
    for i, j in enumerate(flips):
        if flips[j] != i:
            raise SchemaError(
                f"flip_indices_from_names: {items[i]!r} mirrors to {items[j]!r} but "
                f"{items[j]!r} mirrors to {items[flips[j]]!r}; the names do not pair up"
            )
    return check_flip_indices(flips, len(items))
