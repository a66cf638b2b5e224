"""The tap's settings: declared once for the SDK (``CONFIG_SCHEMA``), parsed once (``Settings``).

The JSON Schema catches wrong types; ``Settings.from_config`` adds the cross-field rules (what each
auth flow needs, https for non-loopback hosts, date order) and names the offending setting.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from ..connection.urls import insecure_reason
from ..events import EVENT_TYPES
from .cadence import CadenceError, CadenceSetting, parse_setting

AUTH_FLOWS = ("password", "client_credentials", "refresh_token", "jwt")
API_TYPES = ("auto", "rest", "bulk")
FORMULA_MODES = ("include", "exclude", "refresh")
# Settings whose value is a cadence (``cadence``): a name, a number of hours, or one per object.
CADENCE_SETTINGS = ("reconcile_deletes", "formula_refresh")
SECRET_SETTINGS = ("client_secret", "refresh_token", "password", "security_token", "private_key")
# What Salesforce accepts in a SOQL datetime literal (and what strftime writes with four digits).
EARLIEST_DATETIME = dt.datetime(1700, 1, 1, tzinfo=dt.timezone.utc)
LATEST_DATETIME = dt.datetime(4000, 12, 31, tzinfo=dt.timezone.utc)
MAX_LOOKBACK_SECONDS = 366 * 24 * 3600

# Settings that were renamed because their old name misled: "sandbox" read like a Salesforce
# sandbox org (Meltano Hub's is_sandbox) while it swapped real credentials for synthetic data.
RENAMED = {
    "sandbox": "was renamed embedded_org: it starts a SYNTHETIC org, never a Salesforce sandbox "
    "org (for a sandbox org, set domain: test and its credentials)",
    "sandbox_scale": "was renamed embedded_org_scale",
    "sandbox_seed": "was renamed embedded_org_seed",
    "is_sandbox": "is not a setting of this tap: for a Salesforce sandbox org set domain: test",
}

CONFIG_SCHEMA = th.PropertiesList(
    th.Property("auth_flow", th.StringType, default="password", allowed_values=list(AUTH_FLOWS), title="Auth flow", description="OAuth flow used to log in: password, client_credentials, refresh_token or jwt."),
    th.Property("client_id", th.StringType, title="Client ID", description="Consumer key of the connected app."),
    th.Property("client_secret", th.StringType, secret=True, title="Client secret", description="Consumer secret of the connected app."),
    th.Property("refresh_token", th.StringType, secret=True, title="Refresh token", description="Refresh token for the refresh_token flow."),
    th.Property("username", th.StringType, title="Username", description="Salesforce username (password and jwt flows)."),
    th.Property("password", th.StringType, secret=True, title="Password", description="Salesforce password (password flow)."),
    th.Property("security_token", th.StringType, secret=True, title="Security token", description="Security token appended to the password (password flow)."),
    th.Property("private_key", th.StringType, secret=True, title="Private key", description="PEM private key that signs the JWT bearer assertion (jwt flow)."),
    th.Property("domain", th.StringType, default="login", title="Login domain", description="login, test, a My Domain host (acme.my.salesforce.com) or a plain URL (no @, backslash, query or fragment); https is required except for loopback."),
    th.Property("instance_url", th.StringType, title="Instance URL", description="Overrides the instance URL returned by the login (e.g. a fixed My Domain URL); the same URL rules as domain."),
    th.Property("api_version", th.StringType, default="62.0", title="API version", description="Salesforce REST API version, e.g. 62.0."),
    th.Property("start_date", th.DateTimeType, title="Start date", description="Earliest replication key value to extract on the first run (1700-01-01 to 4000-12-31, what Salesforce accepts)."),
    th.Property("end_date", th.DateTimeType, title="End date", description="Optional upper bound (exclusive) of the replication key."),
    th.Property("lookback_window", th.IntegerType, default=300, title="Lookback window", description="Seconds re-read before the bookmark on each incremental run, because Salesforce commits SystemModstamp late (at most 366 days)."),
    th.Property("objects", th.ArrayType(th.StringType), title="Objects", description="Object names or glob patterns to discover (default: every queryable object). An entry that matches no object of the org is named in one warning (with the closest real name); when none matches, the run fails."),
    th.Property("api_type", th.StringType, default="auto", allowed_values=list(API_TYPES), title="API type", description="auto picks REST or Bulk API 2.0 per object by row count; rest or bulk force one."),
    th.Property("bulk_threshold", th.IntegerType, default=100_000, title="Bulk threshold", description="With api_type=auto, objects with at least this many matching rows use Bulk API 2.0."),
    th.Property("include_deleted", th.BooleanType, default=False, title="Include deleted", description="Read soft-deleted and archived rows with queryAll, and hard deletes as tombstones."),
    th.Property("org_id_column", th.BooleanType, default=False, title="Org id column", description="Add _sdc_org_id (the 18-character id of the org the login reached) to every stream's schema, rows and key (_sdc_org_id first), so several orgs can write into one destination; off, schemas and keys are unchanged."),
    th.Property("reconcile_deletes", th.CustomType({"type": ["string", "number", "object"]}), default="never", title="Reconcile deletes", description="How often to find rows deleted for good (past the Recycle Bin, or objects without one): an Id-only read of each object (Bulk for large ones) whose keys the target compares with the lake, tombstoning the keys gone. never, always (every run), daily, weekly or a number of hours, for every object or per object, e.g. {\"Account\": \"daily\", \"*\": \"weekly\"} (objects not named: never)."),
    th.Property("formula_fields", th.StringType, default="include", allowed_values=list(FORMULA_MODES), title="Formula fields", description="Formula fields (calculated in the describe) change without SystemModstamp moving: include reads them with the row (stale until the row changes), exclude leaves them out of the schema and the query, refresh re-reads every row of objects with a selected formula field on the formula_refresh cadence."),
    th.Property("formula_refresh", th.CustomType({"type": ["string", "number", "object"]}), default="daily", title="Formula refresh", description="With formula_fields refresh: how often the rows are re-read (never, always, daily, weekly or a number of hours, for every object or per object)."),
    th.Property("max_api_usage_percent", th.NumberType, default=80, title="Max API usage percent", description="Stop cleanly (STATE emitted) once the org's daily API usage reaches this percentage."),
    th.Property("quota_percent_per_run", th.NumberType, title="Quota percent per run", description="Stop cleanly (STATE emitted, exit quota_exit_code) once THIS run's own API calls reach this percentage of the org's daily API limit (from the Sforce-Limit-Info header); beside max_api_usage_percent, which counts every client of the org. Unset: no per-run budget."),
    th.Property("quota_exit_code", th.IntegerType, default=3, title="Quota exit code", description="Exit code of a run stopped by max_api_usage_percent or quota_percent_per_run, after its STATE is out, so an orchestrator sees the stop; 0 makes such a run look successful."),
    th.Property("request_timeout", th.IntegerType, default=300, title="Request timeout", description="Seconds to wait for one HTTP response."),
    th.Property("max_workers", th.IntegerType, default=32, title="Max workers", description="Concurrent short requests: describes during discovery (1,000 objects at 250 ms an answer take ~8 s with 32) and, with api_type auto and max_concurrency above 1, the COUNTs that order streams largest first."),
    th.Property("max_concurrency", th.IntegerType, default=8, title="Max concurrency", description="Streams synced side by side (their API calls and Bulk jobs overlap; RECORD lines of different streams interleave a page at a time, each STATE covering only what was written before it). At most 10, Salesforce's open query cursors per user; 1 syncs one stream after another."),
    th.Property("max_retries", th.IntegerType, default=8, title="Max retries", description="Retries of a transient failure (5xx, REQUEST_LIMIT_EXCEEDED, dropped connection) before the run fails."),
    th.Property("retry_backoff_seconds", th.NumberType, default=1.0, title="Retry backoff", description="First retry delay in seconds; doubles per attempt, with jitter, up to 60 s."),
    th.Property("bulk_page_records", th.IntegerType, default=50_000, title="Bulk page records", description="maxRecords per Bulk API 2.0 result page; bounds the tap's memory."),
    th.Property("object_filters", th.ObjectType(additional_properties=th.StringType), title="Object filters", description="A WHERE condition per object, e.g. {\"Opportunity\": \"StageName != 'Closed Lost' AND Amount > 1000\"}: comparisons, LIKE, [NOT] IN, = null, AND/OR (not mixed without parentheses), NOT; parsed and checked against the describe, never pasted into the query. Object streams only."),
    th.Property("event_types", th.ArrayType(th.StringType), title="Event types", description="Limit micro_decision_events to these types: field_change, stage_change, approval_decision, activity, setup_change."),
    th.Property("record_types", th.ArrayType(th.StringType), title="Record types", description="Limit micro_decision_events to decisions about these objects (e.g. Opportunity, Case)."),
    th.Property("embedded_org", th.BooleanType, default=False, title="Embedded synthetic org", description="Read seeded SYNTHETIC data from an org started in-process (demo, tests); never a real Salesforce org, not even a sandbox one (for that, set domain: test). Refused together with credentials or a domain."),
    th.Property("embedded_org_scale", th.IntegerType, default=200, title="Embedded org scale", description="Opportunities in the embedded synthetic org; every other object scales with it."),
    th.Property("embedded_org_seed", th.IntegerType, default=1, title="Embedded org seed", description="Seed of the embedded synthetic org's data."),
    th.Property("embedded_org_latency_ms", th.NumberType, default=0, title="Embedded org latency", description="Milliseconds the embedded synthetic org adds to every API answer (a real org answers in 100-500 ms)."),
    th.Property("embedded_org_bulk_job_seconds", th.NumberType, default=0, title="Embedded org Bulk job time", description="Seconds a Bulk query job of the embedded synthetic org stays InProgress (a real org takes seconds to minutes)."),
).to_dict()  # fmt: skip


def _fail(setting: str, problem: str) -> ConfigValidationError:
    message = f"setting '{setting}': {problem}"
    return ConfigValidationError(message, errors=[message])


def login_url(domain: str) -> str:
    """The login host for ``domain``: login, test, a My Domain host, or a full URL."""
    if domain in ("login", "test"):
        return f"https://{domain}.salesforce.com"
    if "://" not in domain:
        return f"https://{domain}"
    return domain.rstrip("/")


def require_secure(setting: str, url: str) -> None:
    """Refuse a URL credentials must not go to (see ``urls``); the URL is never quoted back."""
    reason = insecure_reason(url)
    if reason:
        raise _fail(setting, reason)


def shown(setting: str, value: object) -> str:
    """A wrong value as an error may show it: its JSON type, and for non-secrets a short repr."""
    kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    if setting in SECRET_SETTINGS:
        return kind
    text = repr(value)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


_JSON_TYPE_NAMES: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    decimal.Decimal: "number",
    bool: "boolean",
    list: "array",
    tuple: "array",
    dict: "object",
    type(None): "null",
}


def _kind(spec: Mapping[str, object]) -> str:
    declared = spec.get("type")  # JSON Schema: a type name or a list of them
    if isinstance(declared, str):
        kinds = [declared]
    elif isinstance(declared, (list, tuple)):
        kinds = list(declared)
    else:
        kinds = []
    return next((k for k in kinds if k != "null"), "string")


def coerce(setting: str, spec: Mapping[str, object], value: object) -> object:
    """One setting's value in its declared type, or an error that names the setting."""
    if value is None:
        return () if _kind(spec) in ("array", "object") else None
    kind = _kind(spec)
    if kind == "string" and spec.get("format") == "date-time":
        if not isinstance(value, str):
            raise _fail(
                setting, f"expects an ISO-8601 date-time string, got {shown(setting, value)}"
            )
        return _parse_datetime(setting, value)
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(setting, f"expects a string, got {shown(setting, value)}")
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _fail(setting, f"expects true or false, got {shown(setting, value)}")
    if kind in ("integer", "number"):
        caster = int if kind == "integer" else float
        # The SDK reads JSON config numbers as Decimal.
        if isinstance(value, bool) or not isinstance(value, (int, float, str, decimal.Decimal)):
            raise _fail(
                setting,
                f"expects {'an integer' if kind == 'integer' else 'a number'}, got {shown(setting, value)}",
            )
        try:
            number = caster(value)
        except (ValueError, OverflowError, decimal.InvalidOperation):
            raise _fail(
                setting,
                f"expects {'an integer' if kind == 'integer' else 'a number'}, got {shown(setting, value)}",
            ) from None
        if kind == "integer" and isinstance(value, (float, decimal.Decimal)) and value != number:
            raise _fail(setting, f"expects an integer, got {shown(setting, value)}")
        return number
    if kind == "object":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise _fail(setting, f"expects an object of strings, got {shown(setting, value)}")
        return tuple(sorted(value.items()))
    if kind == "array":
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            raise _fail(setting, f"expects a list of strings, got {shown(setting, value)}")
        return tuple(value)
    return value


def _parse_datetime(setting: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        parsed.astimezone(dt.timezone.utc)  # an offset near year 1 or 9999 overflows here
    except (ValueError, OverflowError) as error:
        raise _fail(setting, f"{shown(setting, value)} is not an ISO-8601 date-time") from error
    if not EARLIEST_DATETIME <= parsed <= LATEST_DATETIME:
        raise _fail(
            setting,
            f"{parsed.date()} is outside the dates Salesforce accepts (1700-01-01 to 4000-12-31)",
        )
    return parsed


def _cadence(setting: str, value: object) -> CadenceSetting:
    try:
        return parse_setting(value)
    except CadenceError as error:
        raise _fail(setting, str(error)) from None


# A user's open REST query cursors (queryMore locators); an 11th releases the oldest.
MAX_OPEN_CURSORS = 10


@dataclass(frozen=True, slots=True)
class Settings:
    auth_flow: str
    client_id: str | None
    client_secret: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    username: str | None
    password: str | None = field(repr=False)
    security_token: str | None = field(repr=False)
    private_key: str | None = field(repr=False)
    domain: str
    instance_url: str | None
    api_version: str
    start_date: dt.datetime | None
    end_date: dt.datetime | None
    lookback_window: int
    objects: tuple[str, ...]
    api_type: str
    bulk_threshold: int
    include_deleted: bool
    org_id_column: bool
    reconcile_deletes: CadenceSetting
    formula_fields: str
    formula_refresh: CadenceSetting
    max_api_usage_percent: float
    quota_percent_per_run: float | None
    quota_exit_code: int
    request_timeout: int
    max_workers: int
    max_concurrency: int
    max_retries: int
    retry_backoff_seconds: float
    bulk_page_records: int
    event_types: tuple[str, ...]
    record_types: tuple[str, ...]
    object_filters: tuple[tuple[str, str], ...]
    embedded_org: bool
    embedded_org_scale: int
    embedded_org_seed: int
    embedded_org_latency_ms: float
    embedded_org_bulk_job_seconds: float

    @property
    def login_url(self) -> str:
        return login_url(self.domain)

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> Settings:
        for old, hint in RENAMED.items():
            if config.get(old) is not None:
                raise _fail(old, hint)
        # Each value has the type its JSON Schema property declares: coerce checks that at run
        # time, per property, so statically the values are of unknown (Any) type.
        values: dict[str, Any] = {}
        for name, spec in CONFIG_SCHEMA["properties"].items():
            raw = config.get(name)
            value = spec.get("default") if raw is None else raw
            values[name] = (
                _cadence(name, value) if name in CADENCE_SETTINGS else coerce(name, spec, value)
            )
        settings = cls(**values)
        settings.validate()
        return settings

    def _refuse_real_org_settings(self) -> None:
        """The embedded org serves synthetic data: a config that also names a real org (its
        credentials or domain) is a mistake that would silently sync fake rows, so it stops."""
        real = [
            name
            for name in (
                "username",
                "password",
                "security_token",
                "client_secret",
                "refresh_token",
                "private_key",
                "instance_url",
            )
            if getattr(self, name)
        ]
        if self.domain != "login":
            real.insert(0, "domain")
        if real:
            raise _fail(
                "embedded_org",
                "reads synthetic data, never a real org; remove it, or remove "
                + ", ".join(real)
                + " (for a Salesforce sandbox org set domain: test and its credentials)",
            )

    def validate(self) -> None:
        """Cross-field rules the JSON Schema cannot express; each error names its setting."""
        if self.auth_flow not in AUTH_FLOWS:
            raise _fail("auth_flow", f"{self.auth_flow!r} is not one of {', '.join(AUTH_FLOWS)}")
        if self.formula_fields not in FORMULA_MODES:
            raise _fail(
                "formula_fields",
                f"{self.formula_fields!r} is not one of {', '.join(FORMULA_MODES)}",
            )
        if self.api_type not in API_TYPES:
            raise _fail("api_type", f"{self.api_type!r} is not one of {', '.join(API_TYPES)}")
        if not re.fullmatch(r"[0-9]{2}\.0", self.api_version):
            raise _fail("api_version", f"{self.api_version!r} is not a version like 62.0")
        checks = (
            (
                "lookback_window",
                0 <= self.lookback_window <= MAX_LOOKBACK_SECONDS,
                f"must be between 0 and {MAX_LOOKBACK_SECONDS} seconds (366 days)",
            ),
            ("bulk_threshold", self.bulk_threshold >= 0, "must be 0 or more rows"),
            (
                "max_api_usage_percent",
                0 < self.max_api_usage_percent <= 100,
                "must be above 0 and at most 100",
            ),
            (
                "quota_percent_per_run",
                self.quota_percent_per_run is None or 0 < self.quota_percent_per_run <= 100,
                "must be above 0 and at most 100",
            ),
            ("quota_exit_code", 0 <= self.quota_exit_code <= 125, "must be between 0 and 125"),
            (
                "request_timeout",
                0 < self.request_timeout <= 86_400,
                "must be between 1 and 86400 seconds",
            ),
            ("max_workers", 1 <= self.max_workers <= 64, "must be between 1 and 64"),
            (
                "max_concurrency",
                1 <= self.max_concurrency <= MAX_OPEN_CURSORS,
                f"must be between 1 and {MAX_OPEN_CURSORS} (Salesforce keeps {MAX_OPEN_CURSORS} open query cursors per user)",
            ),
            ("max_retries", 0 <= self.max_retries <= 50, "must be between 0 and 50"),
            (
                "retry_backoff_seconds",
                0 <= self.retry_backoff_seconds <= 600,
                "must be between 0 and 600 seconds",
            ),
            (
                "bulk_page_records",
                1_000 <= self.bulk_page_records <= 1_000_000,
                "must be between 1000 and 1000000",
            ),
            (
                "embedded_org_latency_ms",
                0 <= self.embedded_org_latency_ms <= 60_000,
                "must be between 0 and 60000",
            ),
            (
                "embedded_org_bulk_job_seconds",
                0 <= self.embedded_org_bulk_job_seconds <= 3_600,
                "must be between 0 and 3600",
            ),
            (
                "embedded_org_scale",
                1 <= self.embedded_org_scale <= 2_000_000,
                "must be between 1 and 2000000",
            ),
        )
        for setting, ok, problem in checks:
            if not ok:
                raise _fail(setting, f"{getattr(self, setting)!r} {problem}")
        unknown = [t for t in self.event_types if t not in EVENT_TYPES]
        if unknown:
            raise _fail(
                "event_types",
                f"{', '.join(map(repr, unknown))} not one of {', '.join(EVENT_TYPES)}",
            )
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise _fail("end_date", "must be after start_date")
        for pattern in self.objects:
            if not re.fullmatch(r"[A-Za-z0-9_*?\[\]]+", pattern):
                raise _fail(
                    "objects", f"{shown('objects', pattern)} is not an object name or glob pattern"
                )
        require_secure("domain", self.login_url)
        if self.instance_url:
            require_secure("instance_url", self.instance_url)
        if self.embedded_org:
            self._refuse_real_org_settings()
            return
        required = {
            "password": ("username", "password", "client_id", "client_secret"),
            "client_credentials": ("client_id", "client_secret"),
            "refresh_token": ("client_id", "refresh_token"),
            "jwt": ("client_id", "username", "private_key"),
        }[self.auth_flow]
        for setting in required:
            if not getattr(self, setting):
                raise _fail(setting, f"is required for auth_flow={self.auth_flow}")
        if self.auth_flow == "client_credentials" and self.domain in ("login", "test"):
            raise _fail("domain", "client_credentials needs your My Domain host, not login/test")


def builtin_setting_errors(config: dict, full_schema: Mapping) -> list[str]:
    """The SDK's built-in settings (batch_config, stream_maps, ...) checked against their schema.

    The SDK's own validator runs over the whole config as the SDK would (it also fills in
    defaults), but errors on this tap's settings are left to ``Settings`` (which accepts "300"
    from an environment variable), and messages are built from the path and the rule broken,
    never from jsonschema's message, which quotes the value.
    """
    from singer_sdk.plugin_base import JSONSchemaValidator

    ours = set(CONFIG_SCHEMA["properties"])
    errors = []
    for error in JSONSchemaValidator(dict(full_schema)).iter_errors(config):
        path = [str(part) for part in error.absolute_path]
        if path and path[0] in ours:
            continue
        setting = ".".join(path) or "config"
        if error.validator == "type":
            kind = _JSON_TYPE_NAMES.get(type(error.instance), "value")
            problem = f"expects {error.validator_value}, got {kind}"
        elif error.validator == "enum":
            problem = f"expects one of {error.validator_value}"
        else:
            problem = f"does not satisfy the schema's {error.validator!r} rule"
        errors.append(f"setting '{setting}': {problem}")
    return sorted(errors) or _batch_config_errors(config.get("batch_config"))


def _batch_config_errors(batch: object) -> list[str]:
    """What the SDK's batch_config schema leaves out and its BatchConfig trips over."""
    if not batch:
        return []
    if not isinstance(batch, dict):
        return ["setting 'batch_config': expects an object"]
    for part in ("encoding", "storage"):
        if not isinstance(batch.get(part), dict):
            return [f"setting 'batch_config.{part}': is required (an object)"]
    if not isinstance(batch["storage"].get("root"), str) or not batch["storage"]["root"]:
        return ["setting 'batch_config.storage.root': is required (a file:// or s3:// URL)"]
    size = batch.get("batch_size", 10_000)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 10_000_000:
        return [
            f"setting 'batch_config.batch_size': expects an integer from 1 to 10000000, got {shown('batch_size', size)}"
        ]
    return []
