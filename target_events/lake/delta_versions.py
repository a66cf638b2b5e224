"""Which table a batch of a Delta stream goes to, and which full refreshes are owed (pure).

Singer's full-table versions, as one rule for every message order:

- A RECORD's version is its ``version`` field, else the version of the last ACTIVATE_VERSION the
  run saw for its stream, else none. ``full_refresh_streams`` act as an ACTIVATE_VERSION of a
  version of their own (``run-<run_id>``) before the stream's first record.
- Rows without a version are merged into the stream's table as they come.
- Rows of a version are merged into that version's staging table (``_versions/<stream>/<v>``),
  a durable Delta table of its own: a batch staged there is as safe as one merged into the
  table, so STATE may pass it, and a version spread over several runs (a Stitch tap resuming a
  full table) is gathered whole.
- ACTIVATE_VERSION v makes the table exactly the rows of version v: at once, in one overwrite
  commit, when rows of v are staged (the Stitch order: RECORDs, STATE, ACTIVATE_VERSION), or at
  the end of the run when none are yet (the singer-sdk order: ACTIVATE_VERSION first). Rows of v
  that follow an activation are owed to the table too: one more replacement at the end of the run.
  While a replacement is owed, STATE is held back: a run killed before it redoes the refresh.
- A refresh begins, for this run, at its first ACTIVATE_VERSION or its first staged batch,
  whichever comes first: the table's version then is its ``base``. Every replacement, at once or
  owed, refuses when another writer changed the table's data since: replacing would drop rows
  that writer may already have acknowledged (in the Stitch order the rows are staged for minutes
  before the ACTIVATE_VERSION that replaces the table).
- Rows staged after an activation of their version are marked so in their commits. A run killed
  before it replaced the table leaves them staged, and its upstream re-sends the ACTIVATE_VERSION
  (no STATE passed it): with marked rows staged the replacement waits for the end of the run, as
  in the singer-sdk order, instead of showing the killed run's part of the refresh at once.

Readers therefore see the old table until a version's replacement commit, then all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERSIONS_DIR = "_versions"


def version_name(version: int) -> str:
    return f"v{version}"


def run_version(run_id: str) -> str:
    return f"run-{run_id}"


@dataclass(frozen=True)
class Owed:
    """A replacement owed at the end of the run: the stream's table becomes ``version``'s rows.

    ``base`` is the table's version when the refresh began (None: no table yet): a data change
    committed by anyone else since then would be lost by the replacement, which then refuses.
    """

    version: str
    base: int | None


@dataclass
class RunVersions:
    """One run's versions per stream: where rows go, what replacements are owed."""

    implied: dict[str, str] = field(default_factory=dict)  # stream -> version of bare rows
    activated: dict[str, str] = field(default_factory=dict)  # stream -> last activated version
    owed: dict[str, Owed] = field(default_factory=dict)
    # (stream, version) -> the table's version when this run's refresh to it began
    bases: dict[tuple[str, str], int | None] = field(default_factory=dict)

    def begin_refresh(self, stream: str, version: str, base: int | None) -> None:
        """``full_refresh_streams``: the run's rows are a version of their own, owed at the end."""
        self.implied[stream] = version
        self.activated[stream] = version
        self.bases.setdefault((stream, version), base)
        self.owed[stream] = Owed(version, base)

    def begins(self, stream: str, version: str) -> bool:
        """True until this run's refresh of ``stream`` to ``version`` has its base."""
        return (stream, version) not in self.bases

    def began(self, stream: str, version: str, base: int | None) -> None:
        """Before the first batch of ``version`` is staged: the table's version then."""
        self.bases.setdefault((stream, version), base)

    def base_of(self, stream: str, version: str) -> int | None:
        return self.bases.get((stream, version))

    def version_of(self, stream: str, version: int | None) -> str | None:
        """The version a batch belongs to (None: merged into the table as it comes)."""
        if version is not None:
            return version_name(version)
        return self.implied.get(stream)

    def staged(self, stream: str, version: str) -> None:
        """Rows of ``version`` were staged: owed to the table when that version was activated."""
        if self.activated.get(stream) == version and stream not in self.owed:
            self.owed[stream] = Owed(version, self.base_of(stream, version))

    def activate(
        self, stream: str, version: int, *, rows_staged: bool, redone: bool, base: int | None
    ) -> bool:
        """An ACTIVATE_VERSION: True when the table is to be replaced now (rows of the version
        are staged, none of them after an activation of it: ``redone``); else the replacement
        is owed at the end of the run."""
        name = version_name(version)
        self.implied[stream] = name
        self.activated[stream] = name
        self.bases.setdefault((stream, name), base)
        self.owed.pop(stream, None)
        if rows_staged and not redone:
            return True
        self.owed[stream] = Owed(name, self.base_of(stream, name))
        return False

    def replaced(self, stream: str, table_version: int) -> None:
        """This run replaced the table (commit ``table_version``): rows of the activated version
        staged from now on are owed again, and only commits after this one are another writer's."""
        self.owed.pop(stream, None)
        if stream in self.activated:
            self.bases[(stream, self.activated[stream])] = table_version

    @property
    def holds_state(self) -> bool:
        return bool(self.owed)
