"""BATCH files from singer-sdk's batcher that hold exactly what RECORD mode would write.

singer-sdk 0.54's ``Stream.get_batches`` feeds its batcher (JSONL, Parquet, any storage root)
the records as read: a property deselected in the catalog (``BillingAddress.street`` too) stays
in the files, stream maps and flattening are not applied, and ``_sync_batches`` announces the
one set of files under every alias. Here each record first becomes the RECORD messages the SDK
would write for it (``StreamHooks.sdk_record_messages``: deselection, type conformance, each
map), and each alias gets files of its own records; a record a map filters out is in none.

Per ``batch_size`` records read, every alias that kept any of them gets one file; the STATE
after those files goes out only once each alias's file is announced, so it never covers a
record some alias has not got yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from singer_sdk.batch import Batcher, lazy_chunked_generator
from singer_sdk.helpers.types import Context
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from ..sdk_hooks import BatchConfig, SDKBatchMessage, StreamHooks


def alias_manifests(
    records: Iterable[dict],
    to_messages: Callable[[dict], Iterable[RecordMessage]],
    batch_config: BatchConfig,
    tap_name: str,
) -> Iterator[list[tuple[str, list[str]]]]:
    """For each ``batch_size`` records, the (alias, manifest) of every file written for them."""
    for chunk in lazy_chunked_generator(records, batch_config.batch_size):
        by_alias: dict[str, list[dict]] = {}
        for record in chunk:
            for message in to_messages(record):
                by_alias.setdefault(message.stream, []).append(message.record)
        yield [
            (alias, manifest)
            for alias, mapped in by_alias.items()
            for manifest in Batcher(tap_name, alias, batch_config).get_batches(iter(mapped))
        ]


def sync_record_batches(
    stream: StreamHooks, batch_config: BatchConfig, context: Context | None
) -> None:
    """The SDK's BATCH sync, its files holding the RECORD messages' records: the BATCH
    messages of a chunk's files, then STATE (bookmarks are kept by the record loop)."""
    records = stream.sdk_sync_records(context, write_messages=False)
    with stream.get_batch_counter() as counter:
        for files in alias_manifests(
            records, stream.sdk_record_messages, batch_config, stream.tap_name
        ):
            for alias, manifest in files:
                counter.increment()
                stream.sdk_write_message(
                    SDKBatchMessage(stream=alias, encoding=batch_config.encoding, manifest=manifest)
                )
            stream.sdk_mark_unflushed()
            stream.sdk_write_state()


class RecordBatches(StreamHooks):
    """A stream whose BATCH sync gives the SDK's batcher what RECORD mode would write."""

    @override
    def sync_own_batches(self, batch_config: BatchConfig, context: Context | None) -> bool:
        sync_record_batches(self, batch_config, context)
        return True
