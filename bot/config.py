"""config.toml as pydantic models, with `LICENCE_BOT_` environment overrides for secrets.

A bad config must stop the start with the key and the reason (`ConfigError`), never half-start: a bot
that silently falls back to defaults would, say, log unmasked data or call the wrong vendor.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.models import KINDS

ENV_PREFIX = "LICENCE_BOT_"
DEFAULT_CONFIG_FILE = Path("config.toml")


class ConfigError(Exception):
    """The config cannot be used; the message names the key and the reason."""


class BotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Literal["zh", "en"] = "zh"
    expiry_warning_days: int = Field(default=90, ge=0, le=3650)
    mask_in_groups: bool = True
    store_fields: Literal["full", "masked", "none"] = "masked"
    store_images: bool = False
    database: Path = Path("licence-bot.db")
    #: Same image + kind within this many seconds reuses the earlier result (0 disables).
    cache_seconds: int = Field(default=600, ge=0)
    #: Dates on cards are Chinese local dates; "today" for expiry is taken in this zone.
    timezone: str = "Asia/Shanghai"
    #: Calendar months a new driver's probation (实习期) lasts from the first issue date (0: not shown).
    probation_months: int = Field(default=12, ge=0, le=120)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Checked here, so check-config catches a typo that would otherwise stop the bot at start."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from None
        return value


class ServerSettings(BaseModel):
    """`[server]`: the one ASGI server for every webhook, `/healthz` and `/metrics`."""

    model_config = ConfigDict(extra="forbid")

    #: Loopback by default: exposing the bot is a decision (the Docker image sets 0.0.0.0).
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    #: On SIGTERM, how long in-flight recognitions may take to finish before the process exits.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    #: Connections and requests served at once; past it uvicorn answers 503 (WeChat and Telegram retry).
    #: A bound on what slow or endless requests can hold open, since uvicorn has no body timeout.
    max_connections: int = Field(default=1000, ge=1)


#: The server's own routes; a channel's webhook cannot share them.
HEALTH_PATH, METRICS_PATH = "/healthz", "/metrics"

#: Chat channel tables and the settings model that validates each (imported lazily: `module:Class`).
CHANNEL_SETTINGS = {
    "telegram": "bot.channels.telegram:TelegramSettings",
    "wechat": "bot.channels.wechat:WeChatSettings",
    "wecom": "bot.channels.wecom:WeComSettings",
}


class VendorsSettings(BaseModel):
    """`[vendors]`: the chain per kind, plus one `[vendors.NAME]` table per vendor (kept as raw dicts
    here and validated by each vendor's own settings model when the chain is built)."""

    model_config = ConfigDict(extra="allow")

    driving: list[str] = Field(default_factory=lambda: ["local"])
    vehicle: list[str] = Field(default_factory=lambda: ["local"])
    plate: list[str] = Field(default_factory=lambda: ["local"])

    @field_validator("driving", "vehicle", "plate")
    @classmethod
    def _non_empty(cls, chain: list[str]) -> list[str]:
        if not chain:
            raise ValueError("a chain needs at least one vendor")
        return chain

    @model_validator(mode="after")
    def _tables_are_tables(self) -> VendorsSettings:
        for name, table in (self.model_extra or {}).items():
            if not isinstance(table, dict):
                raise ValueError(f"[vendors.{name}] must be a table")
        return self

    def table(self, name: str) -> dict[str, Any]:
        return dict((self.model_extra or {}).get(name, {}))

    def chain(self, kind: str) -> list[str]:
        return list(getattr(self, kind))

    def chained(self) -> set[str]:
        """Every vendor some chain names."""
        return {name for kind in KINDS for name in self.chain(kind)}


class Config(BaseModel):
    model_config = ConfigDict(extra="allow")  # channel tables, validated by each channel's own model

    bot: BotSettings = Field(default_factory=BotSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    vendors: VendorsSettings = Field(default_factory=VendorsSettings)

    def channel_table(self, name: str) -> dict[str, Any] | None:
        """The raw `[telegram]` / `[wechat]` / `[wecom]` table, or None when absent."""
        table = (self.model_extra or {}).get(name)
        return dict(table) if isinstance(table, dict) else None


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read `path` (or ./config.toml if present, else defaults), apply env overrides, validate.

    Vendor tables are validated here too, so `check-config` and every start fail on a typo at once.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        data = _read_toml(path)
    elif DEFAULT_CONFIG_FILE.is_file():
        data = _read_toml(DEFAULT_CONFIG_FILE)
    from_env = _apply_env(data, environ)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, from_env=from_env)) from None
    _validate_vendor_tables(config, from_env)
    _validate_channel_tables(config, from_env)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """`LICENCE_BOT_VENDORS__TENCENT__SECRET_KEY=…` sets `[vendors.tencent] secret_key`. Returns which
    variable set each dotted key, so an error in one names the variable, not a key in config.toml.

    Values stay strings; pydantic coerces them to the declared type. Only the double underscore splits,
    because keys themselves contain single underscores.

    Done on the raw TOML data rather than with pydantic-settings: the vendor and channel tables are
    open-ended here (each is validated later by the model of the vendor or channel it names), so a
    variable must land in the raw table before any model sees it, and that is this loop; a settings
    library would add a dependency and a custom source to do the same.
    """
    from_env: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if len(keys) < 2:
            # Not a SECTION__KEY override: names a platform gave the container (Kubernetes sets
            # LICENCE_BOT_SERVICE_HOST, LICENCE_BOT_PORT for a service called licence-bot).
            continue
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {'.'.join(keys[:-1])} is not a table")
            node = child
        node[keys[-1]] = value
        from_env[".".join(keys)] = name
    return from_env


#: pydantic's wording where it is not a config editor's.
_PLAIN_PROBLEMS = {"extra_forbidden": "unknown key (misspelt, or in the wrong table?)", "missing": "missing"}


def describe_errors(exc: ValidationError, prefix: str = "", from_env: Mapping[str, str] | None = None) -> str:
    """pydantic's errors as one line of `key: problem` pairs, for a person editing config.toml: every
    key in full (`prefix` is the table's own, ending in a dot: `vendors.baidu.`), and one that an
    environment variable set named with it, since config.toml is not where that value is."""
    lines = []
    for err in exc.errors():
        parts = [*prefix.split(".")[:-1], *(str(part) for part in err["loc"])]
        key = ".".join(parts) or "(top level)"
        problem = _PLAIN_PROBLEMS.get(err["type"], err["msg"])
        variable = _set_by(parts, from_env or {})
        lines.append(f"{key}: {problem}" + (f" (set by {variable})" if variable else ""))
    return "; ".join(lines)


def _set_by(parts: list[str], from_env: Mapping[str, str]) -> str | None:
    """The variable that set this key, or the list holding it (`allowed_users.1` came whole from
    LICENCE_BOT_TELEGRAM__ALLOWED_USERS)."""
    for end in range(len(parts), 0, -1):
        variable = from_env.get(".".join(parts[:end]))
        if variable:
            return variable
    return None


def _validate_vendor_tables(config: Config, from_env: Mapping[str, str]) -> None:
    from bot.vendors.base import known_vendors, vendor_class

    known = set(known_vendors())
    for kind in KINDS:
        for name in config.vendors.chain(kind):
            if name not in known:
                names = ", ".join(sorted(known))
                raise ConfigError(f"vendors.{kind}: unknown vendor {name!r} (known: {names})")
    for name in config.vendors.model_extra or {}:
        if name not in known:
            raise ConfigError(f"vendors.{name}: unknown vendor (known: {', '.join(sorted(known))})")
    # Every vendor a chain names, with or without its table: one whose credentials are required and
    # missing is named here, not met as a traceback when the bot starts.
    for name in sorted(config.vendors.chained() | set(config.vendors.model_extra or {})):
        try:
            vendor_class(name).settings_model.model_validate(config.vendors.table(name))
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc, f"vendors.{name}.", from_env)) from None


def check_vendor_credentials(config: Config, names: Iterable[str] | None = None) -> None:
    """`ConfigError` for the first of `names` (by default every vendor a chain names) that lacks the
    credentials it needs: an auth failure does not fall through to the next vendor, so every
    recognition would fail. Asked by the commands that call vendors (serve, recognize, check-config),
    not at every load: `stats` or `history` run from a shell without the service's environment (where
    the keys may live) must still work."""
    from bot.vendors.base import vendor_class

    for name in sorted(config.vendors.chained() if names is None else names):
        settings = vendor_class(name).settings_model.model_validate(config.vendors.table(name))
        missing = settings.missing_credentials()
        if missing is not None:
            where = f"[vendors.{name}] or {ENV_PREFIX}VENDORS__{name.upper()}__…"
            raise ConfigError(f"vendors.{name}: no {missing} (set in {where})")


def import_target(target: str) -> Any:
    """The object named by `"package.module:Name"`: channel modules are imported only when their table
    is present, so a bot without WeChat never loads wechatpy."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _validate_channel_tables(config: Config, from_env: Mapping[str, str]) -> None:
    served: dict[str, str] = {}  # webhook path -> the channel that serves it
    for name in config.model_extra or {}:
        if name not in CHANNEL_SETTINGS:
            known = ", ".join(["bot", "server", "vendors", *CHANNEL_SETTINGS])
            raise ConfigError(f"{name}: unknown section (known: {known})")
    for name, target in CHANNEL_SETTINGS.items():
        table = config.channel_table(name)
        if table is None:
            continue
        model = import_target(target)
        try:
            settings = model.model_validate(table)
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc, f"{name}.", from_env)) from None
        path = settings.served_path
        if path is None:
            continue
        # Starlette takes the first route that matches, so a second channel on a path gets none of its
        # callbacks (the first channel refuses their signatures) while both report they started.
        key = "telegram.webhook_url" if name == "telegram" else f"{name}.path"
        variable = _set_by(key.split("."), from_env)
        key += f" (set by {variable})" if variable else ""
        if path in (HEALTH_PATH, METRICS_PATH):
            raise ConfigError(f"{key}: {path} is the server's own route; give the channel another path")
        if path in served:
            raise ConfigError(f"{key}: {path} is also {served[path]}'s; each channel needs a path of its own")
        served[path] = name
