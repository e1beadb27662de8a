"""The ledger's tables, as registered migrations. Importing this module registers them.

This schema is the contract between ``loyalty`` (events, balances), ``sync`` (outbox,
confirmed balances, keys, revocations, programs) and ``receipts``.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from loyalty.db import migration, run_script
from loyalty.vouchers import voucher_key


@migration("0001_ledger")
def _ledger(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- Append-only. A row is never updated or deleted; a mistake is cancelled by a void.
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- local sequence number, per terminal
            id TEXT NOT NULL UNIQUE,                 -- UUIDv7 made here, never changes
            kind TEXT NOT NULL CHECK (kind IN ('stamp', 'purchase', 'redeem', 'void', 'enroll')),
            terminal_id TEXT NOT NULL,
            shop_id TEXT NOT NULL,
            occurred_at TEXT NOT NULL,               -- terminal's UTC clock, ISO 8601 ...Z
            card_id TEXT,                            -- NULL only for an anonymous purchase
            program_id TEXT NOT NULL,
            stamps INTEGER NOT NULL DEFAULT 0,       -- signed stamp delta
            amount_cents INTEGER,                    -- purchases (and their voids); never a float
            currency TEXT,
            voids TEXT REFERENCES events(id),        -- the event a void cancels
            receipt_no TEXT UNIQUE,                  -- <terminal>-<seq>
            detail TEXT NOT NULL DEFAULT '{}'        -- JSON: rule explanation, reward name
        );
        CREATE UNIQUE INDEX events_one_void ON events(voids) WHERE voids IS NOT NULL;
        CREATE INDEX events_card ON events(card_id, seq);
        CREATE INDEX events_time ON events(occurred_at);

        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

        -- The fold of events per card, kept in the same transaction as each event.
        CREATE TABLE balances (
            card_id TEXT PRIMARY KEY,
            stamps INTEGER NOT NULL DEFAULT 0,
            events INTEGER NOT NULL DEFAULT 0,
            last_stamp_at TEXT,
            updated_at TEXT NOT NULL
        );

        -- Sync bookkeeping, one row per event: pending -> in_flight -> synced | quarantined.
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY REFERENCES events(seq),
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'in_flight', 'synced', 'quarantined')),
            batch_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            reason TEXT,                             -- why the platform rejected it
            updated_at TEXT
        );
        CREATE INDEX outbox_state ON outbox(state, seq);

        -- What the platform confirmed, per card, at a pull.
        CREATE TABLE confirmed_balances (
            card_id TEXT PRIMARY KEY,
            stamps INTEGER NOT NULL,
            confirmed_at TEXT NOT NULL,              -- local UTC time of the pull
            platform_seq INTEGER                     -- the platform's own version, if it sends one
        );

        -- Issuer public keys that card codes are verified with.
        CREATE TABLE issuer_keys (
            kid TEXT PRIMARY KEY,
            issuer TEXT NOT NULL,
            public_key BLOB NOT NULL,                -- raw 32-byte Ed25519 public key
            added_at TEXT NOT NULL
        );

        CREATE TABLE revoked_cards (
            card_id TEXT PRIMARY KEY,
            revoked_at TEXT NOT NULL
        );

        -- Programs and campaigns sent by the platform (JSON, validated by loyalty.programs).
        CREATE TABLE programs (
            id TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- Small facts: trust_version, sync_cursor, last_good_sync, clock_offset_seconds, ...
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,                            -- ok, quarantined, unreachable, auth, config
            sent INTEGER NOT NULL DEFAULT 0,
            accepted INTEGER NOT NULL DEFAULT 0,
            duplicate INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            message TEXT
        );
        """,
    )


@migration("0002_ledger_pending")
def _ledger_pending(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- The stamp delta of a card's events the platform has not accepted yet, kept by the
        -- triggers below whoever moves an outbox row, so a balance lookup never folds a
        -- card's whole history.
        ALTER TABLE balances ADD COLUMN unsynced INTEGER NOT NULL DEFAULT 0;
        -- The event's card on its outbox row: "synced after the last confirmation" of one
        -- card is then an index range, not a scan.
        ALTER TABLE outbox ADD COLUMN card_id TEXT;
        UPDATE outbox SET card_id = (SELECT card_id FROM events WHERE events.seq = outbox.seq);
        UPDATE balances SET unsynced = COALESCE((
            SELECT SUM(e.stamps) FROM events e JOIN outbox o ON o.seq = e.seq
            WHERE e.card_id = balances.card_id AND o.state != 'synced'), 0);
        CREATE INDEX outbox_card_synced ON outbox(card_id, updated_at) WHERE state = 'synced';
        CREATE INDEX events_card_time ON events(card_id, occurred_at);
        CREATE INDEX events_kind_time ON events(kind, occurred_at);

        CREATE TRIGGER outbox_unsynced_insert AFTER INSERT ON outbox
        WHEN NEW.card_id IS NOT NULL AND NEW.state != 'synced'
        BEGIN
            UPDATE balances
            SET unsynced = unsynced + (SELECT stamps FROM events WHERE seq = NEW.seq)
            WHERE card_id = NEW.card_id;
        END;
        CREATE TRIGGER outbox_unsynced_update AFTER UPDATE OF state ON outbox
        WHEN NEW.card_id IS NOT NULL AND (OLD.state = 'synced') != (NEW.state = 'synced')
        BEGIN
            UPDATE balances SET unsynced = unsynced
                + (CASE WHEN NEW.state = 'synced' THEN -1 ELSE 1 END)
                * (SELECT stamps FROM events WHERE seq = NEW.seq)
            WHERE card_id = NEW.card_id;
        END;
        CREATE TRIGGER outbox_unsynced_delete AFTER DELETE ON outbox
        WHEN OLD.card_id IS NOT NULL AND OLD.state != 'synced'
        BEGIN
            UPDATE balances
            SET unsynced = unsynced - (SELECT stamps FROM events WHERE seq = OLD.seq)
            WHERE card_id = OLD.card_id;
        END;
        """,
    )


@migration("0003_sync_confirmed_programs")
def _sync_confirmed_programs(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- What the platform confirmed per card and program; confirmed_balances holds the
        -- card's sum over programs (what the counter shows), kept by sync.puller.
        CREATE TABLE confirmed_program_balances (
            card_id TEXT NOT NULL,
            program_id TEXT NOT NULL,
            stamps INTEGER NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (card_id, program_id)
        );
        """,
    )


@migration("0004_ledger_sync_sequence")
def _ledger_sync_sequence(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- "Synced after the last confirmation" by a local sequence, not by comparing two
        -- wall-clock readings (outbox.updated_at, confirmed_balances.confirmed_at): a clock
        -- set back or forward between a push and a pull would count a card's stamps twice
        -- or not at all. Each outbox row turning synced and each stored confirmation takes
        -- the next number, whoever writes them (triggers).
        CREATE TABLE sync_sequence (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            n INTEGER NOT NULL
        );
        INSERT INTO sync_sequence (id, n) VALUES (1, 2);
        ALTER TABLE outbox ADD COLUMN synced_mark INTEGER;
        ALTER TABLE confirmed_balances ADD COLUMN mark INTEGER;
        -- Rows from before: the old clock comparison, once, decides which side they are on.
        UPDATE confirmed_balances SET mark = 1;
        UPDATE outbox SET synced_mark = CASE WHEN updated_at > (
                SELECT c.confirmed_at FROM confirmed_balances c WHERE c.card_id = outbox.card_id)
            THEN 2 ELSE 0 END
        WHERE state = 'synced';
        CREATE INDEX outbox_card_synced_mark ON outbox(card_id, synced_mark)
            WHERE state = 'synced';

        CREATE TRIGGER outbox_synced_mark_update AFTER UPDATE OF state ON outbox
        WHEN NEW.state = 'synced' AND OLD.state != 'synced'
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE outbox SET synced_mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE seq = NEW.seq;
        END;
        CREATE TRIGGER outbox_synced_mark_insert AFTER INSERT ON outbox
        WHEN NEW.state = 'synced'
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE outbox SET synced_mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE seq = NEW.seq;
        END;
        CREATE TRIGGER confirmed_mark_insert AFTER INSERT ON confirmed_balances
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE confirmed_balances SET mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE card_id = NEW.card_id;
        END;
        CREATE TRIGGER confirmed_mark_update
        AFTER UPDATE OF stamps, confirmed_at, platform_seq ON confirmed_balances
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE confirmed_balances SET mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE card_id = NEW.card_id;
        END;
        """,
    )


@migration("0005_ledger_vouchers_staff")
def _ledger_vouchers_staff(db: sqlite_utils.Database) -> None:
    """Widen ``events.kind`` to ``voucher_spend``; name the voucher, the staff and the approver.

    SQLite cannot change a CHECK constraint with ALTER TABLE. A rebuild would copy every event
    (minutes on a big ledger, at the app's start) and, with foreign keys on, cannot rename the
    table aside without the outbox following it. Widening the list of allowed values changes
    nothing on disk, so the table's definition is edited in place, the documented way
    (sqlite.org/lang_altertable.html, "making other kinds of table schema changes"): in the
    migration's transaction, with the schema version bumped so every connection re-reads it.
    """
    (sql,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'"
    ).fetchone()
    old = "CHECK (kind IN ('stamp', 'purchase', 'redeem', 'void', 'enroll'))"
    new = "CHECK (kind IN ('stamp', 'purchase', 'redeem', 'void', 'enroll', 'voucher_spend'))"
    if sql.count(old) != 1:
        raise sqlite3.DatabaseError("the events table is not the one migration 0005 expects")
    (version,) = db.execute("PRAGMA schema_version").fetchone()
    db.execute("PRAGMA writable_schema = ON")
    try:
        db.execute(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'events'",
            [sql.replace(old, new)],
        )
        db.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        db.execute("PRAGMA writable_schema = OFF")
    run_script(
        db,
        """
        ALTER TABLE events ADD COLUMN voucher_id TEXT;   -- voucher_spend and its void
        ALTER TABLE events ADD COLUMN staff_id TEXT;     -- who recorded it (an id, not a name)
        ALTER TABLE events ADD COLUMN approver_id TEXT;  -- the manager who approved it
        CREATE INDEX events_voucher ON events(voucher_id, seq) WHERE voucher_id IS NOT NULL;
        CREATE INDEX events_staff_time ON events(staff_id, occurred_at)
            WHERE staff_id IS NOT NULL;
        """,
    )


@migration("0006_vouchers")
def _vouchers(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- City vouchers as the platform's updates bring them (sync.protocol.VoucherState):
        -- what was spent city-wide at that confirmation and whether the city revoked it.
        -- loyalty.voucher_book adds this terminal's spends the confirmation does not hold
        -- yet: those synced after it by the local sequence (outbox.synced_mark > mark) or not
        -- synced at all, exactly as confirmed_balances.mark works for cards (0004).
        CREATE TABLE voucher_states (
            voucher_id TEXT PRIMARY KEY,
            face_cents INTEGER NOT NULL,
            currency TEXT NOT NULL,
            expires_at TEXT NOT NULL,                -- UTC ISO 8601
            campaign TEXT NOT NULL DEFAULT '',
            spent_cents INTEGER NOT NULL,            -- city-wide, voids netted
            revoked_at TEXT,                         -- set: never spent again here
            version INTEGER NOT NULL,                -- the platform's; an older one never wins
            mark INTEGER                             -- local sync sequence at storing (trigger)
        );
        CREATE TRIGGER voucher_states_mark_insert AFTER INSERT ON voucher_states
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE voucher_states SET mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE voucher_id = NEW.voucher_id;
        END;
        CREATE TRIGGER voucher_states_mark_update
        AFTER UPDATE OF face_cents, currency, expires_at, campaign, spent_cents, revoked_at,
            version ON voucher_states
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE voucher_states SET mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE voucher_id = NEW.voucher_id;
        END;
        """,
    )


@migration("0007_staff")
def _staff(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- Staff accounts (loyalty.staff). Never deleted: events name their ids forever, so a
        -- removal sets removed_at. The PIN is kept only as scrypt$n$r$p$salt$hash.
        CREATE TABLE staff (
            id TEXT PRIMARY KEY,                     -- st-<random>, what events name
            name TEXT NOT NULL,                      -- as shown (1-40 chars, no controls)
            name_key TEXT NOT NULL,                  -- case-folded name, for lookups
            role TEXT NOT NULL CHECK (role IN ('cashier', 'manager')),
            pin_hash TEXT NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,     -- wrong PINs in a row
            locked INTEGER NOT NULL DEFAULT 0,       -- 1 after max_failures, until unlocked
            next_try_at TEXT,                        -- no try before this (UTC), NULL: now
            created_at TEXT NOT NULL,
            removed_at TEXT
        );
        -- One active account per name, whatever its case; a removed one frees its name.
        CREATE UNIQUE INDEX staff_name ON staff(name_key) WHERE removed_at IS NULL;
        """,
    )


@migration("0008_card_flags")
def _card_flags(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- Cards the city flagged (fraud signals seen across shops, city.fraud), as the
        -- platform's updates bring them: the counter warns when one is scanned, never blocks.
        CREATE TABLE card_flags (
            card_id TEXT PRIMARY KEY,
            reasons TEXT NOT NULL,                   -- comma-separated codes (velocity, ...)
            flagged_at TEXT NOT NULL,                -- when the city first flagged it
            version INTEGER NOT NULL                 -- the platform's; an older one never wins
        );
        """,
    )


@migration("0009_synced_mark_once")
def _synced_mark_once(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- An outbox row keeps the mark of the first time it turned synced. `sync --resend-all`
        -- sets rows pending again and the platform answers `duplicate`: renumbering them then
        -- made every event a confirmation already held look "synced after it", so a card's
        -- stamps and a voucher's spends counted twice until the platform happened to send a
        -- newer confirmation (an unchanged voucher never is). The first mark is right whether
        -- the platform had the event (its confirmations after that mark hold it) or lost it
        -- (its next confirmation is stored later, with a higher mark).
        DROP TRIGGER outbox_synced_mark_update;
        CREATE TRIGGER outbox_synced_mark_update AFTER UPDATE OF state ON outbox
        WHEN NEW.state = 'synced' AND OLD.state != 'synced' AND NEW.synced_mark IS NULL
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE outbox SET synced_mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE seq = NEW.seq;
        END;
        """,
    )


@migration("0010_unsynced_means_never_synced")
def _unsynced_means_never_synced(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- balances.unsynced counts the stamps of a card's events the platform never accepted
        -- (no synced_mark). `sync --resend-all` sets synced rows pending again; they keep their
        -- first mark (0009) and must not count as unsynced as well as in the confirmation that
        -- holds them, or a card's balance doubles until the resent push is answered.
        DROP TRIGGER outbox_unsynced_update;
        CREATE TRIGGER outbox_unsynced_update AFTER UPDATE OF state ON outbox
        WHEN NEW.card_id IS NOT NULL AND OLD.synced_mark IS NULL
            AND (OLD.state = 'synced') != (NEW.state = 'synced')
        BEGIN
            UPDATE balances SET unsynced = unsynced
                + (CASE WHEN NEW.state = 'synced' THEN -1 ELSE 1 END)
                * (SELECT stamps FROM events WHERE seq = NEW.seq)
            WHERE card_id = NEW.card_id;
        END;
        DROP TRIGGER outbox_unsynced_delete;
        CREATE TRIGGER outbox_unsynced_delete AFTER DELETE ON outbox
        WHEN OLD.card_id IS NOT NULL AND OLD.synced_mark IS NULL AND OLD.state != 'synced'
        BEGIN
            UPDATE balances
            SET unsynced = unsynced - (SELECT stamps FROM events WHERE seq = OLD.seq)
            WHERE card_id = OLD.card_id;
        END;
        -- A card's rows synced after a confirmation, whatever their state now (a balance
        -- lookup is an index range, not a scan of the outbox).
        CREATE INDEX outbox_card_mark ON outbox(card_id, synced_mark)
            WHERE synced_mark IS NOT NULL;
        -- Rows resent before this migration were counted as unsynced when they left synced.
        UPDATE balances SET unsynced = COALESCE((
            SELECT SUM(e.stamps) FROM events e JOIN outbox o ON o.seq = e.seq
            WHERE e.card_id = balances.card_id AND o.synced_mark IS NULL), 0);
        """,
    )


@migration("0011_voucher_keys")
def _voucher_keys(db: sqlite_utils.Database) -> None:
    # The feed names a voucher by its key (loyalty.vouchers.voucher_key, a slow salted hash of
    # its id), never by its id: an id is enough to spend a voucher and every terminal gets
    # every voucher. Rows pulled before hold clear ids: they are re-keyed here and the clear
    # ids dropped, their pages overwritten (secure_delete), keeping each row's mark.
    rows = db.execute(
        "SELECT voucher_id, face_cents, currency, expires_at, campaign, spent_cents, "
        "revoked_at, version, mark FROM voucher_states"
    ).fetchall()
    secure = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA secure_delete = ON")
    run_script(
        db,
        """
        DROP TABLE voucher_states;
        CREATE TABLE voucher_states (
            voucher_key TEXT PRIMARY KEY,            -- loyalty.vouchers.voucher_key(id)
            face_cents INTEGER NOT NULL,
            currency TEXT NOT NULL,
            expires_at TEXT NOT NULL,                -- UTC ISO 8601
            campaign TEXT NOT NULL DEFAULT '',
            spent_cents INTEGER NOT NULL,            -- city-wide, voids netted
            revoked_at TEXT,                         -- set: never spent again here
            version INTEGER NOT NULL,                -- the platform's; an older one never wins
            mark INTEGER                             -- local sync sequence at storing (trigger)
        );
        """,
    )
    db.execute(f"PRAGMA secure_delete = {int(secure)}")
    # Before the triggers: a re-keyed row keeps the mark its confirmation was stored with.
    db.conn.executemany(
        "INSERT INTO voucher_states (voucher_key, face_cents, currency, expires_at, campaign, "
        "spent_cents, revoked_at, version, mark) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(voucher_key) DO NOTHING",
        [(voucher_key(str(r[0])), *r[1:]) for r in rows],
    )
    run_script(
        db,
        """
        CREATE TRIGGER voucher_states_mark_insert AFTER INSERT ON voucher_states
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE voucher_states SET mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE voucher_key = NEW.voucher_key;
        END;
        CREATE TRIGGER voucher_states_mark_update
        AFTER UPDATE OF face_cents, currency, expires_at, campaign, spent_cents, revoked_at,
            version ON voucher_states
        BEGIN
            UPDATE sync_sequence SET n = n + 1 WHERE id = 1;
            UPDATE voucher_states SET mark = (SELECT n FROM sync_sequence WHERE id = 1)
            WHERE voucher_key = NEW.voucher_key;
        END;
        """,
    )
