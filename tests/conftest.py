"""Shared pytest fixtures. Fixture modules of each area are listed in pytest_plugins."""

pytest_plugins: list[str] = ["tests.conftest_platform"]
