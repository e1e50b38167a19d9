#!/usr/bin/env bash
# The catalog forgets what nothing needs (schema 8; docs/catalog.md, "What the
# catalog forgets"): over cycles of changes, loads, unloads and reclaimed
# cargo, it holds the contents of the files there are and had delivered, not
# every version ever seen. A rename still finds its delivered content, and
# every cycle delivers the source byte for byte.
source "$(dirname "$0")/lib.sh"
PIECE_SIZE=4K setup_pair
mkdir -p "$SRC/d"
head -c 1000 /dev/urandom >"$SRC/d/keep"  # never changes
: >"$SRC/empty"
counts() { sql "SELECT (SELECT count(*) FROM contents) || ' ' || (SELECT count(*) FROM pieces)"; }

for cycle in 1 2 3 4 5; do
    head -c 2000 /dev/urandom >"$SRC/d/small"  # one piece
    head -c 10000 /dev/urandom >"$SRC/d/multi" # three pieces
    age "$SRC/d/small" "$SRC/d/multi"
    barge scan >/dev/null
    # Changed twice between loads: the version nobody loaded is not kept either.
    head -c 2000 /dev/urandom >"$SRC/d/small"
    age "$SRC/d/small"
    expect_exit 0 barge load
    expect_exit 0 barge unload
    expect_same_tree "$SRC" "$DST" "cycle $cycle, after the unload"
    expect_exit 0 barge dump-cargo --yes
    # keep, small, multi and the empty file, and multi's three pieces: one-piece
    # contents keep no piece off the cargo (the content row holds its hash).
    expect_eq "4 3" "$(counts)" "cycle $cycle: contents and pieces after the cargo was reclaimed"
done

# A rename after all that: the old name's delivered content was kept for it.
mv "$SRC/d/multi" "$SRC/d/multi-renamed"
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "bytes carried for a rename"
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.renamed')" "the rename, renamed at the destination"
expect_same_tree "$SRC" "$DST" "after the rename"

# What no trigger noted (rows a careless hand left, or an older barge's),
# verify-middle's pass finds; it changes nothing that is needed.
sql_write "INSERT INTO contents(hash, size, pieces) VALUES (randomblob(64), 5, 1)"
sql_write "INSERT INTO pieces(hash, size, on_cargo) VALUES (randomblob(64), 5, 0)"
expect_eq "5 4" "$(counts)" "with a stray content and piece"
expect_exit 0 barge verify-middle
expect_eq "4 3" "$(counts)" "after verify-middle"
expect_exit 0 barge verify-destination
expect_exit 0 barge status --json
expect_eq 4 "$(json '.pairs[0].delivered.files')" "delivered files"
expect_eq 0 "$(json '.pairs[0].pending.files')" "waiting files"
echo "forget ok"
