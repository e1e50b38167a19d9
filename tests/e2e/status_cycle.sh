#!/usr/bin/env bash
# status --json follows a cycle step by step (SPEC §5): pending at the source,
# then on the cargo, then delivered; the cargo's bytes; trips needed; the last
# runs of each kind and the span of the destination's verifications.
source "$(dirname "$0")/lib.sh"

setup_pair
mkdir -p "$SRC/d"
head -c 300000 /dev/urandom >"$SRC/d/a.bin"
head -c 200000 /dev/urandom >"$SRC/d/b.bin"
cp "$SRC/d/a.bin" "$SRC/d/a-copy.bin" # same content: carried once
ln -s a.bin "$SRC/d/link"
age "$SRC/d"/*

st() { expect_exit 0 barge status --json; json "$1"; }

expect_exit 0 barge scan
expect_eq "3 800000" "$(st '.pairs[0].pending | "\(.files) \(.bytes)"')" "pending after the scan"
# A symlink travels inside the catalog: it counts as on the cargo at once.
expect_eq "1 0 0" "$(st '.pairs[0] | "\(.on_cargo.files) \(.delivered.files) \(.failed.files)"')" "the rest after the scan"
expect_eq 1 "$(st '.pairs[0].trips_needed')" "one trip to catch up"
expect_eq 0 "$(st '.cargo.used_bytes')" "empty cargo"
expect_eq "null null" "$(st '[.last_runs.load, .pairs[0].oldest_verification] | map(tostring) | join(" ")')" "no load, no verification yet"
[[ $(st '.last_runs.scan.exit_code') == 0 ]] || fail "the scan is not the last scan run"

expect_exit 0 barge load
expect_eq "0 4 800000" "$(st '.pairs[0] | "\(.pending.files) \(.on_cargo.files) \(.on_cargo.bytes)"')" "on the cargo after the load"
expect_eq 500000 "$(st '.cargo.used_bytes')" "cargo bytes: the duplicate's content once"
expect_eq 0 "$(st '.pairs[0].trips_needed')" "no trip needed beyond this one"
expect_eq "0 2 500000" "$(st '.last_runs.load | "\(.exit_code) \(.files) \(.bytes)"')" "the last load (the duplicate is not carried)"

expect_exit 0 barge unload
expect_eq "0 0 4 800000" "$(st '.pairs[0] | "\(.pending.files) \(.on_cargo.files) \(.delivered.files) \(.delivered.bytes)"')" "delivered after the unload"
first=$(st '.pairs[0].oldest_verification')
[[ $first =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] || fail "no verification time after delivery: $first"
expect_eq 0 "$(st '.last_runs.unload.exit_code')" "the last unload"
expect_eq null "$(st '.last_runs.verify_destination')" "no verify-destination yet"

sleep 1.1
expect_exit 0 barge verify-destination
expect_eq 0 "$(st '.last_runs.verify_destination.exit_code')" "the last verify-destination"
[[ $(st '.pairs[0].oldest_verification') > "$first" ]] || fail "verify-destination did not move the oldest verification"
expect_exit 0 barge verify-middle
expect_eq 0 "$(st '.last_runs.verify_middle.exit_code')" "the last verify-middle"

# A deletion waits as "deletions pending" until the next unload.
rm "$SRC/d/b.bin"
expect_exit 0 barge load --accept-mass-change
expect_eq 1 "$(st '.pairs[0].deletions_pending')" "a deletion pending"
expect_exit 0 barge unload
expect_eq 0 "$(st '.pairs[0].deletions_pending')" "no deletion pending after the unload"
expect_exit 0 barge status
grep -q "verified at the destination between" "$T/out" || fail "text status lacks the verification span"
grep -q "last verify-middle: " "$T/out" || fail "text status lacks the last verify-middle"
echo ok
