"""Versioned schema migrations of the platform's database, one list per store (SQLite, PostgreSQL).

Each migration is applied once, in order, inside one transaction, and recorded in
``schema_migrations``. A migration is never edited once released: a change is a new entry at the
end of both lists (same version number on both sides, so ``citie-platform migrate`` can compare).
SQLite's first migration uses ``IF NOT EXISTS`` so a database made before migrations existed is
taken over as it is.
"""

from __future__ import annotations

from typing import Final

SQLITE: Final[tuple[tuple[int, str], ...]] = (
    (
        1,
        """
CREATE TABLE IF NOT EXISTS shops (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS terminals (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops(id),
    public_key TEXT,
    pairing_hash TEXT UNIQUE,
    credential_hash TEXT UNIQUE,
    created_at TEXT NOT NULL,
    paired_at TEXT,
    last_seen_at TEXT
);
CREATE TABLE IF NOT EXISTS events (
    pseq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    shop_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    card_id TEXT,
    program_id TEXT NOT NULL,
    stamps INTEGER NOT NULL,
    amount_cents INTEGER,
    currency TEXT,
    voids TEXT,
    receipt_no TEXT,
    detail TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    overdraft INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_card ON events(shop_id, card_id);
CREATE INDEX IF NOT EXISTS events_overdraft ON events(overdraft) WHERE overdraft = 1;
CREATE TABLE IF NOT EXISTS balances (
    shop_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    card_id TEXT NOT NULL,
    stamps INTEGER NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (shop_id, program_id, card_id)
);
CREATE INDEX IF NOT EXISTS balances_version ON balances(shop_id, version);
CREATE TABLE IF NOT EXISTS programs (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (shop_id, id)
);
CREATE TABLE IF NOT EXISTS cards (
    id TEXT PRIMARY KEY,
    issued_at TEXT NOT NULL,
    expires_days INTEGER
);
CREATE TABLE IF NOT EXISTS revoked (
    card_id TEXT PRIMARY KEY,
    revoked_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS claimed_events (
    event_id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    receipt_no TEXT NOT NULL,
    card_id TEXT NOT NULL,
    stamps INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    code_sha256 TEXT NOT NULL,
    claimed_at TEXT NOT NULL
);
""",
    ),
    (
        2,
        """
ALTER TABLE events ADD COLUMN digest TEXT;
ALTER TABLE events ADD COLUMN flags TEXT NOT NULL DEFAULT '';
CREATE TABLE terminal_keys (
    terminal_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    paired_at TEXT NOT NULL,
    PRIMARY KEY (terminal_id, public_key)
);
CREATE INDEX events_voids ON events(voids) WHERE voids IS NOT NULL;
CREATE INDEX events_card_time ON events(shop_id, card_id, occurred_at);
CREATE INDEX revoked_version ON revoked(version);
CREATE INDEX programs_version ON programs(shop_id, version);
CREATE TABLE program_versions (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (shop_id, id, version)
);
INSERT INTO program_versions (shop_id, id, version, body, since)
    SELECT shop_id, id, version, body, '1970-01-01T00:00:00.000Z' FROM programs;
INSERT INTO terminal_keys (terminal_id, public_key, paired_at)
    SELECT id, public_key, COALESCE(paired_at, created_at) FROM terminals
    WHERE public_key IS NOT NULL;
""",
    ),
    (
        3,
        """
CREATE TABLE claims (
    id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    shop_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    card_id TEXT NOT NULL,
    receipt_no TEXT NOT NULL,
    event_ids TEXT NOT NULL,
    slip_stamps INTEGER NOT NULL,
    credited INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    settled_at TEXT,
    credit_event_id TEXT
);
CREATE INDEX claims_card ON claims(card_id);
CREATE INDEX claimed_events_code ON claimed_events(code_sha256);
""",
    ),
    (
        4,
        """
INSERT INTO counters (name, value)
    SELECT 'shop:' || id, (SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = 'version')
    FROM shops WHERE true
    ON CONFLICT(name) DO NOTHING;
UPDATE counters SET name = 'duplicates:' WHERE name = 'duplicates';
""",
    ),
    (
        5,
        """
ALTER TABLE events ADD COLUMN voucher_id TEXT;
ALTER TABLE events ADD COLUMN staff_id TEXT;
ALTER TABLE events ADD COLUMN approver_id TEXT;
CREATE INDEX events_voucher ON events(voucher_id) WHERE voucher_id IS NOT NULL;
CREATE INDEX events_staff ON events(terminal_id, staff_id) WHERE staff_id IS NOT NULL;
CREATE TABLE vouchers (
    id TEXT PRIMARY KEY,
    face_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    campaign TEXT NOT NULL,
    city TEXT NOT NULL,
    kid TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    spent_cents INTEGER NOT NULL DEFAULT 0,
    overspent INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX vouchers_version ON vouchers(version);
CREATE INDEX vouchers_campaign ON vouchers(campaign);
CREATE TABLE card_flags (
    card_id TEXT PRIMARY KEY,
    reasons TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX card_flags_version ON card_flags(version);
""",
    ),
    (
        6,
        """
CREATE INDEX events_voucher_received ON events(shop_id, received_at, pseq)
    WHERE voucher_id IS NOT NULL;
CREATE INDEX events_voucher_occurred ON events(shop_id, occurred_at, pseq)
    WHERE voucher_id IS NOT NULL;
CREATE INDEX events_voucher_books ON events(voucher_id, kind, amount_cents)
    WHERE voucher_id IS NOT NULL;
""",
    ),
    (
        7,
        """
CREATE INDEX events_card_city_time ON events(card_id, occurred_at) WHERE card_id IS NOT NULL;
CREATE TABLE staff_days (
    terminal_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    day TEXT NOT NULL,
    events BIGINT NOT NULL DEFAULT 0,
    voids BIGINT NOT NULL DEFAULT 0,
    flagged_at TEXT,
    PRIMARY KEY (terminal_id, staff_id, day)
);
CREATE INDEX staff_days_flagged ON staff_days(day, terminal_id, staff_id)
    WHERE flagged_at IS NOT NULL;
""",
    ),
    (
        8,
        """
ALTER TABLE card_flags ADD COLUMN cleared_at TEXT;
CREATE TABLE card_flag_clearings (
    card_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    cleared_at TEXT NOT NULL,
    cleared_by TEXT NOT NULL,
    why TEXT NOT NULL DEFAULT '',
    reasons TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_pseq BIGINT NOT NULL,
    PRIMARY KEY (card_id, version)
);
""",
    ),
    (
        9,
        """
ALTER TABLE vouchers ADD COLUMN key TEXT;
CREATE UNIQUE INDEX vouchers_key ON vouchers(key);
""",
    ),
)

POSTGRES: Final[tuple[tuple[int, str], ...]] = (
    (
        1,
        """
CREATE TABLE shops (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE terminals (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops(id),
    public_key TEXT,
    pairing_hash TEXT UNIQUE,
    credential_hash TEXT UNIQUE,
    created_at TEXT NOT NULL,
    paired_at TEXT,
    last_seen_at TEXT
);
CREATE TABLE events (
    pseq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    shop_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    card_id TEXT,
    program_id TEXT NOT NULL,
    stamps BIGINT NOT NULL,
    amount_cents BIGINT,
    currency TEXT,
    voids TEXT,
    receipt_no TEXT,
    detail TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    overdraft INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_card ON events(shop_id, card_id);
CREATE INDEX events_overdraft ON events(overdraft) WHERE overdraft = 1;
CREATE TABLE balances (
    shop_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    card_id TEXT NOT NULL,
    stamps BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (shop_id, program_id, card_id)
);
CREATE INDEX balances_version ON balances(shop_id, version);
CREATE TABLE programs (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (shop_id, id)
);
CREATE TABLE cards (
    id TEXT PRIMARY KEY,
    issued_at TEXT NOT NULL,
    expires_days INTEGER
);
CREATE TABLE revoked (
    card_id TEXT PRIMARY KEY,
    revoked_at TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE claimed_events (
    event_id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    receipt_no TEXT NOT NULL,
    card_id TEXT NOT NULL,
    stamps BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    code_sha256 TEXT NOT NULL,
    claimed_at TEXT NOT NULL
);
""",
    ),
    (
        2,
        """
ALTER TABLE events ADD COLUMN digest TEXT;
ALTER TABLE events ADD COLUMN flags TEXT NOT NULL DEFAULT '';
CREATE TABLE terminal_keys (
    terminal_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    paired_at TEXT NOT NULL,
    PRIMARY KEY (terminal_id, public_key)
);
CREATE INDEX events_voids ON events(voids) WHERE voids IS NOT NULL;
CREATE INDEX events_card_time ON events(shop_id, card_id, occurred_at);
CREATE INDEX revoked_version ON revoked(version);
CREATE INDEX programs_version ON programs(shop_id, version);
CREATE TABLE program_versions (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (shop_id, id, version)
);
""",
    ),
    (
        3,
        """
CREATE TABLE claims (
    id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    shop_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    card_id TEXT NOT NULL,
    receipt_no TEXT NOT NULL,
    event_ids TEXT NOT NULL,
    slip_stamps BIGINT NOT NULL,
    credited BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    settled_at TEXT,
    credit_event_id TEXT
);
CREATE INDEX claims_card ON claims(card_id);
CREATE INDEX claimed_events_code ON claimed_events(code_sha256);
""",
    ),
    (
        4,
        """
INSERT INTO counters (name, value)
    SELECT 'shop:' || id, (SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = 'version')
    FROM shops WHERE true
    ON CONFLICT(name) DO NOTHING;
UPDATE counters SET name = 'duplicates:' WHERE name = 'duplicates';
""",
    ),
    (
        5,
        """
ALTER TABLE events ADD COLUMN voucher_id TEXT;
ALTER TABLE events ADD COLUMN staff_id TEXT;
ALTER TABLE events ADD COLUMN approver_id TEXT;
CREATE INDEX events_voucher ON events(voucher_id) WHERE voucher_id IS NOT NULL;
CREATE INDEX events_staff ON events(terminal_id, staff_id) WHERE staff_id IS NOT NULL;
CREATE TABLE vouchers (
    id TEXT PRIMARY KEY,
    face_cents BIGINT NOT NULL,
    currency TEXT NOT NULL,
    campaign TEXT NOT NULL,
    city TEXT NOT NULL,
    kid TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    spent_cents BIGINT NOT NULL DEFAULT 0,
    overspent INTEGER NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX vouchers_version ON vouchers(version);
CREATE INDEX vouchers_campaign ON vouchers(campaign);
CREATE TABLE card_flags (
    card_id TEXT PRIMARY KEY,
    reasons TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX card_flags_version ON card_flags(version);
""",
    ),
    (
        6,
        """
CREATE INDEX events_voucher_received ON events(shop_id, received_at, pseq)
    WHERE voucher_id IS NOT NULL;
CREATE INDEX events_voucher_occurred ON events(shop_id, occurred_at, pseq)
    WHERE voucher_id IS NOT NULL;
CREATE INDEX events_voucher_books ON events(voucher_id, kind, amount_cents)
    WHERE voucher_id IS NOT NULL;
""",
    ),
    (
        7,
        """
CREATE INDEX events_card_city_time ON events(card_id, occurred_at) WHERE card_id IS NOT NULL;
CREATE TABLE staff_days (
    terminal_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    day TEXT NOT NULL,
    events BIGINT NOT NULL DEFAULT 0,
    voids BIGINT NOT NULL DEFAULT 0,
    flagged_at TEXT,
    PRIMARY KEY (terminal_id, staff_id, day)
);
CREATE INDEX staff_days_flagged ON staff_days(day, terminal_id, staff_id)
    WHERE flagged_at IS NOT NULL;
""",
    ),
    (
        8,
        """
ALTER TABLE card_flags ADD COLUMN cleared_at TEXT;
CREATE TABLE card_flag_clearings (
    card_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    cleared_at TEXT NOT NULL,
    cleared_by TEXT NOT NULL,
    why TEXT NOT NULL DEFAULT '',
    reasons TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_pseq BIGINT NOT NULL,
    PRIMARY KEY (card_id, version)
);
""",
    ),
    (
        9,
        """
ALTER TABLE vouchers ADD COLUMN key TEXT;
CREATE UNIQUE INDEX vouchers_key ON vouchers(key);
""",
    ),
)

KEYED_VOUCHERS: Final = 9
"""The migration adding ``vouchers.key``; the stores fill it for older rows right after it
(``city.vouchers.backfill_keys``: the key is a scrypt hash, which neither SQL has)."""

TABLES: Final = (
    "shops",
    "terminals",
    "terminal_keys",
    "events",
    "balances",
    "programs",
    "program_versions",
    "cards",
    "revoked",
    "counters",
    "claimed_events",
    "claims",
    "vouchers",
    "card_flags",
    "staff_days",
    "card_flag_clearings",
)
"""Every table of the platform, in an order that respects references (for ``migrate``)."""


def statements(script: str) -> list[str]:
    """A migration's statements (no statement holds a semicolon inside a literal)."""
    return [part.strip() for part in script.split(";") if part.strip()]
