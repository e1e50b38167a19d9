#!/usr/bin/env bash
# A second drive added to a pair before the first drive's first load (SPEC §9:
# `pair add` on a second drive, where SOURCE holds the marker of a pair with the
# same destination, joins that pair). A drive joins through the other drive's
# catalog copy at the source, which only a load leaves; before, the second
# `pair add` silently made an independent pair at the same destination, whose
# deliveries nothing ordered against the first's (random_live_source.sh with
# two drives found a drive's verify-destination reporting the other pair's
# newer file as corrupt). Now, where a source marker's pair is described by no
# readable copy, another drive's `pair add` refuses (exit 2), naming the marker,
# and leaves nothing; --separate makes an independent pair; after the first
# drive's load the second joins. A marker this drive wrote is never in its way.
source "$(dirname "$0")/lib.sh"
A=$T/driveA
B=$T/driveB
C=$T/driveC
mkdir -p "$SRC"
for d in "$A" "$B" "$C"; do mkdrive "$d"; done
echo one >"$SRC/one"
head -c 300000 /dev/urandom >"$SRC/big"
age "$SRC/one" "$SRC/big"

expect_exit 0 barge -d "$A" --json pair add p "$SRC" "$DST" --on-delete trash --mass-change-limit 100
PAIR=$(json .id)

# B before A's first load: refused, naming A's marker, and nothing is left.
ls -a "$SRC/.barge" >"$T/before"
expect_exit 2 barge -d "$B" pair add p "$SRC" "$DST"
grep -qF "holds the marker of pair 'p' ($PAIR) of drive ${ID[$A]}" "$T/err" ||
    fail "the refusal does not name A's marker: $(cat "$T/err")"
grep -qF -- "--separate" "$T/err" || fail "the refusal does not name --separate: $(cat "$T/err")"
ls -a "$SRC/.barge" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the refused pair add left something at the source: $(diff "$T/before" "$T/after")"
expect_exit 0 barge -d "$B" --json pair list
expect_eq 0 "$(json '.pairs | length')" "B's pairs after the refusal"
# Another destination is refused the same way while A's pair cannot be told apart.
expect_exit 2 barge -d "$B" pair add p "$SRC" "$T/dst2"
# A's own second pair at this source is not in A's way.
expect_exit 0 barge -d "$A" --json pair add q "$SRC" "$T/dst3"
expect_exit 0 barge -d "$A" pair remove q
# --separate: an independent pair, as asked.
expect_exit 0 barge -d "$C" --json pair add p "$SRC" "$T/dst2" --separate
expect_eq false "$(json .joined)" "--separate does not join"
[[ $(json .id) != "$PAIR" ]] || fail "--separate gave A's pair id"
expect_exit 0 barge -d "$C" pair remove p

# After A's first load, B joins: A carries everything, B nothing.
expect_exit 0 barge -d "$A" --json load
expect_eq 2 "$(json '.pairs[0].carried.files')" "files A carried"
expect_exit 0 barge -d "$B" --json pair add p "$SRC" "$DST"
expect_eq true "$(json .joined)" "B joins after A's first load"
expect_eq "$PAIR" "$(json .id)" "B's pair id"
expect_exit 0 barge -d "$A" unload
expect_exit 0 barge -d "$B" --json load
expect_eq 0 "$(json '.pairs[0].carried.files')" "files B carried after A carried them"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "after A's and B's trips"
expect_exit 0 barge -d "$B" verify-destination
echo ok
