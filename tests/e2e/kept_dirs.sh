#!/usr/bin/env bash
# A directory deleted at the source whose removal at the destination waits for
# a row below it: a file the unload could not move to the trash (here its
# directory made immutable; in rotation, rows learned from another drive and not
# yet ordered). The directory stays while the file does, and its row is kept,
# so that the unload that finally trashes the file removes the directories too.
# Before, the directories' rows were forgotten when rmdir failed, and the empty
# directories stayed at the destination for good, named by no catalog
# (random_live_source.sh with two drives, 5 seeds of 80).
source "$(dirname "$0")/lib.sh"
command -v chattr >/dev/null || skip "chattr is not installed"
setup_pair --on-delete trash
mkdir -p "$SRC/d/e"
echo x >"$SRC/d/e/f"
echo y >"$SRC/d/g"
echo z >"$SRC/stays"
age "$SRC/d/e/f" "$SRC/d/g" "$SRC/d/e" "$SRC/d" "$SRC/stays"
expect_exit 0 barge load
expect_exit 0 barge unload

rm -r "$SRC/d"
chattr +i "$DST/d/e" 2>/dev/null || skip "$DST holds no immutable attribute"
on_exit "chattr -i '$DST/d/e' 2>/dev/null"
expect_exit 0 barge load
expect_exit 3 barge unload # d/e/f cannot leave d/e
grep -q "d/e/f" "$T/out" || fail "the unload does not name d/e/f: $(cat "$T/out")"
[[ -d $DST/d/e && ! -e $DST/d/g ]] || fail "d/g should be in the trash and d/e still there"
chattr -i "$DST/d/e"

expect_exit 0 barge unload
[[ ! -e $DST/d ]] || fail "d stayed at the destination: $(find "$DST/d")"
expect_same_tree "$SRC" "$DST" "once d/e/f could be trashed"
ls "$DST"/.barge/trash/*/d/e/f >/dev/null || fail "d/e/f is not in the trash"

# A directory whose rmdir fails for another reason (here a mount point: EBUSY)
# is reported, naming it, and keeps its row: before, it was forgotten silently
# and stayed. Once unmounted, the next unload removes it.
mkdir -p "$SRC/m" # empty: the mount must hide nothing barge would trash
age "$SRC/m"
expect_exit 0 barge load
expect_exit 0 barge unload
rm -r "$SRC/m"
mkdir "$T/mnt-src" && echo v >"$T/mnt-src/v"
if mount --bind "$T/mnt-src" "$DST/m" 2>/dev/null; then
    on_exit "umount '$DST/m' 2>/dev/null"
    expect_exit 0 barge load
    expect_exit 3 barge unload
    grep -q "remove directory.*m'.*busy" "$T/out" || fail "the unload does not name m: $(cat "$T/out")"
    umount "$DST/m"
    expect_exit 0 barge unload
    [[ ! -e $DST/m ]] || fail "m stayed at the destination once unmounted"
    expect_same_tree "$SRC" "$DST" "once m was unmounted"
else
    echo "note: mount --bind is not permitted here: the mount-point case is not run" >&2
fi
echo ok
