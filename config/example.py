"""Write settings as a commented TOML file: the shipped example and the file `init` creates."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

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
    return render_toml(Settings(), blank=frozenset({("storage", "data_dir")}))


EXAMPLE_PATH = Path(__file__).with_name("example.toml")
