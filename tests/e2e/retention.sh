#!/usr/bin/env bash
# Trash and old versions are kept for the pair's retention, then pruned (SPEC
# §7.5): an unload removes the folders of DEST/.barge/trash and .barge/versions
# older than --retention days, keeps the younger ones, and never follows a
# symlink found inside them (the destination is not trusted to be barge's alone);
# with --retention 0, what a run sets aside lasts until the next unload.
source "$(dirname "$0")/lib.sh"

setup_pair --on-delete trash --retention 2 --mass-change-limit 100
mkdir -p "$SRC/d"
echo one >"$SRC/d/a"
echo two >"$SRC/d/b"
age "$SRC/d"/*
expect_exit 0 barge load
expect_exit 0 barge unload
rm "$SRC/d/a"
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].trashed')" "files moved to trash"
expect_eq 0 "$(json '.pairs[0].pruned')" "folders pruned while young"
young=$(ls "$DST/.barge/trash")
[[ -n $young ]] || fail "no trash folder"

# Folders named for three days ago (past the retention) and for yesterday (not);
# the old one holds a symlink to a directory outside the destination.
stamp() { date -u -d "$1" +%Y-%m-%dT%H%M%S.000000000Z; }
old=$(stamp '3 days ago')
recent=$(stamp '1 day ago')
mkdir -p "$DST/.barge/trash/$old/d" "$DST/.barge/versions/$old" "$DST/.barge/versions/$recent"
echo gone >"$DST/.barge/trash/$old/d/x"
mkdir -p "$T/outside"
echo precious >"$T/outside/keep"
ln -s "$T/outside" "$DST/.barge/versions/$old/link"
echo kept >"$DST/.barge/versions/$recent/y"

expect_exit 0 barge unload --json
expect_eq 2 "$(json '.pairs[0].pruned')" "folders past the retention pruned"
[[ ! -e $DST/.barge/trash/$old ]] || fail "old trash folder still there"
[[ ! -e $DST/.barge/versions/$old ]] || fail "old versions folder still there"
[[ -e $DST/.barge/trash/$young ]] || fail "young trash folder pruned"
[[ -e $DST/.barge/versions/$recent/y ]] || fail "recent versions folder pruned"
[[ $(cat "$T/outside/keep") == precious ]] || fail "pruning followed a symlink out of the destination"
expect_same_tree "$SRC" "$DST"

# --retention 0: what an unload sets aside lasts until the next unload, not
# pruned at the end of the run that made it (an unload that ran past a second
# boundary, here held 1.1 s in its last rename, once removed it at once).
expect_exit 0 barge pair set p --retention 0
echo gone-soon >"$SRC/d/c"
age "$SRC/d/c"
expect_exit 0 barge load
expect_exit 0 barge unload
rm "$SRC/d/c"
echo "two, edited" >"$SRC/d/b"
age "$SRC/d/b"
expect_exit 0 barge load
if ! command -v strace >/dev/null; then
    echo "retention 0 skipped: strace is not installed (it holds the unload past a second)" >&2
    echo "ok"
    exit 0
fi
no_leak_check_under_strace
strace -f -qq -o /dev/null -e trace=renameat2 -e inject=renameat2:delay_enter=1100000:when=1 \
    "$BARGE" --json unload >"$T/out" 2>"$T/err" || fail "the held unload failed: $(cat "$T/err")"
expect_eq 1 "$(json '.pairs[0].trashed')" "c moved to trash"
kept=$(find "$DST/.barge/trash" -name c -path '*/d/c')
[[ -n $kept && $(cat "$kept") == gone-soon ]] || fail "the trash of this unload was pruned by it"
[[ $(cat "$(find "$DST/.barge/versions" -path '*/d/b' | head -1)") == two ]] || fail "the old version of b was pruned by the unload that kept it"
expect_exit 0 barge --json unload
[[ -z $(find "$DST/.barge/trash" -name c) ]] || fail "the next unload did not prune the trash (retention 0)"
expect_same_tree "$SRC" "$DST"
echo "ok"
