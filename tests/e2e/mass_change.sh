#!/usr/bin/env bash
# The mass-change brake (SPEC §7.6): a scan that finds more than the limit of known
# files deleted or modified, and at least --mass-change-min of them, records
# nothing and exits 2, until --accept-mass-change. A small tree is never braked
# by an ordinary edit.
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-min 5 # default limit 25%
for i in $(seq 1 20); do echo "$i" >"$SRC/f$i"; done
age "$SRC"/f*
expect_exit 0 barge scan

# 5 of 20 changed: 25%, not more than the limit.
for i in 1 2 3; do rm "$SRC/f$i"; done
for i in 4 5; do echo changed >"$SRC/f$i"; done
expect_exit 0 barge scan --json
expect_eq 3 "$(json '.pairs[0].deleted')" "deleted at the limit"
expect_eq 2 "$(json '.pairs[0].modified')" "modified at the limit"

# 6 of the 17 left deleted: 35%.
cp "$DRIVE/barge.db" "$T/before.db"
for i in $(seq 6 11); do rm "$SRC/f$i"; done
expect_exit 2 barge scan
grep -q -- "--accept-mass-change" "$T/err" || fail "the refusal does not say how to proceed"
grep -q "6 of 17" "$T/err" || fail "the refusal does not give the numbers: $(cat "$T/err")"
grep -q "at least 5 files" "$T/err" || fail "the refusal does not give the minimum: $(cat "$T/err")"
cmp "$DRIVE/barge.db" "$T/before.db" || fail "a braked scan changed the catalog"
expect_exit 2 barge scan # still braked: nothing was recorded
cmp "$DRIVE/barge.db" "$T/before.db" || fail "a second braked scan changed the catalog"

expect_exit 0 barge scan --accept-mass-change --json
expect_eq 6 "$(json '.pairs[0].deleted')" "deleted once accepted"
expect_exit 0 barge scan --json
expect_eq 0 "$(json '.pairs[0].deleted')" "nothing deleted twice"

# A per-pair limit.
barge pair add strict "$SRC" "$T/dst2" --mass-change-limit 0 --mass-change-min 1 >/dev/null
expect_exit 0 barge scan strict
rm "$SRC/f12"
expect_exit 2 barge scan strict

# Below the minimum, no brake: one edited file of a 2-file pair is 50% but 1 file
# (the default minimum is 100). Before 0.2 this refused every load.
mkdir "$T/small"
echo a >"$T/small/a"
echo b >"$T/small/b"
age "$T/small"/*
barge pair add small "$T/small" "$T/dst3" >/dev/null
expect_exit 0 barge load small
echo a2 >"$T/small/a"
expect_exit 0 barge load small --json
expect_eq 1 "$(json '.pairs[0].scan.modified')" "the edit is recorded"
expect_eq 1 "$(json '.pairs[0].carried.files')" "the edited file is carried"
# pair set changes the minimum: now the same kind of edit brakes.
expect_exit 0 barge pair set small --mass-change-min 1
echo a3 >"$T/small/a"
expect_exit 2 barge load small
grep -q "at least 1 file)" "$T/err" || fail "pair set did not change the minimum: $(cat "$T/err")"
echo ok
