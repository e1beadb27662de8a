"""Build the one Settings object from defaults, the TOML file, the environment and the command line.

Every value remembers where it came from, so an error names the file (or the variable, or the
option), the key, the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from config.settings import SECTIONS, Settings, default_data_dir

ENV_PREFIX = "CITIE_"
CONFIG_FILE_NAME = "config.toml"


class ConfigError(Exception):
    """The configuration cannot be used; the message says where, what and how to fix it."""

    exit_code = 2


@dataclass(frozen=True)
class Source:
    """Where a value came from, said the way a person would look for it."""

    kind: str  # "file", "env", "cli"
    where: str

    def describe(self, section: str, key: str) -> str:
        """Name the place to fix, e.g. ``/etc/citie/config.toml, key [sync] batch_size``."""
        if self.kind == "file":
            return f"{self.where}, key [{section}] {key}"
        if self.kind == "env":
            return f"environment variable {self.where}"
        return f"command-line option {self.where}"


def env_var_name(section: str, key: str) -> str:
    """The environment variable that sets one field."""
    return f"{ENV_PREFIX}{section}_{key}".upper()


def config_path_for(data_dir: Path | None, config: Path | None) -> Path:
    """The config file to read: the one named, else config.toml in the data directory."""
    if config is not None:
        return config
    env_config = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if env_config:
        return Path(env_config)
    return (data_dir or _env_data_dir() or default_data_dir()) / CONFIG_FILE_NAME


def _env_data_dir() -> Path | None:
    value = os.environ.get(f"{ENV_PREFIX}DATA_DIR") or os.environ.get(
        env_var_name("storage", "data_dir")
    )
    return Path(value) if value else None


def _nearest(name: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" Did you mean {match[0]!r}?" if match else f" Valid keys: {', '.join(choices)}."


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config error in {path}: the file is not UTF-8 text ({exc.reason}). "
            "Save it as UTF-8 and try again."
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"config error: cannot read {path} ({exc.strerror}). "
            "Check the path and its permissions, or run `citie-terminal init`."
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config error in {path}: not valid TOML ({exc}). "
            "Compare it with config/example.toml; strings need quotes, sections [brackets]."
        ) from exc


RENAMED: dict[tuple[str, str], str] = {("sync", "backup_retention"): "keep_backups"}
"""Keys read under their old name, so an older config file keeps working."""


def _check_shape(data: Mapping[str, Any], path: Path) -> None:
    sections = list(SECTIONS)
    for section, body in data.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"config error in {path}: unknown section [{section}].{_nearest(section, sections)}"
            )
        if not isinstance(body, dict):
            raise ConfigError(
                f"config error in {path}: [{section}] must be a table of keys, got {body!r}. "
                f"Write it as a [{section}] header followed by key = value lines."
            )
        keys = list(SECTIONS[section].model_fields)
        for key in body:
            if key not in keys and (section, key) not in RENAMED:
                raise ConfigError(
                    f"config error in {path}: unknown key [{section}] {key}.{_nearest(key, keys)}"
                )


def _from_env(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for section, model in SECTIONS.items():
        for key in model.model_fields:
            name = env_var_name(section, key)
            if name in environ:
                found.setdefault(section, {})[key] = environ[name]
    data_dir = environ.get(f"{ENV_PREFIX}DATA_DIR")
    if data_dir and "data_dir" not in found.get("storage", {}):
        found.setdefault("storage", {})["data_dir"] = data_dir
    return found


def _unknown_env(environ: Mapping[str, str]) -> list[str]:
    known = {env_var_name(s, k) for s, m in SECTIONS.items() for k in m.model_fields}
    known |= {f"{ENV_PREFIX}DATA_DIR", f"{ENV_PREFIX}CONFIG"}
    # Not settings: the PINs a till's script passes to --staff and --approver (loyalty.staff).
    known |= {f"{ENV_PREFIX}STAFF_PIN", f"{ENV_PREFIX}APPROVER_PIN"}
    return sorted(n for n in environ if n.startswith(ENV_PREFIX) and n not in known)


def describe_field(model: type[BaseModel], key: str, *, with_default: bool = True) -> str:
    """Say what a field accepts: its kind, bounds or choices (and its default)."""
    field = model.model_fields[key]
    annotation = field.annotation
    lower = upper = None
    for item in field.metadata:
        lower = getattr(item, "ge", None) if getattr(item, "ge", None) is not None else lower
        lower = getattr(item, "gt", None) if getattr(item, "gt", None) is not None else lower
        upper = getattr(item, "le", None) if getattr(item, "le", None) is not None else upper
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        kind = "one of " + ", ".join(repr(a) for a in args)
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        kind = "one of " + ", ".join(repr(member.value) for member in annotation)
    elif annotation is bool:
        kind = "true or false"
    elif annotation is int:
        kind = "a whole number"
    elif annotation is float:
        kind = "a number"
    elif annotation is Path or Path in args:
        kind = "a file or folder path"
    elif get_origin(annotation) is list:
        choices = [repr(c) for a in get_args(annotation) for c in get_args(a)]
        kind = "a list of " + (", ".join(choices) if choices else "values")
    else:
        kind = "text"
    if lower is not None and upper is not None:
        kind += f" from {lower} to {upper}"
    elif lower is not None:
        kind += f" of at least {lower}"
    elif upper is not None:
        kind += f" of at most {upper}"
    if not with_default:
        return kind
    default = field.get_default(call_default_factory=True)
    if isinstance(default, Enum):
        default = default.value
    shown = "" if isinstance(default, Path) or default is None else f" (default {default!r})"
    return f"{kind}{shown} — {(field.description or '').rstrip('.')}"


def load_settings(
    *,
    data_dir: Path | None = None,
    config: Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
    require_file: bool = False,
) -> tuple[Settings, Path]:
    """Merge every source into one Settings; return it with the config file path considered.

    A missing file is fine (defaults) unless ``require_file`` or ``config`` was given.
    """
    environ = os.environ if environ is None else environ
    path = config_path_for(data_dir, config)
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, str], Source] = {}

    if path.exists() or require_file or config is not None:
        file_data = _read_toml(path)
        _check_shape(file_data, path)
        for section, body in file_data.items():
            for old_key, value in body.items():
                key = RENAMED.get((section, old_key), old_key)
                if key != old_key and key in body:
                    continue  # the new name wins over the old one
                merged.setdefault(section, {})[key] = value
                origin[(section, key)] = Source("file", str(path))

    unknown = _unknown_env(environ)
    if unknown:
        name = unknown[0]
        names = sorted(env_var_name(s, k) for s, m in SECTIONS.items() for k in m.model_fields)
        raise ConfigError(
            f"config error: unknown environment variable {name}.{_nearest(name, names)}"
        )
    for section, body in _from_env(environ).items():
        for key, value in body.items():
            merged.setdefault(section, {})[key] = value
            origin[(section, key)] = Source("env", env_var_name(section, key))

    for section, body in (overrides or {}).items():
        for key, value in body.items():
            if value is None:
                continue
            merged.setdefault(section, {})[key] = value
            origin[(section, key)] = Source("cli", f"--{section}-{key}".replace("_", "-"))

    if data_dir is not None:
        merged.setdefault("storage", {})["data_dir"] = data_dir
        origin[("storage", "data_dir")] = Source("cli", "--data-dir")

    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, merged, origin, path)) from None
    return settings, path


def _explain(
    exc: ValidationError,
    merged: Mapping[str, Mapping[str, Any]],
    origin: Mapping[tuple[str, str], Source],
    path: Path,
) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        section = loc[0] if loc else "?"
        key = loc[1] if len(loc) > 1 else ""
        model = SECTIONS.get(section)
        if model is not None and key not in model.model_fields:
            key = ""  # an error of the whole section (e.g. printer kind without a target)
        source = origin.get((section, key), Source("file", str(path)))
        where = source.describe(section, key) if key else f"{path}, section [{section}]"
        value = merged.get(section, {}).get(key, None) if key else None
        shown = f" = {value!r}" if key else ""
        problem = error["msg"].removeprefix("Value error, ")
        allowed = f" Allowed: {describe_field(model, key)}." if model is not None and key else ""
        if not key:
            allowed = " Fix the section in the file."
        lines.append(f"config error in {where}{shown}: {problem}.{allowed}")
    return "\n".join(lines)
