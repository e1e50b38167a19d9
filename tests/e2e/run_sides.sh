#!/usr/bin/env bash
# barge run decides the side per pair by markers, not paths (SPEC §4): both
# sides visible is refused; the first delivery claims the destination (asked,
# --yes, or skipped without a terminal); a claimed destination whose marker is
# gone, or whose parent is missing, is never written.
source "$(dirname "$0")/lib.sh"

setup_pair
echo one >"$SRC/one"
age "$SRC/one"

# At home: the source is visible, the destination unclaimed: run loads.
expect_exit 0 barge run --json
expect_eq source "$(json '.pairs[0].side')" "run at the source loads"
expect_eq 1 "$(json '.pairs[0].carried.files')" "run carried the file"

# Offsite: the source is not visible (another machine). Without a terminal and
# without --yes, an unclaimed destination is skipped with a note, untouched, and
# since no pair was handled, run exits 2 (automation must not read it as done).
mv "$SRC" "$T/src-away"
expect_exit 2 barge run </dev/null
grep -q "not claimed yet" "$T/out" || fail "no note for the unclaimed destination: $(cat "$T/out")"
grep -q "no pair was loaded or unloaded" "$T/err" || fail "run does not say it did nothing: $(cat "$T/err")"
[[ ! -e $DST ]] || fail "run wrote an unclaimed destination without being told to"
expect_exit 0 barge run --yes --json
expect_eq destination "$(json '.pairs[0].side')" "run --yes claims and unloads"
expect_eq one "$(cat "$DST/one")" "delivered"
[[ -n $(ls "$DST/.barge/"*.dest) ]] || fail "no destination marker after the claim"

# Both sides visible (the same machine): run refuses and points to load/unload.
mv "$T/src-away" "$SRC"
expect_exit 2 barge run
grep -q "barge load p" "$T/err" && grep -q "barge unload p" "$T/err" || fail "no pointer to load/unload: $(cat "$T/err")"
expect_exit 0 barge load
expect_exit 0 barge unload

# The destination's disk is "unmounted": its mount point is there, empty.
mv "$SRC" "$T/src-away"
mv "$DST" "$T/dst-away"
mkdir "$DST"
echo two >"$T/src-away/two"
# This machine is where both markers were last seen: an error, not a quiet skip.
expect_exit 2 barge run
grep -q "is its disk mounted" "$T/err" || fail "run does not say why it did nothing: $(cat "$T/err")"
expect_exit 2 barge unload
grep -q "lacks its marker" "$T/err" || fail "unload does not say the marker is missing: $(cat "$T/err")"
[[ -z $(ls -A "$DST") ]] || fail "something was written into the empty mount point"

# A claim creates DEST but never its parent.
barge pair add q "$T/src-away" "$T/no-such-disk/photos" >/dev/null
expect_exit 2 barge unload q
grep -q "no-such-disk" "$T/err" || fail "the missing parent is not named: $(cat "$T/err")"
[[ ! -e $T/no-such-disk ]] || fail "the claim created the parent"
echo ok
