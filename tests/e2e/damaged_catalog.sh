#!/usr/bin/env bash
# A damaged or hostile catalog (issue 5, 5; issue 15): every page barge reads is
# checked against its checksum, so damage is refused (exit 1, "corrupt") by each
# command that reads a damaged page, before it writes anything that depends on
# it; verify-middle reads every page (a full check) and finds damage anywhere;
# truncation and a zeroed header are refused by every command. A journal
# left by an interrupted writer is rolled back and the run goes on; a planted
# trigger or view is refused; paths with a NUL, "..", or absolute are refused
# per file (exit 3) and nothing is written outside DEST.
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-limit 100
mkdir -p "$SRC/d" "$T/outside"
for i in $(seq 1 200); do echo "file $i" >"$SRC/d/f$i"; done
age "$SRC/d"/*
expect_exit 0 barge load
cp "$DRIVE/barge.db" "$T/good.db"
cp -a "$SRC/.barge" "$T/good-src-barge"

# restore_good: the catalog as it was before the damage, and what the source knows
# of it (a refused run may have counted as a new generation there).
restore_good() {
    cp "$T/good.db" "$DRIVE/barge.db"
    rm -rf "$SRC/.barge"
    cp -a "$T/good-src-barge" "$SRC/.barge"
}
size=$(stat -c %s "$DRIVE/barge.db")

# table_pages DB: "name pageno" of every page of every table and index (dbstat).
table_pages() {
    sqlite3 -readonly "$1" "SELECT name, pageno FROM dbstat ORDER BY pageno"
}

# pages_of DB PAGENO...: those pages of DB, hex.
pages_of() {
    local db=$1
    shift
    for pg in "$@"; do
        dd if="$db" bs=4096 skip=$((pg - 1)) count=1 status=none | od -An -tx1 | tr -d ' \n'
        echo
    done
}

# Pages of what a refused run must never touch: every table and index but the run
# history and the generation (a run is recorded as begun, which counts as a change of
# the drive, before the damaged page is read; nothing is written after it).
KEPT_PAGES=$(table_pages "$T/good.db" |
    awk -F'|' '$1 !~ /^(runs|run_pairs|run_pairs_pair|meta|sqlite_autoindex_meta_1|sqlite_schema)$/ {print $2}')

# refused_corrupt WHAT COMMAND...: each command refuses the damaged catalog, exit 1,
# says so and what to do, writes nothing to the destination or to the catalog's
# data (its damaged pages included), and leaves the endpoint copies as they were.
refused_corrupt() {
    local what=$1
    shift
    cp "$DRIVE/barge.db" "$T/damaged.db"
    local before copies
    before=$(pages_of "$T/damaged.db" $KEPT_PAGES)
    copies=$(cat "$SRC"/.barge/catalog-* | sha256sum)
    for cmd in "$@"; do
        expect_exit 1 barge $cmd
        grep -qi "corrupt\|malformed\|not a database" "$T/err" || fail "$what: '$cmd' does not say the catalog is damaged: $(cat "$T/err")"
        grep -q "recover" "$T/err" || fail "$what: '$cmd' does not say how to recover: $(cat "$T/err")"
    done
    [[ ! -e $DST ]] || fail "$what: something was written to the destination"
    if [[ $(stat -c %s "$DRIVE/barge.db") -ge $size ]]; then
        [[ $(pages_of "$DRIVE/barge.db" $KEPT_PAGES) == "$before" ]] || fail "$what: barge changed a damaged catalog"
    else
        cmp -s "$DRIVE/barge.db" "$T/damaged.db" || fail "$what: barge changed a damaged catalog"
    fi
    [[ $(cat "$SRC"/.barge/catalog-* | sha256sum) == "$copies" ]] || fail "$what: an endpoint copy changed"
}

# flip_pages SQL: flips bytes in the middle of each page the query lists (dbstat).
flip_pages() {
    local pages
    pages=$(sqlite3 -readonly "$DRIVE/barge.db" "$1")
    [[ -n $pages ]] || fail "the test found no page to damage for: $1"
    for pg in $pages; do
        printf '\xde\xad\xbe\xef' | dd of="$DRIVE/barge.db" bs=1 seek=$(((pg - 1) * 4096 + 2000)) conv=notrunc status=none
    done
}

# Byte flips in the pages of the entries table: every command that reads the
# entries refuses before acting on them.
flip_pages "SELECT pageno FROM dbstat WHERE name = 'entries'"
refused_corrupt "entries damaged" unload load verify-middle
restore_good

# A byte flipped in an index that none of these commands reads: the full check of
# verify-middle finds it.
flip_pages "SELECT pageno FROM dbstat WHERE name = 'entries_inode'"
refused_corrupt "index damaged" verify-middle
restore_good

# The same damage, in a run that writes and makes the source's copy whole (the
# copy there was lost): the copy reads every page and finds it. The run exits 1
# (cron must not take it for a success), says what is damaged and how to
# recover, and no copy is made from the damaged catalog.
flip_pages "SELECT pageno FROM dbstat WHERE name = 'entries_inode'"
rm -f "$SRC"/.barge/catalog-*
expect_exit 1 barge load
grep -q "fails its checksum" "$T/err" || fail "the damage found while copying is not named: $(cat "$T/err")"
grep -q "no endpoint copy is updated from it" "$T/err" || fail "the refused copy is not said: $(cat "$T/err")"
grep -q "barge -d .* recover" "$T/err" || fail "the damage found while copying does not say how to recover: $(cat "$T/err")"
grep -q "no endpoint copy is updated from it" "$DRIVE"/logs/barge.log* || fail "the drive's log does not say the copy was refused"
[[ -z $(find "$SRC/.barge" -name 'catalog-*') ]] || fail "a copy was made from a damaged catalog: $(ls "$SRC/.barge")"
[[ ! -e $DST ]] || fail "something was written to the destination"
restore_good

# Truncated to half.
truncate -s $((size / 2)) "$DRIVE/barge.db"
refused_corrupt "truncation" unload load verify-middle
restore_good

# The header page zeroed.
dd if=/dev/zero of="$DRIVE/barge.db" bs=4096 count=1 conv=notrunc status=none
refused_corrupt "zeroed header" unload load status log verify-middle
restore_good

# A hot journal left by a writer that died mid-transaction (pages already
# spilled into the database): rolled back on open, nothing of it remains.
python3 - "$DRIVE/barge.db" <<'PY'
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=DELETE")
db.execute("PRAGMA cache_size=1")  # force dirty pages out to the file before commit
db.execute("BEGIN")
db.execute("UPDATE entries SET name = CAST('hijacked' || id AS BLOB)")
db.execute("DELETE FROM pieces")
os._exit(0)  # dies without COMMIT or ROLLBACK
PY
[[ -s $DRIVE/barge.db-journal ]] || fail "the test did not leave a hot journal"
expect_exit 0 barge unload
[[ ! -e $DRIVE/barge.db-journal ]] || fail "the hot journal was not rolled back"
expect_same_tree "$SRC" "$DST" "after rolling back a hot journal"
[[ -z $(find "$DST" -name 'hijacked*') ]] || fail "the rolled-back transaction leaked"

# A planted trigger or view: refused before any write.
# One of barge's own triggers rewritten under its name counts as planted too.
for obj in "CREATE TRIGGER t AFTER UPDATE ON entries BEGIN DELETE FROM pieces; END" \
           "CREATE VIEW v AS SELECT * FROM entries" \
           "DROP TRIGGER entries_delivered_delete; CREATE TRIGGER entries_delivered_delete AFTER DELETE ON entries BEGIN DELETE FROM pieces; END"; do
    cp "$DRIVE/barge.db" "$T/before.db"
    sql_write "$obj"
    cp "$DRIVE/barge.db" "$T/planted.db"
    expect_exit 1 barge load
    grep -q "that barge did not \(create\|write so\): refusing to use a tampered catalog" "$T/err" ||
        fail "planted object not reported: $(cat "$T/err")"
    cmp -s "$DRIVE/barge.db" "$T/planted.db" || fail "barge wrote to a catalog with a planted object"
    cp "$T/before.db" "$DRIVE/barge.db"
done

# Hostile paths: a NUL inside a name, an absolute parent, "..".
echo new >"$SRC/d/new1"; echo new >"$SRC/d/new2"; echo new >"$SRC/d/new3"
age "$SRC/d"/new*
expect_exit 0 barge load
sql_write "UPDATE entries SET name = X'6100626364' WHERE name = CAST('new1' AS BLOB);
UPDATE entries SET parent = CAST('$T/outside' AS BLOB) WHERE name = CAST('new2' AS BLOB);
UPDATE entries SET parent = CAST('d/../..' AS BLOB) WHERE name = CAST('new3' AS BLOB);"
expect_exit 3 barge unload
[[ $(grep -c "not a safe relative path" "$T/out") -ge 3 ]] || fail "hostile paths not each refused: $(cat "$T/out")"
[[ -z $(ls -A "$T/outside") && ! -e $T/new3 && ! -e $T/d ]] || fail "something was written outside DEST"
echo ok
