"""What a receipt, a printed card and a printer fault say, in the counter's four languages."""

from __future__ import annotations

from loyalty.i18n import Catalog

MESSAGES = Catalog("receipts", "receipts", "receipts")
