"""The ``objects`` setting: which of the org's objects it names, and which of its entries name none.

A typo (``Opportunty``) or an object of another org (``NoSuchObject__c``) used to discover and sync
nothing for that entry, exit 0 and say nothing: the pipeline "succeeded" without the data. Each
entry that matches no object of the org is named once, with the closest real name when there is
one, and a setting none of whose entries match fails the run.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable

from ..errors import SettingError

# Stream names the tap derives itself: not objects of the org, yet valid in ``objects``.
DERIVED_STREAMS = frozenset({"micro_decision_events", "history_tracked_fields"})


def matches(name: str, patterns: Iterable[str]) -> bool:
    """``name`` is one of ``patterns``: a glob (case-sensitive, as Salesforce's names are) or
    the exact name in any case (``account`` for Account)."""
    return any(fnmatch.fnmatchcase(name, p) or name.lower() == p.lower() for p in patterns)


def unmatched(patterns: Iterable[str], org_objects: Iterable[str]) -> list[str]:
    """The entries of ``objects`` that match no object of the org (derived streams excepted)."""
    names = list(org_objects)
    return [
        p
        for p in patterns
        if p not in DERIVED_STREAMS and not any(matches(name, (p,)) for name in names)
    ]


def describe_unmatched(missing: list[str], org_objects: Iterable[str]) -> str:
    """``Opportunty (did you mean Opportunity?), NoSuchObject__c``."""
    names = sorted(org_objects)
    lowered = {name.lower(): name for name in names}
    shown = []
    for pattern in missing:
        close = difflib.get_close_matches(pattern.lower(), list(lowered), n=1, cutoff=0.8)
        shown.append(f"{pattern} (did you mean {lowered[close[0]]}?)" if close else pattern)
    return ", ".join(shown)


def check_objects(patterns: tuple[str, ...], org_objects: set[str]) -> str | None:
    """The warning for entries of ``objects`` the org lacks (None: every entry matched).

    Raises ``SettingError`` when no entry matches anything: nothing would be read.
    """
    missing = unmatched(patterns, org_objects)
    if not missing:
        return None
    listed = describe_unmatched(missing, org_objects)
    if len(missing) == len([p for p in patterns if p not in DERIVED_STREAMS]):
        raise SettingError(
            "setting 'objects': none of its entries is an object of this org "
            f"(or visible to this user): {listed}"
        )
    return (
        "setting 'objects': no object of this org (or visible to this user) matches "
        f"{listed}; skipped"
    )
