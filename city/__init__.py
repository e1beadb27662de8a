"""The city platform: the sync protocol's server side, its stores, operator CLI and card issuing.

A separate deployable from the counter terminal: it imports the protocol models (``sync``),
printable cards (``receipts``) and shared verification (``loyalty``), never ``terminal`` or
``scanner``.
"""
