#!/usr/bin/env bash
# load --dry-run prints the plan and touches nothing; --max-bytes limits a trip
# and the next load carries the rest; unload --dry-run writes nothing either.
source "$(dirname "$0")/lib.sh"

setup_pair
for i in 1 2 3 4 5; do head -c 1000000 /dev/urandom >"$SRC/f$i"; done
age "$SRC"/f*
expect_exit 0 barge scan
cp "$DRIVE/barge.db" "$T/before.db"

expect_exit 0 barge load --dry-run --json
expect_eq 5 "$(json '[.pairs[0].plan[] | select(.goes)] | length')" "files the plan sends"
expect_exit 0 barge load --dry-run --max-bytes 2500000 --json
expect_eq 2 "$(json '[.pairs[0].plan[] | select(.goes)] | length')" "files that fit --max-bytes"
expect_eq "over --max-bytes" "$(json '[.pairs[0].plan[] | select(.goes | not)][0].why')" "why a file stays"
expect_exit 0 barge load --dry-run
grep -q "would go" "$T/out" || fail "the text plan is missing: $(cat "$T/out")"
cmp "$DRIVE/barge.db" "$T/before.db" || fail "--dry-run changed the catalog"
[[ -z $(find "$DRIVE/cargo" -mindepth 2 -type f) ]] || fail "--dry-run wrote to the cargo"

expect_exit 0 barge load --max-bytes 2500000 --json
expect_eq 2 "$(json '.pairs[0].carried.files')" "carried within --max-bytes"
expect_eq 3 "$(json '.pairs[0].waiting.files')" "waiting after --max-bytes"

cp "$DRIVE/barge.db" "$T/before-unload.db"
expect_exit 0 barge unload --dry-run --json
expect_eq 5 "$(json '.pairs[0].plan | length')" "entries the unload plan lists"
[[ ! -e $DST ]] || fail "unload --dry-run created the destination"
cmp "$DRIVE/barge.db" "$T/before-unload.db" || fail "unload --dry-run changed the catalog"

expect_exit 0 barge unload
expect_exit 0 barge load --json
expect_eq 3 "$(json '.pairs[0].carried.files')" "the rest on the next trip"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after two trips"
echo ok
