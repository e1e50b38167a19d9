#!/usr/bin/env bash
# status reads the counts the catalog keeps as it is written (schema 7:
# pair_undelivered, contents.here), not a pass over the entries; verify-middle
# recounts them and sets right what a careless hand or a bug left wrong.
source "$(dirname "$0")/lib.sh"
PIECE_SIZE=4K setup_pair
mkdir -p "$SRC/d"
for i in 1 2 3 4 5 6; do head -c $((i * 3000)) /dev/urandom >"$SRC/d/f$i"; done
: >"$SRC/empty"
ln -s d/f1 "$SRC/link"
barge scan >/dev/null

expect_exit 0 barge status --json
expect_eq 6 "$(json '.pairs[0].pending.files')" "waiting after the scan"
expect_eq 2 "$(json '.pairs[0].on_cargo.files')" "the symlink and the empty file travel inside the catalog"

# A wrong kept count shows in status (it is what status reads) until
# verify-middle counts the entries.
sql_write "UPDATE pair_undelivered SET files = files + 5, bytes = bytes + 50 WHERE state = 0"
expect_exit 0 barge status --json
expect_eq 11 "$(json '.pairs[0].pending.files')" "status reads the kept count"
expect_exit 0 barge verify-middle
grep -q "count of undelivered files waiting was 11 .*, the entries say 6 .*set right" "$T/err" ||
    fail "verify-middle did not report the wrong count: $(cat "$T/err")"
expect_exit 0 barge status --json
expect_eq 6 "$(json '.pairs[0].pending.files')" "after verify-middle"

barge load >/dev/null
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].pending.files')" "waiting after the load"
expect_eq 8 "$(json '.pairs[0].on_cargo.files')" "on the cargo after the load"
bytes=$(json '.pairs[0].on_cargo.bytes')
expect_eq $((3000 * (1 + 2 + 3 + 4 + 5 + 6))) "$bytes" "bytes on the cargo"
expect_eq 0 "$(json '.cargo.reclaimable_bytes')" "nothing delivered yet"

# The pieces a content has on the cargo, wrong: its files count as waiting
# (the triggers move them) until verify-middle counts the pieces again.
sql_write "UPDATE contents SET here = 0 WHERE size > 4096"
expect_exit 0 barge status --json
expect_eq 5 "$(json '.pairs[0].pending.files')" "files of more than one piece, miscounted"
expect_exit 0 barge verify-middle
grep -q "count of pieces on the cargo was wrong for 5 content" "$T/err" ||
    fail "verify-middle did not report the wrong piece counts: $(cat "$T/err")"
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].pending.files')" "waiting after verify-middle"
expect_eq 8 "$(json '.pairs[0].on_cargo.files')" "on the cargo after verify-middle"

barge unload >/dev/null
expect_exit 0 barge status --json
expect_eq 8 "$(json '.pairs[0].delivered.files')" "delivered"
expect_eq 0 "$(json '.pairs[0].on_cargo.files')" "on the cargo after the unload"
expect_eq "$(json '.cargo.used_bytes')" "$(json '.cargo.reclaimable_bytes')" "all of the cargo is delivered"
expect_eq "[]" "$(sql "SELECT json_group_array(state) FROM pair_undelivered WHERE files != 0 OR bytes != 0")" \
    "kept counts of undelivered files once all is delivered"
expect_same_tree "$SRC" "$DST" "after the unload"
echo "kept_counts ok"
