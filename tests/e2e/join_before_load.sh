#!/usr/bin/env bash
# A second drive added to a pair before the first drive's first load (SPEC §9:
# `pair add` on a second drive, where SOURCE holds the marker of a pair with the
# same destination, joins that pair). A drive joins through the other drive's
# catalog copy at the source, and before, only a load left one: the second
# `pair add` silently made an independent pair at the same destination, whose
# deliveries nothing ordered against the first's (random_live_source.sh with
# two drives found a drive's verify-destination reporting the other pair's
# newer file as corrupt). Now `pair add` leaves the copy, and where a marker's pair is still
# unknown (a pair added by an earlier barge, its copy gone or unreadable) it
# refuses, naming the marker, unless --separate says an independent pair is meant.
source "$(dirname "$0")/lib.sh"
A=$T/driveA
B=$T/driveB
C=$T/driveC
D=$T/driveD
mkdir -p "$SRC"
for d in "$A" "$B" "$C" "$D"; do mkdrive "$d"; done
echo one >"$SRC/one"
rnd() { head -c "$2" /dev/urandom >"$1"; }
rnd "$SRC/big" 300000
age "$SRC/one" "$SRC/big"

expect_exit 0 barge -d "$A" --json pair add p "$SRC" "$DST" --on-delete trash --mass-change-limit 100
PAIR=$(json .id)
[[ -f $SRC/.barge/catalog-${ID[$A]}.db ]] || fail "A's pair add left no catalog copy at the source"

# B joins at once: the same pair, A's options.
expect_exit 0 barge -d "$B" --json pair add p "$SRC" "$DST"
expect_eq true "$(json .joined)" "B joins before A's first load"
expect_eq "$PAIR" "$(json .id)" "B's pair id"
expect_exit 0 barge -d "$B" --json pair list
expect_eq trash "$(json '.pairs[0].on_delete')" "B has A's --on-delete"

# A pair whose copy is not at the source (added by an earlier barge, or the copy
# removed): its destination is unknown, so C is refused, and nothing is left.
mv "$SRC/.barge/catalog-${ID[$A]}.db" "$T/a-copy.db"
mv "$SRC/.barge/catalog-${ID[$B]}.db" "$T/b-copy.db" 2>/dev/null || true
ls "$SRC/.barge" >"$T/before"
expect_exit 2 barge -d "$C" pair add p "$SRC" "$DST"
grep -qF "holds the marker of pair 'p' ($PAIR) of drive ${ID[$A]}" "$T/err" ||
    fail "the refusal does not name A's marker: $(cat "$T/err")"
grep -qF -- "--separate" "$T/err" || fail "the refusal does not name --separate: $(cat "$T/err")"
ls "$SRC/.barge" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the refused pair add left something at the source: $(diff "$T/before" "$T/after")"
expect_exit 0 barge -d "$C" --json pair list
expect_eq 0 "$(json '.pairs | length')" "C's pairs after the refusal"
# Another destination is refused the same way while it cannot be told apart.
expect_exit 2 barge -d "$C" pair add p "$SRC" "$T/dst2"
# --separate: an independent pair, as asked.
expect_exit 0 barge -d "$C" --json pair add p "$SRC" "$T/dst2" --separate
expect_eq false "$(json .joined)" "--separate does not join"
[[ $(json .id) != "$PAIR" ]] || fail "--separate gave A's pair id"
expect_exit 0 barge -d "$C" pair remove p
mv "$T/a-copy.db" "$SRC/.barge/catalog-${ID[$A]}.db"
# With A's copy back, another destination is another pair, added without --separate.
expect_exit 0 barge -d "$D" --json pair add p "$SRC" "$T/dst2"
expect_eq false "$(json .joined)" "a pair with another destination does not join"

# B joined for real: A carries everything, B nothing; the destination is the source.
expect_exit 0 barge -d "$A" --json load
expect_eq 2 "$(json '.pairs[0].carried.files')" "files A carried"
expect_exit 0 barge -d "$A" unload
expect_exit 0 barge -d "$B" --json load
expect_eq 0 "$(json '.pairs[0].carried.files')" "files B carried after A delivered them"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "after A's and B's trips"
expect_exit 0 barge -d "$B" verify-destination
echo ok
