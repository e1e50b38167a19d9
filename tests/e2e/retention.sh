#!/usr/bin/env bash
# Trash and old versions are kept for the pair's retention, then pruned (SPEC
# §7.5): an unload removes the folders of DEST/.barge/trash and .barge/versions
# older than --retention days, keeps the younger ones, and never follows a
# symlink found inside them (the destination is not trusted to be barge's alone).
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
echo "ok"
