"""The ``citie-platform`` console script: explains a missing ``[platform]`` extra.

The terminal's installation (``pip install citie-terminal``) has the script too, but not the
server's libraries (Starlette, uvicorn, psycopg): instead of an ImportError traceback, say
what to install. Only the standard library is imported before that check.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Final

PLATFORM_MODULES: Final = ("starlette", "uvicorn")
"""What every platform command imports, from the ``[platform]`` extra (pyproject.toml); the
PostgreSQL driver is asked for only by a ``postgresql://`` database."""


def missing_modules() -> list[str]:
    """The platform's libraries that cannot be imported here."""
    return [name for name in PLATFORM_MODULES if importlib.util.find_spec(name) is None]


def main() -> None:
    """Run ``city.cli.main``, or say which extra to install (exit 3)."""
    missing = missing_modules()
    if missing:
        sys.stderr.write(
            "refused: platform_extra_missing: citie-platform needs the [platform] extra "
            f"({', '.join(missing)} cannot be imported). Install it with: "
            "pip install 'citie-terminal[platform]'\n"
        )
        sys.exit(3)
    from city.cli import main as run  # noqa: PLC0415 (only once the extra is known present)

    run()


if __name__ == "__main__":
    main()
