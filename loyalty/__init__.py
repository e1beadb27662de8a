"""loyalty package."""
