"""Write settings as a commented TOML file: the shipped example and the file `init` creates."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from config.load import describe_field, env_var_name
from config.settings import SECTIONS, Settings

HEADER = """\
# citie-terminal configuration.
# Every key is optional; a missing key takes the default shown here.
# Environment variables override this file: CITIE_<SECTION>_<KEY>, e.g. CITIE_SYNC_BATCH_SIZE=200.
# Command-line options override both. Check a file with: citie-terminal config check
"""


def _toml_value(value: Any) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return _toml_value(value.value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def render_toml(settings: Settings, *, blank: frozenset[tuple[str, str]] = frozenset()) -> str:
    """Every section and key of ``settings`` with its docstring as a comment.

    Keys named in ``blank`` are written as empty strings (their default applies on load),
    so a file does not pin a machine-specific default such as the data folder.
    """
    parts = [HEADER]
    for section in SECTIONS:
        model: BaseModel = getattr(settings, section)
        parts.append(f"\n[{section}]")
        for key, field in type(model).model_fields.items():
            doc = (field.description or "").strip()
            for line in doc.splitlines():
                parts.append(f"# {line.strip()}")
            value = "" if (section, key) in blank else getattr(model, key)
            parts.append(f"{key} = {_toml_value(value)}")
    return "\n".join(parts) + "\n"


def example_toml() -> str:
    """The text of config/example.toml."""
    return render_toml(
        Settings(), blank=frozenset({("storage", "data_dir"), ("program", "reward_name")})
    )


EXAMPLE_PATH = Path(__file__).with_name("example.toml")


def reference_table() -> str:
    """The README's configuration reference: every key, its variable, meaning and default."""
    rows = [
        "| key | environment variable | meaning | allowed (default) |",
        "|---|---|---|---|",
    ]
    defaults = Settings()
    for section, model in SECTIONS.items():
        for key, field in model.model_fields.items():
            kind = describe_field(model, key, with_default=False)
            value = getattr(getattr(defaults, section), key)
            default = "user data folder" if (section, key) == ("storage", "data_dir") else None
            if (section, key) == ("program", "reward_name"):
                default = '""'  # the shop language's words, filled in by Settings
            if default is None:
                default = _toml_value(value)
            meaning = (field.description or "").replace("|", "/").replace("<", "&lt;")
            rows.append(
                f"| `[{section}] {key}` | `{env_var_name(section, key)}` | {meaning} "
                f"| {kind} (`{default}`) |"
            )
    return "\n".join(rows) + "\n"


def _update_files() -> None:
    """Rewrite config/example.toml and the README's configuration reference."""
    EXAMPLE_PATH.write_text(example_toml(), encoding="utf-8")
    readme = EXAMPLE_PATH.parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->"
    head, rest = text.split(start, 1)
    readme.write_text(head + start + reference_table() + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    _update_files()
