"""Typed settings for the terminal: defaults, TOML file, environment, command line."""

from config.load import ConfigError, load_settings
from config.settings import Language, PrinterKind, Settings

__all__ = ["ConfigError", "Language", "PrinterKind", "Settings", "load_settings"]
