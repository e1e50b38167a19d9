#!/usr/bin/env bash
# The mass-change brake (SPEC §7.6): a scan that finds more than the limit of known
# files deleted or modified records nothing and exits 2, until --accept-mass-change.
source "$(dirname "$0")/lib.sh"

setup_pair # default limit 25%
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
cmp "$DRIVE/barge.db" "$T/before.db" || fail "a braked scan changed the catalog"
expect_exit 2 barge scan # still braked: nothing was recorded
cmp "$DRIVE/barge.db" "$T/before.db" || fail "a second braked scan changed the catalog"

expect_exit 0 barge scan --accept-mass-change --json
expect_eq 6 "$(json '.pairs[0].deleted')" "deleted once accepted"
expect_exit 0 barge scan --json
expect_eq 0 "$(json '.pairs[0].deleted')" "nothing deleted twice"

# A per-pair limit.
barge pair add strict "$SRC" "$T/dst2" --mass-change-limit 0 >/dev/null
expect_exit 0 barge scan strict
rm "$SRC/f12"
expect_exit 2 barge scan strict
echo ok
