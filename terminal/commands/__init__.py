"""Headless commands of ``citie-terminal``, one module per area, each with register(group)."""
