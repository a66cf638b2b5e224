"""tap-salesforce-temporal: Salesforce objects and their history as Singer streams."""

from __future__ import annotations

import copy
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, partial
from typing import Any

from singer_sdk import Stream
from singer_sdk.exceptions import (
    ConfigValidationError,
)
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from typing_extensions import override

from .config.object_patterns import DERIVED_STREAMS, check_objects, matches
from .config.settings import CONFIG_SCHEMA, Settings, builtin_setting_errors
from .config.state import checked_state
from .connection.client import SalesforceClient, in_context
from .discovery.org_column import OrgStamp
from .discovery.schema import ObjectSchema, from_describe
from .discovery.unsyncable import PARENT_FILTERED, is_unsyncable
from .errors import Interrupted, SalesforceApiError, SettingError, TapError
from .output.writer import FastWriter
from .query.filters import FilterError, check_syntax
from .query.users import user_types
from .run.runtime import Runtime
from .run.scheduler import StreamScheduler, Work
from .sdk_hooks import StreamHooks, TapHooks
from .streams.archive import ARCHIVE, FieldHistoryArchiveStream, history_types
from .streams.counts import count_ahead
from .streams.decisions import MicroDecisionEventsStream
from .streams.parent_filtered import ParentFilteredStream
from .streams.shared_events import could_share, read_users_first
from .streams.sobject import SObjectStream
from .streams.tracked_fields import HistoryTrackedFieldsStream

TRACKABLE_STANDARD_OBJECTS = frozenset({"Account", "Case", "Contact", "Lead", "Opportunity"})
# Describe answers that mean the object is not there for this user: skipped with a warning. Any
# other failure (a session refused twice, retries exhausted) fails the run: a skipped object
# ends the run "successfully" without its rows (the chaos test lost all of OpportunityHistory).
UNDESCRIBABLE_CODES = frozenset(
    {"NOT_FOUND", "INVALID_TYPE", "INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY"}
)


class TapSalesforceTemporal(TapHooks):
    """Discovers Salesforce objects as streams with incremental STATE, over REST and Bulk API 2.0."""

    name = "tap-salesforce-temporal"
    package_name = "tap-salesforce-temporal"
    # A copy: the SDK adds its built-in settings to this dict in place.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    message_writer_class = FastWriter
    # Discovery needs a login, so --discover validates the config too (one line, see main).
    dynamic_catalog = True
    capabilities = [
        TapCapabilities.CATALOG,
        TapCapabilities.DISCOVER,
        TapCapabilities.STATE,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.BATCH,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_config(self.config)

    @override
    def validate_settings(self, *, raise_errors: bool) -> list[str]:
        """Replaces the SDK's check, whose jsonschema messages quote the value (a password too).

        This tap's settings are parsed by ``Settings`` and each object filter by the query layer
        (``query.filters``, the syntax now, the fields at discovery); the SDK's built-in ones (batch_config,
        stream_maps, ...) are checked against their schema with messages that show no value. A
        ``SettingError`` (not the SDK's ConfigValidationError, which the SDK's CLI logs line by
        line) reaches ``main`` and is printed as one line.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        try:
            check_syntax(Settings.from_config(self.sdk_config()).object_filters)
            errors = builtin_setting_errors(self.sdk_config(), schema)
        except (ConfigValidationError, FilterError) as error:
            errors = [str(error)]
        if errors and raise_errors:
            raise SettingError(errors[0])
        return errors

    def load_state(self, state: dict[str, Any]) -> None:
        """Check the input STATE (one line naming a bad value) and clamp future bookmarks."""
        super().load_state(checked_state(state, self.runtime.run_started, self.logger))

    @cached_property
    def runtime(self) -> Runtime:
        settings = self.settings
        if settings.embedded_org:
            settings = _start_embedded_org(settings, self.logger)
        client = SalesforceClient(settings, self.logger)
        return Runtime(
            settings=settings,
            client=client,
            logger=self.logger,
            read_user_types=partial(user_types, client),
        )

    # -- discovery --
    def discover_streams(self) -> list[Stream]:
        runtime = self.runtime
        names = self._object_names(runtime)
        schemas = self._describe_all(runtime, names)
        by_name = {schema.name: schema for schema in schemas}
        self._warn_untracked(by_name)
        self._warn_unused_filters(by_name)
        streams: list[Stream] = [
            _object_stream(self, schema, runtime) for schema in schemas if schema.name != ARCHIVE
        ]
        if ARCHIVE in by_name:  # Field Audit Trail: a big object with its own query rules
            types = history_types(runtime.queryable_objects)
            streams.append(FieldHistoryArchiveStream(self, by_name[ARCHIVE], runtime, types))
        streams.append(MicroDecisionEventsStream(self, runtime, by_name))
        streams.append(HistoryTrackedFieldsStream(self, runtime, by_name))
        if runtime.settings.org_id_column:
            stamp = OrgStamp(_org_id_of(runtime))
            for stream in streams:
                assert isinstance(stream, StreamHooks)
                stream.stamp_org(stamp)
        return streams

    def _warn_unused_filters(self, schemas: dict[str, ObjectSchema]) -> None:
        """A filter for an object this run does not read is likely a typo or a stale entry."""
        known = {name.lower() for name in schemas}
        for name, _ in self.runtime.settings.object_filters:
            if name.lower() not in known:
                self.logger.warning(
                    "setting 'object_filters': %s is not a discovered or selected object; its filter is unused",
                    name,
                )

    def _warn_untracked(self, schemas: dict[str, ObjectSchema]) -> None:
        """Objects whose history we would expect but cannot see: tracking off, or no access."""
        visible = self.runtime.queryable_objects
        for name in sorted(schemas):
            history = (
                name.removesuffix("__c") + "__History" if name.endswith("__c") else f"{name}History"
            )
            if name == "Opportunity":
                history = "OpportunityFieldHistory"
            expects_history = name.endswith("__c") or name in TRACKABLE_STANDARD_OBJECTS
            if expects_history and history not in visible:
                self.logger.warning(
                    "Object %s has no field history object visible (history tracking off or no access); no field_change events for it",
                    name,
                )

    def _object_names(self, runtime: Runtime) -> list[str]:
        body = runtime.client.get_json("/sobjects", context="describeGlobal")
        runtime.key_prefixes.update(
            {e["keyPrefix"]: e["name"] for e in body["sobjects"] if e.get("keyPrefix")}
        )
        runtime.queryable_objects.update(e["name"] for e in body["sobjects"] if e.get("queryable"))
        patterns = runtime.settings.objects
        org_objects = {e["name"] for e in body["sobjects"]}
        warning = check_objects(patterns, org_objects) if patterns else None
        if warning:
            self.logger.warning("%s", warning)
        self._check_selected_exist(org_objects)
        catalog_names = self._catalog_stream_names()
        names = []
        unsyncable = []
        for entry in body["sobjects"]:
            name = entry["name"]
            if patterns and not matches(name, patterns):
                continue
            if catalog_names is not None and name not in catalog_names:
                continue
            if not entry.get("queryable", False):
                self.logger.warning("Object %s is not queryable by this user; skipped", name)
                continue
            if is_unsyncable(name):
                unsyncable.append(name)
                continue
            parent = PARENT_FILTERED.get(name, (None,))[0]
            if parent is not None and parent not in runtime.queryable_objects:
                self.logger.warning(
                    "Object %s is read through %s, which is not queryable by this user; skipped",
                    name,
                    parent,
                )
                continue
            names.append(name)
        if unsyncable:
            self.logger.info(
                "Setup/metadata objects that need a filter or a parent query are not synced as streams: %s",
                ", ".join(sorted(unsyncable)),
            )
        return names

    def _selected_in_catalog(self) -> set[str] | None:
        catalog = self.input_catalog
        if catalog is None:
            return None
        return {entry.tap_stream_id for entry in catalog.streams if entry.metadata.root.selected}

    def _check_selected_exist(self, org_objects: set[str]) -> None:
        """A selected object the org lacks (renamed, deleted, another org's catalog) is named, and
        a catalog none of whose selections exist fails instead of "succeeding" with no data."""
        selected = self._selected_in_catalog()
        if not selected:
            return
        missing = sorted(selected - org_objects - DERIVED_STREAMS)
        for name in missing:
            self.logger.warning(
                "Stream %s is selected in the catalog but the org has no object %s (or this user cannot see it); skipped",
                name,
                name,
            )
        if missing and not (selected - set(missing)):
            raise TapError(
                f"catalog: none of the selected streams exist in this org: {', '.join(missing)}"
            )

    def _catalog_stream_names(self) -> set[str] | None:
        """With an input catalog, describe only the streams it selects (1,000-object orgs)."""
        selected = self._selected_in_catalog()
        if selected is None:
            return None
        if selected & DERIVED_STREAMS:
            return None  # derived streams read their source objects, selected or not
        return selected

    def _describe_all(self, runtime: Runtime, names: list[str]) -> list[ObjectSchema]:
        def describe(name: str) -> ObjectSchema | None:
            try:
                body = runtime.client.get_json(
                    f"/sobjects/{name}/describe", context=f"describe {name}"
                )
            except SalesforceApiError as error:
                if error.error_code not in UNDESCRIBABLE_CODES:
                    raise  # a failed call, not a missing object: skipping it would lose its rows
                self.logger.warning(
                    "Object %s cannot be described (%s); skipped", name, error.error_code
                )
                return None
            return from_describe(body)

        with ThreadPoolExecutor(max_workers=runtime.settings.max_workers) as pool:
            schemas = [s for s in pool.map(describe, names) if s is not None]
        self._warn_hidden_fields(schemas)
        return schemas

    def _warn_hidden_fields(self, schemas: list[ObjectSchema]) -> None:
        """Fields a catalog expects but describe no longer shows are hidden by field-level security."""
        catalog = self.input_catalog
        if catalog is None:
            return
        for schema in schemas:
            entry = catalog.get_stream(schema.name)
            if entry is None:
                continue
            visible = {f.name for f in schema.fields}
            for field in entry.schema.properties or {}:
                if field not in visible and not field.startswith("_sdc_"):
                    self.logger.warning(
                        "Field %s.%s is in the catalog but not visible to this user (field-level security?); skipped",
                        schema.name,
                        field,
                    )

    # -- sync --
    @override
    def on_termination(self, signum: int) -> None:
        """Ctrl-C or an orchestrator's SIGTERM: the streams side by side stop at their next
        page or wait (``scheduler``), then the run ends with one line and 128 + the signal."""
        self.runtime.cancel.set()
        raise Interrupted(signum)

    @override
    def sync_streams(self) -> None:
        """The SDK's sync, with up to ``max_concurrency`` streams side by side (``scheduler``)."""
        runtime = self.runtime
        streams = self.sdk_begin_sync()
        try:
            with ThreadPoolExecutor(1, "users") as side:  # beside the COUNTs sent ahead
                users = side.submit(in_context(read_users_first), self.streams.values(), runtime)
                work = self._sync_order(streams)
                users.result()
            StreamScheduler(runtime, self.logger).run(work)
            for stream in self.streams.values():
                stream.log_sync_costs()
        finally:
            for line in self.runtime.summary_lines():
                self.logger.info("Run summary | %s", line)
        if self.runtime.stopped_reason:
            self.logger.warning("Stopped early: %s", self.runtime.stopped_reason)
            _exit_after_quota_stop(self.runtime)

    def _sync_order(self, streams: list[Stream]) -> list[Work]:
        """The SDK's order, one whole stream after another. Side by side, micro_decision_events
        a source at a time: first its sources whose object stream is not selected, read beside
        the object streams; then the object streams, largest first by the COUNTs sent ahead
        (``counts``), so a large object never starts last and leaves the run waiting for it;
        then its other sources, each of which waits for its object stream, whose pages it may
        come from (``shared_events``)."""
        if self.runtime.settings.max_concurrency <= 1:
            return [(stream, None) for stream in streams]
        counts = count_ahead(streams, self.runtime)
        events = [s for s in streams if isinstance(s, MicroDecisionEventsStream)]
        others = [s for s in streams if s not in events]
        # Uncounted streams (not read with a COUNT) may be large: before the counted ones.
        others.sort(key=lambda s: -counts.get(s.name, 1 << 62))
        first: list[Work] = []
        last: list[Work] = []
        for stream in events:
            if not stream.partitions:  # no source in this org: synced whole (its SCHEMA, STATE)
                first.append((stream, None))
            for context in stream.partitions:
                source = self.streams.get(context["source_object"])
                shareable = (
                    isinstance(source, SObjectStream)
                    and source.selected
                    and could_share(source, source.sync_shape())
                )
                if shareable:
                    stream.waits_for.add(context["source_object"])
                (last if shareable else first).append((stream, context))
        return first + [(stream, None) for stream in others] + last


def _org_id_of(runtime: Runtime) -> str:
    """The logged-in org's id (the token response's identity URL), for ``org_id_column``."""
    org_id = runtime.client.session.org_id
    if len(org_id) != 18:
        msg = f"org_id_column: the login's identity names no 18-character org id ({org_id!r})"
        raise SettingError(msg)
    return org_id


def _object_stream(tap: TapSalesforceTemporal, schema: ObjectSchema, runtime: Runtime) -> Stream:
    """The stream of one object: through its parent when its queries must name one."""
    if schema.name in PARENT_FILTERED:
        parent, field = PARENT_FILTERED[schema.name]
        return ParentFilteredStream(tap, schema, runtime, parent, field)
    return SObjectStream(tap, schema, runtime)


def _exit_after_quota_stop(runtime: Runtime) -> None:
    """A quota stop must not look like success: every STATE is already out, so exit non-zero.

    An orchestrator that treats exit 0 as "caught up" would otherwise never learn the run stopped
    part-way (Meltano keeps each STATE the target prints, so the next run resumes either way).
    """
    code = runtime.settings.quota_exit_code
    if not code:
        return
    from .output.writer import stdout

    stdout().flush()
    print(  # noqa: T201
        f"tap-salesforce-temporal: stopped early by the API quota guard "
        f"({_guard_of(runtime)}), STATE emitted; "
        f"exiting with quota_exit_code={code}",
        file=sys.stderr,
    )
    sys.exit(code)


def _guard_of(runtime: Runtime) -> str:
    """The quota setting the run stopped at, as ``name=value``."""
    per_run = runtime.settings.quota_percent_per_run
    reason = runtime.stopped_reason or ""
    if per_run is not None and "quota_percent_per_run" in reason:
        return f"quota_percent_per_run={per_run:g}"
    return f"max_api_usage_percent={runtime.settings.max_api_usage_percent:g}"


def _start_embedded_org(settings: Settings, logger: Any) -> Settings:
    """Start the embedded synthetic org in this process and point the settings at it."""
    import dataclasses

    from synthetic_org import SandboxOrg

    org = SandboxOrg(
        seed=settings.embedded_org_seed,
        scale=settings.embedded_org_scale,
        latency_ms=settings.embedded_org_latency_ms,
        bulk_job_seconds=settings.embedded_org_bulk_job_seconds,
    ).start()
    logger.warning(
        "SYNTHETIC DATA: embedded_org is on; reading the embedded synthetic org at %s"
        " (seed %d, scale %d), not Salesforce",
        org.base_url,
        settings.embedded_org_seed,
        settings.embedded_org_scale,
    )
    return dataclasses.replace(settings, instance_url=None, **org.login_settings())
