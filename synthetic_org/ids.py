"""Salesforce record ids: 15-character case-sensitive ids and their 18-character case-safe form.

The sandbox mints ids exactly like Salesforce lays them out (key prefix, then a base-62 counter),
so clients that sniff the key prefix to learn an object type (``006`` = Opportunity) work unchanged.
"""

from __future__ import annotations

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# Characters 4-6 of a real id name the pod/instance; any fixed value is faithful enough.
_POD = "8d0"


def checksum_suffix(id15: str) -> str:
    """Return the 3 characters that make a 15-character id case-safe.

    Each chunk of 5 characters yields one suffix character whose bits flag the uppercase letters.
    """
    suffix = []
    for chunk_start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_CHECKSUM_ALPHABET[bits])
    return "".join(suffix)


def to_18(id15: str) -> str:
    """Case-safe 18-character form of a 15-character id."""
    if len(id15) == 18:
        return id15
    if len(id15) != 15:
        raise ValueError(f"a Salesforce id has 15 or 18 characters, got {id15!r}")
    return id15 + checksum_suffix(id15)


def make_id(key_prefix: str, counter: int) -> str:
    """The 18-character id of the ``counter``-th record with this key prefix."""
    digits = []
    value = counter
    while value:
        value, remainder = divmod(value, 62)
        digits.append(_BASE62[remainder])
    body = "".join(reversed(digits)).rjust(9, "0")
    if len(body) > 9:
        raise ValueError(f"counter {counter} does not fit in a Salesforce id")
    return to_18(key_prefix + _POD + body)


def is_valid_id(value: str) -> bool:
    """True when ``value`` is a well-formed 15- or 18-character id (checksum included)."""
    if len(value) not in (15, 18) or any(c not in _BASE62 for c in value):
        return False
    return len(value) == 15 or checksum_suffix(value[:15]) == value[15:]
