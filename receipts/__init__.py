"""receipts package."""
