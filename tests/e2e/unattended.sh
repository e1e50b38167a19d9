#!/usr/bin/env bash
# Automation must not report success when nothing happened (SPEC §4, issue 11):
# barge remembers the machine (/etc/machine-id) where it last saw each end. There
# a missing marker is an error naming the likely unmounted disk; a pair served at
# another site is a note; and `run` exits 2 when it loaded or unloaded no pair,
# naming each pair and why (also with -q, also without a terminal).
# "Another machine" is a private mount namespace with another /etc/machine-id.
source "$(dirname "$0")/lib.sh"

setup_pair
echo one >"$SRC/one"
age "$SRC/one"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_eq "$(tr -d '\n' </etc/machine-id 2>/dev/null || echo "host:$(hostname)")" \
    "$(sql "SELECT source_machine FROM pairs WHERE name = 'p'")" "the source's machine is remembered"
[[ -n $(sql "SELECT dest_machine FROM pairs WHERE name = 'p'") ]] || fail "the destination's machine is not remembered"

# Both disks unmounted on the machine that saw them last: an error naming the pair
# and the disk, exit 2, nothing written; with -q still on stderr.
mv "$SRC" "$T/src-away"
mv "$DST" "$T/dst-away"
mkdir "$SRC" "$DST"
cp "$DRIVE/barge.db" "$T/before.db"
expect_exit 2 barge run --yes
grep -q "is its disk mounted" "$T/err" || fail "no hint at an unmounted disk: $(cat "$T/err")"
grep -q "no pair was loaded or unloaded" "$T/err" || fail "run does not say it did nothing: $(cat "$T/err")"
grep -q "p: source '$SRC'" "$T/err" || fail "the pair and its source are not named: $(cat "$T/err")"
expect_exit 2 barge -q run --yes
[[ ! -s $T/out ]] || fail "-q printed on stdout"
grep -q "no pair was loaded or unloaded" "$T/err" || fail "-q silenced the error: $(cat "$T/err")"
expect_exit 2 barge load
grep -q "is its disk mounted" "$T/err" || fail "load does not hint at an unmounted disk: $(cat "$T/err")"

# On another machine the same pair is another site's: a note, not an error; yet a
# run that did nothing still exits 2.
need_root "a private mount namespace"
command -v unshare >/dev/null || skip "unshare is not installed"
echo 0123456789abcdef0123456789abcdef >"$T/other-machine-id"
elsewhere() { unshare -m sh -c 'mount --bind "$0" /etc/machine-id && exec "$@"' "$T/other-machine-id" "$@"; }
unshare -m true 2>/dev/null || skip "cannot make a mount namespace here"
expect_exit 2 elsewhere "$BARGE" run --yes
grep -q "served at another site" "$T/out" || fail "no note for another site's pair: $(cat "$T/out")"
grep -q "is its disk mounted" "$T/err" && fail "another site's pair is called unmounted: $(cat "$T/err")"
cmp -s "$DRIVE/barge.db" "$T/before.db" || fail "refused runs changed the catalog"

# A second pair that this site does serve: the run loads it and exits 0, the
# other site's pair being only a note.
mkdir -p "$T/src2"
echo two >"$T/src2/two"
age "$T/src2/two"
expect_exit 0 elsewhere "$BARGE" pair add q "$T/src2" "$T/dst2"
expect_exit 0 elsewhere "$BARGE" run --yes --json
expect_eq "none source" "$(jq -r '[.pairs[].side] | join(" ")' "$T/out")" "sides of p and q"
expect_eq 1 "$(jq -r '.pairs[1].carried.files' "$T/out")" "q carried"

# No terminal, an unclaimed destination and no --yes: skipped with a note, exit 2.
expect_exit 0 barge pair add r "$T/src2" "$T/dst3"
mv "$T/src2" "$T/src2-away"
expect_exit 2 barge run r </dev/null
grep -q "not claimed yet" "$T/out" || fail "no note for the unclaimed destination: $(cat "$T/out")"
[[ ! -e $T/dst3 ]] || fail "an unclaimed destination was written without --yes"
echo ok
