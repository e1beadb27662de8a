"""Reusable widgets of the counter app; each carries its own DEFAULT_CSS."""
