"""An object stream's page pipeline: what observes its pages, and the loop that shows them.

``SObjectStream.pages`` reads the stream's window a page at a time (window -> one read ->
pages -> tombstones of hard deletes), and the one emitter its sync chose (``emitters``) writes
each page. Another stream may derive rows of its own from those same pages instead of reading
the same rows a second time (micro_decision_events: ``shared_events``). It does so as a
``PageObserver``, offered by a stream of the tap that is ``PageObservers``; the pipeline's loop
(``observed``) shows it every page before the stream emits the page, and tells it when the read
is over. Neither side imports the other: both know only this module.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from ..discovery.schema import ObjectSchema
from ..query.page import BookmarkTracker, Page
from ..query.reader import ObjectReader, ReadSpec
from ..run.runtime import Runtime, StreamStats

# What a stream's sync makes of its pages: RECORD messages (lines a page at a time, or the
# SDK's loop), or Parquet BATCH files of its own.
Output = Literal["records", "files"]


class ObservedStream(Protocol):
    """What an observer may know of the stream whose pages it observes (``SObjectStream``)."""

    @property
    def name(self) -> str: ...

    @property
    def replication_key(self) -> str | None: ...

    @property
    def runtime(self) -> Runtime: ...

    @property
    def object_schema(self) -> ObjectSchema: ...

    @property
    def reader(self) -> ObjectReader: ...

    @property
    def logger(self) -> logging.Logger: ...

    def selected_fields(self) -> list[str]: ...


class PageObserver(Protocol):
    """Derives another stream's rows from an object stream's pages, and writes them with them.

    ``read`` is the one read that serves both (the stream's own read, widened). For every
    page: ``prepare`` (inside the stream's accounting: what it must read from Salesforce
    first, so a quota stop leaves the page unwritten), ``own_page`` (the stream's part of the
    page), then ``observe`` with the bookmark the stream's part allows, before the stream emits
    it: the STATE after the page covers both. At the end of the read, ``closing_page`` (a last
    page for the stream, or None) then ``finish``. The stream's emitter calls ``settle`` before
    each STATE that moves the stream's bookmark and ``close`` after its last message.
    """

    @property
    def read(self) -> ReadSpec: ...

    def prepare(self, page: Page) -> None: ...

    def own_page(self, page: Page) -> Page: ...

    def observe(self, page: Page, bookmark: dict | None) -> None: ...

    def closing_page(self, last: Page | None, stopped: bool) -> Page | None: ...

    def finish(self) -> None: ...

    def settle(self, bookmark: dict) -> None: ...

    def close(self) -> None: ...


class PageObservers(abc.ABC):
    """A stream of the tap whose rows may come from another stream's pages (a base class,
    so an object stream tells one from the tap's other streams with a plain ``isinstance``)."""

    @abc.abstractmethod
    def page_observer(
        self, stream: ObservedStream, own: ReadSpec, output: Output
    ) -> PageObserver | None:
        """The observer of ``stream``'s pages for the sync about to read ``own``; None: this
        stream reads its rows itself. ``output``: what ``stream`` makes of its pages."""

    @abc.abstractmethod
    def planned_read(self, stream: ObservedStream, own: ReadSpec, output: Output) -> ReadSpec:
        """The read ``stream``'s sync would send for ``own`` (``own``, or the read that serves
        both), decided as ``page_observer`` decides, with no state touched (``counts``)."""


@dataclass
class StreamPages:
    """One sync's pages as its emitter takes them, each with the bookmark it allows once it
    is written (None: not yet), and the observer the emitter tells about its STATE."""

    pages: Iterator[tuple[Page, dict | None]]
    observer: PageObserver | None = None

    def __iter__(self) -> Iterator[tuple[Page, dict | None]]:
        return self.pages

    def settle(self, bookmark: dict) -> None:
        """The stream's bookmark is about to move to ``bookmark`` (a STATE follows)."""
        if self.observer is not None:
            self.observer.settle(bookmark)

    def close(self) -> None:
        """The emitter's last message is out."""
        if self.observer is not None:
            self.observer.close()


def prepared(pages: Iterator[Page], observer: PageObserver | None) -> Iterator[Page]:
    """Each page once what its observer needs from Salesforce is read (``prepare``)."""
    for page in pages:
        if observer is not None:
            observer.prepare(page)
        yield page


def observed(
    pages: Iterable[Page],
    observer: PageObserver | None,
    tracker: BookmarkTracker,
    stats: StreamStats,
    stopped: Callable[[], bool],
) -> Iterator[tuple[Page, dict | None]]:
    """The stream's part of each page with the bookmark it allows; the observer sees every
    page first and, once the read is over, may close it with a last page of the stream's."""
    own: Page | None = None
    for page in pages:
        own = page if observer is None else observer.own_page(page)
        stats.rows -= len(page) - len(own)  # rows read for the observer only
        bookmark = tracker.after(own)
        if observer is not None:
            observer.observe(page, bookmark)  # before the page: STATE after it covers both
        yield own, bookmark
    if observer is None:
        return
    closing = observer.closing_page(own, stopped())
    if closing is not None:
        yield closing, tracker.after(closing)
    observer.finish()
