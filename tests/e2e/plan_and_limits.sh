#!/usr/bin/env bash
# load --dry-run prints the plan and touches nothing; --max-bytes limits a trip
# (said as such, not as a full drive), counts all pairs of the run together,
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
expect_eq "true false" "$(json '"\(.pairs[0].max_bytes_reached) \(.pairs[0].drive_full)"')" \
    "--max-bytes, not the drive's room, kept them back"

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

# Two pairs: --max-bytes is the run's, not each pair's. Three files of 1 MB
# each side; 2.5 MB carries two of the first pair's files and none of the
# second's, which says why.
mkdir -p "$T/src2"
for i in 1 2 3; do
    head -c 1000000 /dev/urandom >"$SRC/g$i"
    head -c 1000000 /dev/urandom >"$T/src2/h$i"
done
expect_exit 0 barge pair add q "$T/src2" "$T/dst2"
expect_exit 0 barge load --dry-run --max-bytes 2500000 --json
expect_eq "2 0" "$(json '[.pairs[] | [.plan[] | select(.goes)] | length] | join(" ")')" "files each pair's plan sends"
expect_exit 0 barge load --max-bytes 2500000
grep -q "^p: carried 2 files" "$T/out" || fail "the first pair carries two files: $(cat "$T/out")"
grep -q "^q: carried 0 files" "$T/out" || fail "the second pair carries none: $(cat "$T/out")"
grep -q -e "--max-bytes reached: 3 files" "$T/out" || fail "the second pair says why: $(cat "$T/out")"
! grep -q "drive full" "$T/out" || fail "--max-bytes is not a full drive: $(cat "$T/out")"
# A limit past what a signed 64-bit count holds (16,000,000 TiB) is no limit:
# it once wrapped to a negative budget that kept every file back.
expect_exit 0 barge load --max-bytes 16000000T --json
expect_eq "1 3" "$(json '[.pairs[].carried.files] | join(" ")')" "the rest on the next trip"
expect_eq "false false" "$(json '"\(.pairs[1].max_bytes_reached) \(.pairs[1].drive_full)"')" "nothing kept back"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "the first pair"
expect_same_tree "$T/src2" "$T/dst2" "the second pair"
echo ok
