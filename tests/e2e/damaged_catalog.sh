#!/usr/bin/env bash
# A damaged or hostile catalog (issue 5, 5): byte flips and truncation are
# refused (exit 1, "corrupt") before anything is written anywhere; a journal
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
size=$(stat -c %s "$DRIVE/barge.db")

# refused_corrupt WHAT: every command refuses the damaged catalog, exit 1,
# says so, and neither the catalog nor the destination changes.
refused_corrupt() {
    cp "$DRIVE/barge.db" "$T/damaged.db"
    for cmd in unload load status verify-middle; do
        expect_exit 1 barge $cmd
        grep -qi "corrupt\|malformed\|not a database" "$T/err" || fail "$1: '$cmd' does not say the catalog is damaged: $(cat "$T/err")"
    done
    [[ ! -e $DST ]] || fail "$1: something was written to the destination"
    cmp -s "$DRIVE/barge.db" "$T/damaged.db" || fail "$1: barge changed a damaged catalog"
}

# Byte flips in the middle of the file (b-tree pages).
for off in $((size / 3)) $((size / 2)) $((size - 3000)); do
    printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$DRIVE/barge.db" bs=1 seek=$off conv=notrunc status=none
done
refused_corrupt "byte flips"
cp "$T/good.db" "$DRIVE/barge.db"

# Truncated to half.
truncate -s $((size / 2)) "$DRIVE/barge.db"
refused_corrupt "truncation"
cp "$T/good.db" "$DRIVE/barge.db"

# The header page zeroed.
dd if=/dev/zero of="$DRIVE/barge.db" bs=4096 count=1 conv=notrunc status=none
refused_corrupt "zeroed header"
cp "$T/good.db" "$DRIVE/barge.db"

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
for obj in "CREATE TRIGGER t AFTER UPDATE ON entries BEGIN DELETE FROM pieces; END" \
           "CREATE VIEW v AS SELECT * FROM entries"; do
    cp "$DRIVE/barge.db" "$T/before.db"
    sqlite3 "$DRIVE/barge.db" "$obj"
    cp "$DRIVE/barge.db" "$T/planted.db"
    expect_exit 1 barge load
    grep -q "barge did not create: refusing to use a tampered catalog" "$T/err" ||
        fail "planted object not reported: $(cat "$T/err")"
    cmp -s "$DRIVE/barge.db" "$T/planted.db" || fail "barge wrote to a catalog with a planted object"
    cp "$T/before.db" "$DRIVE/barge.db"
done

# Hostile paths: a NUL inside a name, an absolute parent, "..".
echo new >"$SRC/d/new1"; echo new >"$SRC/d/new2"; echo new >"$SRC/d/new3"
age "$SRC/d"/new*
expect_exit 0 barge load
sqlite3 "$DRIVE/barge.db" "UPDATE entries SET name = X'6100626364' WHERE name = CAST('new1' AS BLOB);
UPDATE entries SET parent = CAST('$T/outside' AS BLOB) WHERE name = CAST('new2' AS BLOB);
UPDATE entries SET parent = CAST('d/../..' AS BLOB) WHERE name = CAST('new3' AS BLOB);"
expect_exit 3 barge unload
[[ $(grep -c "not a safe relative path" "$T/out") -ge 3 ]] || fail "hostile paths not each refused: $(cat "$T/out")"
[[ -z $(ls -A "$T/outside") && ! -e $T/new3 && ! -e $T/d ]] || fail "something was written outside DEST"
echo ok
