#include "barge/catalog/schema.hpp"

#include "barge/catalog/database.hpp"
#include "barge/util/error.hpp"

#include <fmt/format.h>
#include <map>
#include <set>

namespace barge {

namespace {

// Version 1. The design is documented in docs/catalog.md; keep the two in step.
const char* const schema_v1 = R"sql(
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE pairs (
    id                INTEGER PRIMARY KEY,
    uuid              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL UNIQUE,
    source            BLOB NOT NULL,
    dest              BLOB NOT NULL,
    reserve           TEXT NOT NULL,
    on_delete         TEXT NOT NULL CHECK (on_delete IN ('keep', 'trash')),
    retention_days    INTEGER NOT NULL CHECK (retention_days >= 0),
    mass_change_limit REAL NOT NULL CHECK (mass_change_limit BETWEEN 0 AND 100),
    source_marker     INTEGER NOT NULL CHECK (source_marker IN (0, 1)),
    created_ns        INTEGER NOT NULL,
    dest_claimed_ns   INTEGER,
    scan_gen          INTEGER NOT NULL DEFAULT 0,
    last_scan_ns      INTEGER
) STRICT;

CREATE TABLE excludes (
    pair_id  INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    pattern  TEXT NOT NULL,
    PRIMARY KEY (pair_id, position)
) STRICT;

CREATE TABLE contents (
    id     INTEGER PRIMARY KEY,
    hash   BLOB NOT NULL UNIQUE CHECK (length(hash) = 64),
    size   INTEGER NOT NULL CHECK (size >= 0),
    pieces INTEGER CHECK (pieces >= 0)
) STRICT;

CREATE TABLE pieces (
    id          INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE CHECK (length(hash) = 64),
    size        INTEGER NOT NULL CHECK (size >= 0),
    on_cargo    INTEGER NOT NULL DEFAULT 0 CHECK (on_cargo IN (0, 1)),
    loaded_ns   INTEGER,
    verified_ns INTEGER
) STRICT;

CREATE TABLE content_pieces (
    content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL CHECK (idx >= 0),
    piece_id   INTEGER NOT NULL REFERENCES pieces(id),
    offset     INTEGER NOT NULL CHECK (offset >= 0),
    PRIMARY KEY (content_id, idx)
) STRICT, WITHOUT ROWID;
CREATE INDEX content_pieces_piece ON content_pieces(piece_id);

CREATE TABLE entries (
    id           INTEGER PRIMARY KEY,
    pair_id      INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    parent       BLOB NOT NULL,
    name         BLOB NOT NULL,
    kind         INTEGER CHECK (kind IN (1, 2, 3)),
    mode         INTEGER NOT NULL DEFAULT 0,
    uid          INTEGER NOT NULL DEFAULT 0,
    gid          INTEGER NOT NULL DEFAULT 0,
    size         INTEGER NOT NULL DEFAULT 0,
    mtime_ns     INTEGER NOT NULL DEFAULT 0,
    ctime_ns     INTEGER NOT NULL DEFAULT 0,
    ino          INTEGER NOT NULL DEFAULT 0,
    dev          INTEGER NOT NULL DEFAULT 0,
    content_id   INTEGER REFERENCES contents(id),
    target       BLOB,
    racy         INTEGER NOT NULL DEFAULT 0 CHECK (racy IN (0, 1)),
    changed_gen  INTEGER NOT NULL DEFAULT 0,
    d_kind       INTEGER CHECK (d_kind IN (1, 2, 3)),
    d_mode       INTEGER,
    d_uid        INTEGER,
    d_gid        INTEGER,
    d_mtime_ns   INTEGER,
    d_content_id INTEGER REFERENCES contents(id),
    d_target     BLOB,
    d_verified_ns INTEGER,
    fail_count   INTEGER NOT NULL DEFAULT 0,
    fail_reason  TEXT,
    fail_ns      INTEGER,
    UNIQUE (pair_id, parent, name)
) STRICT;
CREATE INDEX entries_content ON entries(content_id);
CREATE INDEX entries_inode ON entries(pair_id, ino);
CREATE INDEX entries_d_content ON entries(d_content_id);

CREATE TABLE staged (
    pair_id    INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES contents(id),
    idx        INTEGER NOT NULL,
    PRIMARY KEY (pair_id, content_id, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE runs (
    id         INTEGER PRIMARY KEY,
    started_ns INTEGER NOT NULL,
    ended_ns   INTEGER,
    host       TEXT NOT NULL,
    command    TEXT NOT NULL,
    side       TEXT NOT NULL,
    pairs      TEXT NOT NULL,
    exit_code  INTEGER,
    files      INTEGER NOT NULL DEFAULT 0,
    bytes      INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    summary    TEXT NOT NULL DEFAULT ''
) STRICT;
)sql";

// Version 2: what barge 0.2 adds (docs/catalog.md, "Schema history").
const char* const schema_v2 = R"sql(
-- The mass-change brake's second condition (SPEC §7.6): at least this many files.
ALTER TABLE pairs ADD COLUMN mass_change_min INTEGER NOT NULL DEFAULT 100 CHECK (mass_change_min >= 0);
-- Where (/etc/machine-id) and when each endpoint's marker was last seen (SPEC §4).
ALTER TABLE pairs ADD COLUMN source_machine TEXT;
ALTER TABLE pairs ADD COLUMN source_seen_ns INTEGER;
ALTER TABLE pairs ADD COLUMN dest_machine TEXT;
ALTER TABLE pairs ADD COLUMN dest_seen_ns INTEGER;
-- verify-destination found the delivered copy damaged or missing: it is carried
-- again, and checked again by every verify-destination until it is repaired.
ALTER TABLE entries ADD COLUMN d_damaged INTEGER NOT NULL DEFAULT 0 CHECK (d_damaged IN (0, 1));
-- What each run did per pair (status, status --check, status --metrics).
CREATE TABLE run_pairs (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    pair_id   INTEGER NOT NULL,
    side      TEXT NOT NULL CHECK (side IN ('source', 'destination', 'drive')),
    exit_code INTEGER NOT NULL,
    files     INTEGER NOT NULL DEFAULT 0,
    bytes     INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, pair_id, side)
) STRICT, WITHOUT ROWID;
CREATE INDEX run_pairs_pair ON run_pairs(pair_id, side, run_id);
)sql";

// Version 3: status, log, rescans and verify samples without a pass over every entry
// (SPEC §8, issue 15).
const char* const schema_v3 = R"sql(
-- verify-destination --sample/--max-time takes the least recently verified
-- delivered files in this order: read from the index, not sorted from a full pass.
CREATE INDEX entries_verify ON entries(pair_id, coalesce(d_verified_ns, 0), id) WHERE d_kind = 1;
-- status reads what waits, travels or failed (once a tree is delivered, few)
-- from this index, never every entry; its condition is NOT sql_delivered
-- (src/catalog/transit.cpp), term for term: a partial index serves a query only
-- if the query repeats it (status_store.cpp names the index: INDEXED BY).
CREATE INDEX entries_undelivered ON entries(pair_id) WHERE kind IN (1, 3) AND NOT
    (d_kind IS NOT NULL AND d_kind IS kind AND d_mode IS mode AND d_mtime_ns IS mtime_ns AND
     d_target IS target AND d_damaged = 0 AND
     (kind IS NOT 1 OR (content_id IS NOT NULL AND d_content_id IS content_id)));
CREATE INDEX entries_failed ON entries(pair_id, fail_ns) WHERE fail_reason IS NOT NULL;
-- Entries gone from the source: deletions to deliver, or rows a scan drops.
CREATE INDEX entries_gone ON entries(pair_id) WHERE kind IS NULL;
CREATE INDEX pieces_cargo ON pieces(size) WHERE on_cargo = 1;
-- Per pair, the files and symlinks delivered (their number, and the files' bytes),
-- kept by the triggers below in the same statement as every write of entries:
-- status reads them instead of every entry (SPEC §8). "Delivered" is
-- sql_delivered (src/catalog/transit.cpp), term for term; verify-middle recounts
-- (tests/unit/catalog/status_store_test.cpp compares them with a full count).
CREATE TABLE pair_delivered (
    pair_id INTEGER PRIMARY KEY REFERENCES pairs(id) ON DELETE CASCADE,
    files   INTEGER NOT NULL DEFAULT 0,
    bytes   INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO pair_delivered(pair_id, files, bytes)
    SELECT e.pair_id, count(*), sum(CASE WHEN e.kind = 1 THEN e.size ELSE 0 END) FROM entries e
    WHERE e.kind IN (1, 3) AND e.d_kind IS NOT NULL AND e.d_kind IS e.kind AND e.d_mode IS e.mode AND e.d_mtime_ns IS e.mtime_ns AND e.d_target IS e.target AND e.d_damaged = 0 AND (e.kind IS NOT 1 OR (e.content_id IS NOT NULL AND e.d_content_id IS e.content_id))
    GROUP BY e.pair_id;
CREATE TRIGGER entries_delivered_insert AFTER INSERT ON entries
WHEN NEW.kind IN (1, 3) AND NEW.d_kind IS NOT NULL AND NEW.d_kind IS NEW.kind AND NEW.d_mode IS NEW.mode AND NEW.d_mtime_ns IS NEW.mtime_ns AND NEW.d_target IS NEW.target AND NEW.d_damaged = 0 AND (NEW.kind IS NOT 1 OR (NEW.content_id IS NOT NULL AND NEW.d_content_id IS NEW.content_id))
BEGIN
    INSERT INTO pair_delivered(pair_id, files, bytes) VALUES (NEW.pair_id, 1, CASE WHEN NEW.kind = 1 THEN NEW.size ELSE 0 END)
        ON CONFLICT(pair_id) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER entries_delivered_delete AFTER DELETE ON entries
WHEN OLD.kind IN (1, 3) AND OLD.d_kind IS NOT NULL AND OLD.d_kind IS OLD.kind AND OLD.d_mode IS OLD.mode AND OLD.d_mtime_ns IS OLD.mtime_ns AND OLD.d_target IS OLD.target AND OLD.d_damaged = 0 AND (OLD.kind IS NOT 1 OR (OLD.content_id IS NOT NULL AND OLD.d_content_id IS OLD.content_id))
BEGIN
    UPDATE pair_delivered SET files = files - 1, bytes = bytes - (CASE WHEN OLD.kind = 1 THEN OLD.size ELSE 0 END) WHERE pair_id = OLD.pair_id;
END;
CREATE TRIGGER entries_delivered_update AFTER UPDATE ON entries
WHEN (OLD.kind IN (1, 3) AND OLD.d_kind IS NOT NULL AND OLD.d_kind IS OLD.kind AND OLD.d_mode IS OLD.mode AND OLD.d_mtime_ns IS OLD.mtime_ns AND OLD.d_target IS OLD.target AND OLD.d_damaged = 0 AND (OLD.kind IS NOT 1 OR (OLD.content_id IS NOT NULL AND OLD.d_content_id IS OLD.content_id))) IS NOT (NEW.kind IN (1, 3) AND NEW.d_kind IS NOT NULL AND NEW.d_kind IS NEW.kind AND NEW.d_mode IS NEW.mode AND NEW.d_mtime_ns IS NEW.mtime_ns AND NEW.d_target IS NEW.target AND NEW.d_damaged = 0 AND (NEW.kind IS NOT 1 OR (NEW.content_id IS NOT NULL AND NEW.d_content_id IS NEW.content_id)))
    OR ((NEW.kind IN (1, 3) AND NEW.d_kind IS NOT NULL AND NEW.d_kind IS NEW.kind AND NEW.d_mode IS NEW.mode AND NEW.d_mtime_ns IS NEW.mtime_ns AND NEW.d_target IS NEW.target AND NEW.d_damaged = 0 AND (NEW.kind IS NOT 1 OR (NEW.content_id IS NOT NULL AND NEW.d_content_id IS NEW.content_id))) AND (OLD.pair_id IS NOT NEW.pair_id OR (CASE WHEN OLD.kind = 1 THEN OLD.size ELSE 0 END) IS NOT (CASE WHEN NEW.kind = 1 THEN NEW.size ELSE 0 END)))
BEGIN
    UPDATE pair_delivered SET files = files - 1, bytes = bytes - (CASE WHEN OLD.kind = 1 THEN OLD.size ELSE 0 END)
        WHERE pair_id = OLD.pair_id AND OLD.kind IN (1, 3) AND OLD.d_kind IS NOT NULL AND OLD.d_kind IS OLD.kind AND OLD.d_mode IS OLD.mode AND OLD.d_mtime_ns IS OLD.mtime_ns AND OLD.d_target IS OLD.target AND OLD.d_damaged = 0 AND (OLD.kind IS NOT 1 OR (OLD.content_id IS NOT NULL AND OLD.d_content_id IS OLD.content_id));
    INSERT INTO pair_delivered(pair_id, files, bytes) SELECT NEW.pair_id, 1, CASE WHEN NEW.kind = 1 THEN NEW.size ELSE 0 END
        WHERE NEW.kind IN (1, 3) AND NEW.d_kind IS NOT NULL AND NEW.d_kind IS NEW.kind AND NEW.d_mode IS NEW.mode AND NEW.d_mtime_ns IS NEW.mtime_ns AND NEW.d_target IS NEW.target AND NEW.d_damaged = 0 AND (NEW.kind IS NOT 1 OR (NEW.content_id IS NOT NULL AND NEW.d_content_id IS NEW.content_id))
        ON CONFLICT(pair_id) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
)sql";

// Version 4: special files and extended attributes (SPEC §6, issue 12). kind
// takes FIFOs (4) and character (5) and block (6) devices, whose number is kept
// in target; xattrs and d_xattrs hold the attributes (fs/xattrs.hpp) at the
// source and as delivered. A CHECK cannot be altered in place: the table is
// rebuilt, and its indexes and triggers made again with the delivered condition
// that now compares the attributes and the owner too (a chown alone at the
// source was never delivered before).

// "Delivered" as sql_delivered (src/catalog/transit.cpp) says it, term for
// term, for the row named by r ("NEW.", "OLD.", "e." or "" for the table itself).
std::string delivered_v4(const std::string& r) {
    return fmt::format(
        "({r}d_kind IS NOT NULL AND {r}d_kind IS {r}kind AND {r}d_mode IS {r}mode AND "
        "{r}d_uid IS {r}uid AND {r}d_gid IS {r}gid AND {r}d_mtime_ns IS {r}mtime_ns AND "
        "{r}d_target IS {r}target AND {r}d_xattrs IS {r}xattrs AND {r}d_damaged = 0 AND ({r}kind IS NOT 1 OR ({r}content_id IS NOT NULL AND "
        "{r}d_content_id IS {r}content_id)))",
        fmt::arg("r", r));
}

// A file, symlink or special file (what status counts), delivered.
std::string counted_delivered_v4(const std::string& r) {
    return fmt::format("{r}kind != 2 AND {d}", fmt::arg("r", r),
                       fmt::arg("d", delivered_v4(r)));
}

std::string schema_v4() {
    const std::string columns =
        "id, pair_id, parent, name, kind, mode, uid, gid, size, mtime_ns, ctime_ns, ino, dev, "
        "content_id, target, racy, changed_gen, d_kind, d_mode, d_uid, d_gid, d_mtime_ns, "
        "d_content_id, d_target, d_verified_ns, fail_count, fail_reason, fail_ns, d_damaged";
    const std::string bytes = "CASE WHEN {r}kind = 1 THEN {r}size ELSE 0 END";
    auto size_of = [&](const std::string& r) { return fmt::format(fmt::runtime(bytes), fmt::arg("r", r)); };
    return fmt::format(R"sql(
-- Which attributes a whole scan read for every entry (Pair::xattr_scope); NULL
-- here: the first scan after this step reads them all.
ALTER TABLE pairs ADD COLUMN xattr_scope TEXT CHECK (xattr_scope IN ('user', 'root'));
CREATE TABLE entries_v4 (
    id           INTEGER PRIMARY KEY,
    pair_id      INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    parent       BLOB NOT NULL,
    name         BLOB NOT NULL,
    kind         INTEGER CHECK (kind IN (1, 2, 3, 4, 5, 6)),
    mode         INTEGER NOT NULL DEFAULT 0,
    uid          INTEGER NOT NULL DEFAULT 0,
    gid          INTEGER NOT NULL DEFAULT 0,
    size         INTEGER NOT NULL DEFAULT 0,
    mtime_ns     INTEGER NOT NULL DEFAULT 0,
    ctime_ns     INTEGER NOT NULL DEFAULT 0,
    ino          INTEGER NOT NULL DEFAULT 0,
    dev          INTEGER NOT NULL DEFAULT 0,
    content_id   INTEGER REFERENCES contents(id),
    target       BLOB,
    xattrs       BLOB,
    racy         INTEGER NOT NULL DEFAULT 0 CHECK (racy IN (0, 1)),
    changed_gen  INTEGER NOT NULL DEFAULT 0,
    d_kind       INTEGER CHECK (d_kind IN (1, 2, 3, 4, 5, 6)),
    d_mode       INTEGER,
    d_uid        INTEGER,
    d_gid        INTEGER,
    d_mtime_ns   INTEGER,
    d_content_id INTEGER REFERENCES contents(id),
    d_target     BLOB,
    d_xattrs     BLOB,
    d_verified_ns INTEGER,
    fail_count   INTEGER NOT NULL DEFAULT 0,
    fail_reason  TEXT,
    fail_ns      INTEGER,
    d_damaged    INTEGER NOT NULL DEFAULT 0 CHECK (d_damaged IN (0, 1)),
    UNIQUE (pair_id, parent, name)
) STRICT;
INSERT INTO entries_v4 ({columns}) SELECT {columns} FROM entries;
DROP TABLE entries;
ALTER TABLE entries_v4 RENAME TO entries;
CREATE INDEX entries_content ON entries(content_id);
CREATE INDEX entries_inode ON entries(pair_id, ino);
CREATE INDEX entries_d_content ON entries(d_content_id);
CREATE INDEX entries_verify ON entries(pair_id, coalesce(d_verified_ns, 0), id) WHERE d_kind = 1;
CREATE INDEX entries_undelivered ON entries(pair_id) WHERE kind != 2 AND NOT
    {table};
CREATE INDEX entries_failed ON entries(pair_id, fail_ns) WHERE fail_reason IS NOT NULL;
CREATE INDEX entries_gone ON entries(pair_id) WHERE kind IS NULL;
DELETE FROM pair_delivered;
INSERT INTO pair_delivered(pair_id, files, bytes)
    SELECT e.pair_id, count(*), sum({e_size}) FROM entries e WHERE {e} GROUP BY e.pair_id;
CREATE TRIGGER entries_delivered_insert AFTER INSERT ON entries
WHEN {new}
BEGIN
    INSERT INTO pair_delivered(pair_id, files, bytes) VALUES (NEW.pair_id, 1, {new_size})
        ON CONFLICT(pair_id) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER entries_delivered_delete AFTER DELETE ON entries
WHEN {old}
BEGIN
    UPDATE pair_delivered SET files = files - 1, bytes = bytes - ({old_size}) WHERE pair_id = OLD.pair_id;
END;
CREATE TRIGGER entries_delivered_update AFTER UPDATE ON entries
WHEN ({old}) IS NOT ({new})
    OR (({new}) AND (OLD.pair_id IS NOT NEW.pair_id OR ({old_size}) IS NOT ({new_size})))
BEGIN
    UPDATE pair_delivered SET files = files - 1, bytes = bytes - ({old_size})
        WHERE pair_id = OLD.pair_id AND {old};
    INSERT INTO pair_delivered(pair_id, files, bytes) SELECT NEW.pair_id, 1, {new_size}
        WHERE {new}
        ON CONFLICT(pair_id) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
)sql",
        fmt::arg("columns", columns), fmt::arg("table", delivered_v4("")),
        fmt::arg("e", counted_delivered_v4("e.")), fmt::arg("e_size", size_of("e.")),
        fmt::arg("new", counted_delivered_v4("NEW.")), fmt::arg("old", counted_delivered_v4("OLD.")),
        fmt::arg("new_size", size_of("NEW.")), fmt::arg("old_size", size_of("OLD.")));
}

// Version 5: several drives in rotation (SPEC §9, §7.12; docs/rotation.md).
// ord is the order stamp of the source half (taken at the source endpoint when a
// scan recorded it; 0 for what was recorded before this step), d_ord the stamp
// of the version the destination holds as far as this drive knows;
// shelved_ord the stamp of a version put in DEST/.barge/versions because the
// destination already held a newer one. drives and drive_cargo: what this
// drive knows of the other drives serving its pairs, merged from the endpoints.
const char* const schema_v5 = R"sql(
ALTER TABLE entries ADD COLUMN ord INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entries ADD COLUMN d_ord INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entries ADD COLUMN shelved_ord INTEGER;
ALTER TABLE pairs ADD COLUMN last_ord INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pairs ADD COLUMN options_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pairs ADD COLUMN dest_order_epoch TEXT;
ALTER TABLE pairs ADD COLUMN dest_order_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE drives (
    pair_id        INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    drive_id       TEXT NOT NULL,
    label          TEXT NOT NULL DEFAULT '',
    generation     INTEGER NOT NULL DEFAULT 0,
    source_seen_ns INTEGER,
    dest_seen_ns   INTEGER,
    carries_files  INTEGER NOT NULL DEFAULT 0,
    carries_bytes  INTEGER NOT NULL DEFAULT 0,
    lost_ns        INTEGER,
    learned_ns     INTEGER NOT NULL DEFAULT 0,
    merged_source_gen INTEGER NOT NULL DEFAULT -1,
    merged_dest_gen   INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (pair_id, drive_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE drive_cargo (
    pair_id  INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    hash     BLOB NOT NULL CHECK (length(hash) = 64),
    drive_id TEXT NOT NULL,
    PRIMARY KEY (pair_id, hash, drive_id)
) STRICT, WITHOUT ROWID;
)sql";

// Version 6: the catalog at most 200 bytes per file, and no pass over every
// undelivered entry where few are wanted (SPEC §8, issue 15). The
// UNIQUE constraints on contents.hash and pieces.hash kept a second copy of every
// 64-byte hash in their indexes; they index its first 8 bytes instead, and
// triggers keep a hash recorded once (a lookup by the prefix, then the whole
// hash). A UNIQUE constraint cannot be dropped: both tables are rebuilt, with
// foreign keys off for the step (migrate(): with them on, a DROP deletes every
// row first, which fails on the rows that refer to it or cascades into
// content_pieces) and checked before it commits. docs/catalog.md, "Hashes,
// recorded once".
std::string schema_v6() {
    auto unique_hash = [](const char* table) {
        return fmt::format(R"sql(
CREATE INDEX {t}_hash ON {t}(substr(hash, 1, 8));
CREATE TRIGGER {t}_hash_insert BEFORE INSERT ON {t}
WHEN EXISTS (SELECT 1 FROM {t} WHERE substr(hash, 1, 8) = substr(NEW.hash, 1, 8) AND hash = NEW.hash)
BEGIN
    SELECT RAISE(ABORT, 'a hash recorded twice in {t}');
END;
CREATE TRIGGER {t}_hash_update BEFORE UPDATE OF hash ON {t}
WHEN NEW.hash IS NOT OLD.hash
BEGIN
    SELECT RAISE(ABORT, 'a recorded hash changed in {t}');
END;
)sql",
                           fmt::arg("t", table));
    };
    return fmt::format(R"sql(
CREATE TABLE contents_v6 (
    id     INTEGER PRIMARY KEY,
    hash   BLOB NOT NULL CHECK (length(hash) = 64),
    size   INTEGER NOT NULL CHECK (size >= 0),
    pieces INTEGER CHECK (pieces >= 0)
) STRICT;
INSERT INTO contents_v6(id, hash, size, pieces) SELECT id, hash, size, pieces FROM contents;
DROP TABLE contents;
ALTER TABLE contents_v6 RENAME TO contents;
CREATE TABLE pieces_v6 (
    id          INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL CHECK (length(hash) = 64),
    size        INTEGER NOT NULL CHECK (size >= 0),
    on_cargo    INTEGER NOT NULL DEFAULT 0 CHECK (on_cargo IN (0, 1)),
    loaded_ns   INTEGER,
    verified_ns INTEGER
) STRICT;
INSERT INTO pieces_v6(id, hash, size, on_cargo, loaded_ns, verified_ns)
    SELECT id, hash, size, on_cargo, loaded_ns, verified_ns FROM pieces;
DROP TABLE pieces;
ALTER TABLE pieces_v6 RENAME TO pieces;
CREATE INDEX pieces_cargo ON pieces(size) WHERE on_cargo = 1;
-- Undelivered entries whose destination holds a version stamped later (SPEC
-- §9): few or none, found without a pass over every undelivered entry (a
-- rescan's restamp, unload's superseded versions). Not the delivered ones with
-- ord < d_ord: after another drive delivered first, those can be every file.
-- The condition is entries_undelivered's, term for term, and ord < d_ord.
CREATE INDEX entries_superseded ON entries(pair_id) WHERE ord < d_ord AND kind != 2 AND NOT
    {undelivered};
-- The pieces on the cargo and their bytes, kept by the triggers below in the
-- same statement as every write of pieces: status, load and dump-cargo read one
-- row instead of counting every piece (SPEC §8); verify-middle recounts. (An
-- INSERT OR REPLACE into pieces would delete a row without its delete trigger,
-- recursive triggers being off: barge writes pieces with INSERT and UPDATE only.)
CREATE TABLE cargo_total (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    pieces INTEGER NOT NULL,
    bytes  INTEGER NOT NULL
) STRICT;
INSERT INTO cargo_total(id, pieces, bytes)
    SELECT 1, count(*), coalesce(sum(size), 0) FROM pieces WHERE on_cargo = 1;
CREATE TRIGGER pieces_cargo_insert AFTER INSERT ON pieces WHEN NEW.on_cargo = 1
BEGIN
    UPDATE cargo_total SET pieces = pieces + 1, bytes = bytes + NEW.size WHERE id = 1;
END;
CREATE TRIGGER pieces_cargo_delete AFTER DELETE ON pieces WHEN OLD.on_cargo = 1
BEGIN
    UPDATE cargo_total SET pieces = pieces - 1, bytes = bytes - OLD.size WHERE id = 1;
END;
CREATE TRIGGER pieces_cargo_update AFTER UPDATE OF on_cargo, size ON pieces
WHEN (OLD.on_cargo = 1 OR NEW.on_cargo = 1) AND (OLD.on_cargo IS NOT NEW.on_cargo OR OLD.size IS NOT NEW.size)
BEGIN
    UPDATE cargo_total SET pieces = pieces - (OLD.on_cargo = 1) + (NEW.on_cargo = 1),
        bytes = bytes - (CASE WHEN OLD.on_cargo = 1 THEN OLD.size ELSE 0 END)
                      + (CASE WHEN NEW.on_cargo = 1 THEN NEW.size ELSE 0 END)
        WHERE id = 1;
END;
)sql", fmt::arg("undelivered", delivered_v4(""))) + unique_hash("contents") +
           unique_hash("pieces");
}

// The objects in sqlite_schema: (type, name) -> the SQL of a trigger (what it runs
// is checked too: barge's own triggers must be exactly what barge wrote), "" for
// anything else.
SchemaObjects schema_objects(Database& db) {
    SchemaObjects out;
    Statement st = db.prepare("SELECT type, name, sql FROM sqlite_schema");
    while (st.step()) {
        std::string type = st.column_text(0);
        out[{type, st.column_text(1)}] = type == "trigger" ? st.column_text(2) : "";
    }
    return out;
}

// Version 7: status's counts kept as the catalog is written (SPEC §8: status
// under 1 s at a million files, 5 s at ten million, where a pass over the
// undelivered entries took seconds). contents.here is the number of the
// content's pieces on the cargo (pieces of content_pieces with on_cargo = 1,
// counted once per index), kept by triggers on pieces and content_pieces.
// pair_undelivered holds, per pair and state, the undelivered files and
// symlinks (sql_counted and not sql_delivered) and their bytes; the state of
// an entry is undelivered_state below, kept by triggers on entries and, when a
// content becomes complete on the cargo or stops being so, on contents.
// docs/catalog.md, "Status's counts, kept".
std::string undelivered_of(const std::string& r) {
    return fmt::format("{r}kind != 2 AND NOT {d}", fmt::arg("r", r), fmt::arg("d", delivered_v4(r)));
}

// Every content's piece on the cargo: its size is 0, or its count of pieces is
// known and all of them are on the cargo.
std::string ready_of(const std::string& r) {
    return fmt::format("({r}size = 0 OR coalesce({r}here = {r}pieces, 0))", fmt::arg("r", r));
}

// 2 failed, 1 on the cargo (a symlink or special file travels inside the
// catalog; a file whose content is ready_of), 3 not hashed yet, 0 waiting.
std::string undelivered_state(const std::string& r) {
    return fmt::format(
        "(CASE WHEN {r}fail_reason IS NOT NULL THEN 2 WHEN {r}kind IS NOT 1 THEN 1 WHEN "
        "{r}content_id IS NULL THEN 3 WHEN (SELECT {ready} FROM contents c WHERE c.id = "
        "{r}content_id) THEN 1 ELSE 0 END)",
        fmt::arg("r", r), fmt::arg("ready", ready_of("c.")));
}

std::string undelivered_size(const std::string& r) {
    return fmt::format("(CASE WHEN {r}kind = 1 THEN {r}size ELSE 0 END)", fmt::arg("r", r));
}

// pair_undelivered as the entries say it, rows (pair_id, state, files, bytes),
// counted in the order of entries_undelivered (per pair_id): a GROUP BY on the
// state as well would sort every undelivered entry in memory (temp_store =
// MEMORY), and so would s materialized (SQLite does so unless told not to; the
// price is the state worked out once per sum that reads it).
std::string undelivered_counted() {
    return fmt::format(R"sql(WITH s AS NOT MATERIALIZED (SELECT e.pair_id, {e_state} AS state, {e_size} AS size FROM entries e
        INDEXED BY entries_undelivered WHERE {e_und}),
    k AS MATERIALIZED (SELECT pair_id,
        sum(state = 0) AS f0, sum(CASE WHEN state = 0 THEN size ELSE 0 END) AS b0,
        sum(state = 1) AS f1, sum(CASE WHEN state = 1 THEN size ELSE 0 END) AS b1,
        sum(state = 2) AS f2, sum(CASE WHEN state = 2 THEN size ELSE 0 END) AS b2,
        sum(state = 3) AS f3, sum(CASE WHEN state = 3 THEN size ELSE 0 END) AS b3
        FROM s GROUP BY pair_id)
    SELECT pair_id, 0 AS state, f0 AS files, b0 AS bytes FROM k WHERE f0 > 0
    UNION ALL SELECT pair_id, 1, f1, b1 FROM k WHERE f1 > 0
    UNION ALL SELECT pair_id, 2, f2, b2 FROM k WHERE f2 > 0
    UNION ALL SELECT pair_id, 3, f3, b3 FROM k WHERE f3 > 0)sql",
                       fmt::arg("e_state", undelivered_state("e.")), fmt::arg("e_size", undelivered_size("e.")),
                       fmt::arg("e_und", undelivered_of("e.")));
}

// The pieces of content r ("c.") on the cargo, as contents.here should hold it.
std::string here_counted(const std::string& r) {
    return fmt::format("(SELECT count(*) FROM content_pieces cp JOIN pieces p ON p.id = cp.piece_id "
                       "WHERE cp.content_id = {r}id AND p.on_cargo = 1)",
                       fmt::arg("r", r));
}

std::string schema_v7() {
    // The waiting files of content NEW.id move to the other state, per pair.
    auto move = [](const char* from, const char* to) {
        return fmt::format(R"sql(
    INSERT INTO pair_undelivered(pair_id, state, files, bytes)
        SELECT e.pair_id, {from}, -count(*), -sum(e.size) FROM entries e
        WHERE e.content_id = NEW.id AND e.kind = 1 AND e.fail_reason IS NULL AND NOT {d} GROUP BY e.pair_id
        ON CONFLICT(pair_id, state) DO UPDATE SET files = files + excluded.files, bytes = bytes + excluded.bytes;
    INSERT INTO pair_undelivered(pair_id, state, files, bytes)
        SELECT e.pair_id, {to}, count(*), sum(e.size) FROM entries e
        WHERE e.content_id = NEW.id AND e.kind = 1 AND e.fail_reason IS NULL AND NOT {d} GROUP BY e.pair_id
        ON CONFLICT(pair_id, state) DO UPDATE SET files = files + excluded.files, bytes = bytes + excluded.bytes;)sql",
                           fmt::arg("from", from), fmt::arg("to", to),
                           fmt::arg("d", delivered_v4("e.")));
    };
    return fmt::format(
        R"sql(
ALTER TABLE contents ADD COLUMN here INTEGER NOT NULL DEFAULT 0;
-- Counted per content in the order of an index, as undelivered_counted is.
UPDATE contents SET here = {here} WHERE {here} > 0;
CREATE TABLE pair_undelivered (
    pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    state   INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3)),
    files   INTEGER NOT NULL DEFAULT 0,
    bytes   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pair_id, state)
) STRICT, WITHOUT ROWID;
INSERT INTO pair_undelivered(pair_id, state, files, bytes) SELECT * FROM ({counted});
CREATE TRIGGER pieces_here_update AFTER UPDATE OF on_cargo ON pieces
WHEN OLD.on_cargo IS NOT NEW.on_cargo
BEGIN
    UPDATE contents SET here = here + (CASE WHEN NEW.on_cargo = 1 THEN 1 ELSE -1 END) *
        (SELECT count(*) FROM content_pieces x WHERE x.piece_id = NEW.id AND x.content_id = contents.id)
        WHERE id IN (SELECT content_id FROM content_pieces WHERE piece_id = NEW.id);
END;
CREATE TRIGGER content_pieces_here_insert AFTER INSERT ON content_pieces
BEGIN
    UPDATE contents SET here = here + 1 WHERE id = NEW.content_id
        AND (SELECT on_cargo FROM pieces WHERE id = NEW.piece_id) = 1;
END;
CREATE TRIGGER content_pieces_here_delete AFTER DELETE ON content_pieces
BEGIN
    UPDATE contents SET here = here - 1 WHERE id = OLD.content_id
        AND (SELECT on_cargo FROM pieces WHERE id = OLD.piece_id) = 1;
END;
CREATE TRIGGER content_pieces_here_update AFTER UPDATE OF content_id, piece_id ON content_pieces
BEGIN
    UPDATE contents SET here = here - 1 WHERE id = OLD.content_id
        AND (SELECT on_cargo FROM pieces WHERE id = OLD.piece_id) = 1;
    UPDATE contents SET here = here + 1 WHERE id = NEW.content_id
        AND (SELECT on_cargo FROM pieces WHERE id = NEW.piece_id) = 1;
END;
CREATE TRIGGER contents_ready_gained AFTER UPDATE OF size, pieces, here ON contents
WHEN NOT {old_ready} AND {new_ready}
BEGIN{to_ready}
END;
CREATE TRIGGER contents_ready_lost AFTER UPDATE OF size, pieces, here ON contents
WHEN {old_ready} AND NOT {new_ready}
BEGIN{to_waiting}
END;
CREATE TRIGGER entries_undelivered_insert AFTER INSERT ON entries
WHEN {new_und}
BEGIN
    INSERT INTO pair_undelivered(pair_id, state, files, bytes) VALUES (NEW.pair_id, {new_state}, 1, {new_size})
        ON CONFLICT(pair_id, state) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER entries_undelivered_delete AFTER DELETE ON entries
WHEN {old_und}
BEGIN
    UPDATE pair_undelivered SET files = files - 1, bytes = bytes - {old_size}
        WHERE pair_id = OLD.pair_id AND state = {old_state};
END;
CREATE TRIGGER entries_undelivered_update AFTER UPDATE ON entries
WHEN coalesce({old_und}, 0) IS NOT coalesce({new_und}, 0)
    OR (coalesce({new_und}, 0) AND (OLD.pair_id IS NOT NEW.pair_id OR OLD.kind IS NOT NEW.kind
        OR OLD.size IS NOT NEW.size OR OLD.content_id IS NOT NEW.content_id
        OR (OLD.fail_reason IS NULL) IS NOT (NEW.fail_reason IS NULL)))
BEGIN
    UPDATE pair_undelivered SET files = files - 1, bytes = bytes - {old_size}
        WHERE pair_id = OLD.pair_id AND state = {old_state} AND {old_und};
    INSERT INTO pair_undelivered(pair_id, state, files, bytes) SELECT NEW.pair_id, {new_state}, 1, {new_size}
        WHERE {new_und}
        ON CONFLICT(pair_id, state) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
)sql",
        fmt::arg("counted", undelivered_counted()), fmt::arg("here", here_counted("contents.")),
        fmt::arg("old_ready", ready_of("OLD.")),
        fmt::arg("new_ready", ready_of("NEW.")),
        fmt::arg("to_ready", move("0", "1")), fmt::arg("to_waiting", move("1", "0")), fmt::arg("new_und", undelivered_of("NEW.")),
        fmt::arg("old_und", undelivered_of("OLD.")), fmt::arg("new_state", undelivered_state("NEW.")),
        fmt::arg("old_state", undelivered_state("OLD.")), fmt::arg("new_size", undelivered_size("NEW.")),
        fmt::arg("old_size", undelivered_size("OLD.")));
}

// Version 8: the catalog forgets what nothing needs (SPEC §8: a catalog that
// stays its size over years of changes, not one that grows with every version
// of every file ever seen). A content no entry holds or had delivered and no
// staged piece names, and a piece off the cargo that no content needs recorded,
// were kept forever. The triggers below note the contents and pieces that may
// have lost their last user, in the same statement as the write that loosened
// them; forget_unneeded (src/catalog/contents.cpp) checks those few at the end
// of each run. The step forgets what is unneeded already, once. Besides,
// entries_d_content holds only the rows with a delivered content: before the
// first unload, that was an index entry of NULL per file; staged_content
// serves the forget's lookups in staged. docs/catalog.md, "What the catalog
// forgets".
std::string schema_v8() {
    return fmt::format(R"sql(
DROP INDEX entries_d_content;
CREATE INDEX entries_d_content ON entries(d_content_id) WHERE d_content_id IS NOT NULL;
CREATE INDEX staged_content ON staged(content_id);
CREATE TABLE contents_loose (id INTEGER PRIMARY KEY) STRICT;
CREATE TABLE pieces_loose (id INTEGER PRIMARY KEY) STRICT;
CREATE TRIGGER entries_loosen_update AFTER UPDATE OF content_id, d_content_id ON entries
WHEN (OLD.content_id IS NOT NULL AND OLD.content_id IS NOT NEW.content_id)
    OR (OLD.d_content_id IS NOT NULL AND OLD.d_content_id IS NOT NEW.d_content_id)
BEGIN
    INSERT INTO contents_loose(id) SELECT OLD.content_id
        WHERE OLD.content_id IS NOT NULL AND OLD.content_id IS NOT NEW.content_id ON CONFLICT DO NOTHING;
    INSERT INTO contents_loose(id) SELECT OLD.d_content_id
        WHERE OLD.d_content_id IS NOT NULL AND OLD.d_content_id IS NOT NEW.d_content_id ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER entries_loosen_delete AFTER DELETE ON entries
WHEN OLD.content_id IS NOT NULL OR OLD.d_content_id IS NOT NULL
BEGIN
    INSERT INTO contents_loose(id) SELECT OLD.content_id WHERE OLD.content_id IS NOT NULL ON CONFLICT DO NOTHING;
    INSERT INTO contents_loose(id) SELECT OLD.d_content_id WHERE OLD.d_content_id IS NOT NULL ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER staged_loosen_delete AFTER DELETE ON staged
BEGIN
    INSERT INTO contents_loose(id) VALUES (OLD.content_id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER content_pieces_loosen_delete AFTER DELETE ON content_pieces
BEGIN
    INSERT INTO pieces_loose(id) VALUES (OLD.piece_id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER content_pieces_loosen_update AFTER UPDATE OF piece_id ON content_pieces
WHEN OLD.piece_id IS NOT NEW.piece_id
BEGIN
    INSERT INTO pieces_loose(id) VALUES (OLD.piece_id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER pieces_loosen_off_cargo AFTER UPDATE OF on_cargo ON pieces
WHEN OLD.on_cargo = 1 AND NEW.on_cargo = 0
BEGIN
    INSERT INTO pieces_loose(id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
END;
{forget}
)sql",
                       fmt::arg("forget", sql_forget_unneeded().all()));
}

// Version 9: what nothing reads goes (SPEC §8; issue 15, part 7: the
// catalog's bytes per file). pieces.loaded_ns and pieces.verified_ns were
// written for every piece loaded or checked by verify-middle and read by
// nothing: 18 bytes per piece on the cargo, and a write per piece of every
// verify-middle (a run that changes nothing wrote the whole table). The runs'
// history says when a load or a verify-middle ran; docs/catalog.md, "Schema
// history". DROP COLUMN rewrites the table; no index, trigger or CHECK names
// either column. (entries_verify keeps the id it names last, though every
// index of a rowid table ends with the rowid anyway: without it, SQLite's
// planner preferred that index to entries_d_content for a content's holders,
// a pass over every delivered file per delivery. docs/catalog.md.)
const char* const schema_v9 = R"sql(
ALTER TABLE pieces DROP COLUMN loaded_ns;
ALTER TABLE pieces DROP COLUMN verified_ns;
)sql";

// Version 10: deletions delivered a page at a time (SPEC §8: memory bounded
// at ten million files; issue 15). entries_gone held only pair_id, so unload
// read every entry gone from the source at once and sorted them in memory
// (children before their directories); a tree of a million deleted files was a
// million rows in memory. In (pair_id, parent, name) order the index serves that
// order backwards, a page at a time (TransitStore::each_deletion_page). It still
// holds only the entries gone from the source, and every query that named it
// (pair_id and kind IS NULL) is served as before.
const char* const schema_v10 = R"sql(
DROP INDEX entries_gone;
CREATE INDEX entries_gone ON entries(pair_id, parent, name) WHERE kind IS NULL;
)sql";

// Version 11: a file that keeps changing is told, not forgotten (SPEC §7.7 and
// §7.11; docs/catalog.md, "Files that keep changing"). A file that changed while a
// scan or a load read it is carried on a later run: each miss sets fail_ns (the
// first, kept) and counts fail_count, fail_reason staying NULL; carrying or
// delivering it, among others (docs/catalog.md), clears both. This index holds
// those entries only (none, most of the time: no byte per file), so status finds
// the files missed since longer than --max-age without a pass over the entries. Up
// to version 10, a file found damaged at the destination and then read right again
// kept its fail_ns and fail_count with fail_reason cleared: not a miss, cleared
// here (few rows, found through the new index).
const char* const schema_v11 = R"sql(
CREATE INDEX entries_unsettled ON entries(pair_id, fail_ns) WHERE fail_reason IS NULL AND fail_ns IS NOT NULL;
UPDATE entries INDEXED BY entries_unsettled SET fail_ns = NULL, fail_count = 0
    WHERE fail_reason IS NULL AND fail_ns IS NOT NULL;
)sql";

} // namespace

// Each noted row is looked up by index, never a pass (Contents.TheForgetReadsOnlyTheNotes):
// staged_content serves the lookup and the foreign key check of a deleted
// content (staged's key starts with pair_id, and a multi-trip file can stage
// thousands of pieces); CROSS JOIN keeps the noted pieces the outer loop (the
// planner would otherwise scan every piece and look each up in the notes).
// Contents first, their content_pieces rows with them (named, not left to ON
// DELETE CASCADE: foreign keys are off while a migration runs), which notes
// their pieces as loose. A one-piece content's piece has the content's own
// hash and size: off the cargo, the content row says all its record said, and
// load records it anew when it carries it again.
const ForgetSql& sql_forget_unneeded() {
    static const ForgetSql sql{
        "INSERT INTO contents_loose(id) SELECT id FROM contents WHERE true ON CONFLICT DO NOTHING;\n"
        "INSERT INTO pieces_loose(id) SELECT id FROM pieces WHERE on_cargo = 0 ON CONFLICT DO NOTHING;",
        R"sql(DELETE FROM contents_loose WHERE
    EXISTS (SELECT 1 FROM entries e INDEXED BY entries_content WHERE e.content_id = contents_loose.id)
    OR EXISTS (SELECT 1 FROM entries e INDEXED BY entries_d_content WHERE e.d_content_id = contents_loose.id)
    OR EXISTS (SELECT 1 FROM staged s INDEXED BY staged_content WHERE s.content_id = contents_loose.id);
DELETE FROM content_pieces WHERE content_id IN (SELECT id FROM contents_loose);)sql",
        "DELETE FROM contents WHERE id IN (SELECT id FROM contents_loose);",
        R"sql(DELETE FROM contents_loose;
DELETE FROM content_pieces WHERE piece_id IN (SELECT l.id FROM pieces_loose l CROSS JOIN pieces p ON p.id = l.id
    WHERE p.on_cargo = 0 AND NOT EXISTS (SELECT 1 FROM content_pieces cp INDEXED BY content_pieces_piece
        JOIN contents c ON c.id = cp.content_id WHERE cp.piece_id = l.id AND (c.pieces IS NOT 1 OR cp.idx != 0)));)sql",
        R"sql(DELETE FROM pieces WHERE id IN (SELECT l.id FROM pieces_loose l CROSS JOIN pieces p ON p.id = l.id
    WHERE p.on_cargo = 0 AND NOT EXISTS (SELECT 1 FROM content_pieces cp INDEXED BY content_pieces_piece
        WHERE cp.piece_id = l.id));)sql",
        "DELETE FROM pieces_loose;"};
    return sql;
}

std::string ForgetSql::all() const {
    return fmt::format("{}\n{}\n{}\n{}\n{}\n{}", note_all, prepare, contents, prepare_pieces, pieces, finish);
}

std::string sql_here_counted(const std::string& r) {
    return here_counted(r);
}

std::string sql_undelivered_counted() {
    return undelivered_counted();
}

const std::vector<Migration>& migrations() {
    static const std::vector<Migration> steps = {
        {1, schema_v1},
        {2, schema_v2},
        {3, schema_v3},
        {4, schema_v4()},
        {5, schema_v5},
        {6, schema_v6()},
        {7, schema_v7()},
        {8, schema_v8()},
        {9, schema_v9},
        {10, schema_v10},
        {11, schema_v11},
    };
    return steps;
}

namespace {

// Each step in its own transaction, which sets user_version too.
void apply_steps(Database& db, const std::vector<Migration>& steps, int current) {
    for (const auto& step : steps) {
        if (step.to <= current) {
            continue;
        }
        Transaction tx(db);
        db.exec(step.sql);
        Statement broken = db.prepare("PRAGMA foreign_key_check");
        if (broken.step()) {
            throw CatalogError(fmt::format("catalog '{}': a row of table '{}' refers to a missing "
                                           "row of '{}' (schema version {} to {}): the catalog is "
                                           "damaged",
                                           db.path(), broken.column_text(0), broken.column_text(2),
                                           step.to - 1, step.to));
        }
        broken.reset();
        db.exec(fmt::format("PRAGMA user_version = {}", step.to));
        tx.commit();
    }
}

} // namespace

void migrate(Database& db, const std::vector<Migration>& steps,
             const std::function<void(int)>& backup) {
    int current = static_cast<int>(db.query_int("PRAGMA user_version"));
    int latest = steps.empty() ? 0 : steps.back().to;
    if (current > latest) {
        throw CatalogError(fmt::format("catalog '{}' has schema version {}, newer than this "
                                       "barge understands ({}): upgrade barge",
                                       db.path(), current, latest),
                           ExitCode::refused);
    }
    if (current == latest) {
        return;
    }
    if (current > 0) {
        backup(current);
    }
    // A step may rebuild a table others refer to (version 6): with foreign keys
    // enforced, its DROP would delete, or cascade into, the rows that refer to it.
    // They are off for the steps (the pragma does nothing inside a transaction)
    // and every reference is checked before each step commits, as SQLite's
    // documentation of ALTER TABLE prescribes.
    bool enforced = db.query_int("PRAGMA foreign_keys") != 0;
    db.exec("PRAGMA foreign_keys = OFF");
    try {
        apply_steps(db, steps, current);
    } catch (...) {
        if (enforced) {
            try {
                db.exec("PRAGMA foreign_keys = ON");
            } catch (...) { // the first error is the one to report
            }
        }
        throw;
    }
    if (enforced) {
        db.exec("PRAGMA foreign_keys = ON");
    }
}

SchemaObjects schema_objects_migrated() {
    Database fresh(":memory:", Database::Create::yes);
    migrate(fresh, migrations(), [](int) {});
    return schema_objects(fresh);
}

// The default where the generated rows are not linked in (barge-schema-gen itself,
// which makes them); the generated schema_objects.cpp defines the strong one.
__attribute__((weak)) const SchemaObjectRow* embedded_schema_objects(size_t& count) {
    count = 0;
    return nullptr;
}

SchemaObjects schema_objects_expected() {
    size_t count = 0;
    const SchemaObjectRow* rows = embedded_schema_objects(count);
    if (rows == nullptr) {
        return schema_objects_migrated();
    }
    SchemaObjects out;
    for (size_t i = 0; i < count; ++i) {
        out[{rows[i].type, rows[i].name}] = rows[i].sql;
    }
    return out;
}

void check_schema_objects(Database& db) {
    auto expected = schema_objects_expected();
    auto found = schema_objects(db);
    for (const auto& [obj, sql] : found) {
        auto it = expected.find(obj);
        if (it != expected.end() && it->second != sql) {
            throw CatalogError(fmt::format("catalog '{}' holds a {} '{}' that barge did not write "
                                           "so: refusing to use a tampered catalog",
                                           db.path(), obj.first, obj.second));
        }
        if (it == expected.end()) {
            throw CatalogError(fmt::format("catalog '{}' holds a {} '{}' that barge did not create: "
                                           "refusing to use a tampered catalog",
                                           db.path(), obj.first, obj.second));
        }
    }
    for (const auto& [obj, sql] : expected) {
        if (!found.contains(obj)) {
            throw CatalogError(fmt::format("catalog '{}' lacks its {} '{}': the catalog is damaged",
                                           db.path(), obj.first, obj.second));
        }
    }
}

} // namespace barge
