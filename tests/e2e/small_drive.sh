#!/usr/bin/env bash
# A reserve that leaves no room on a small drive (SPEC §5, issue 11): a 60 MiB
# drive with the default 1 GiB reserve used to say "drive full: 8 files waiting"
# with the drive empty, and pair add said nothing. Now pair add and pair set warn
# with the numbers, load says why nothing fits (capacity, free space, reserve and
# the room kept for the catalog), and pair set --reserve fixes it.
source "$(dirname "$0")/lib.sh"
need_root "mounting a loop image"

truncate -s 60M "$T/drive.img"
mkfs.ext4 -q -F -m 0 "$T/drive.img"
mkdir "$T/mnt"
mount -o loop "$T/drive.img" "$T/mnt" 2>/dev/null || skip "cannot mount a loop device here"
on_exit "umount -l '$T/mnt'"
DRIVE=$T/mnt/barge
export BARGE_DRIVE=$DRIVE
mkdir -p "$SRC"
for i in $(seq 1 8); do head -c 2M /dev/urandom >"$SRC/f$i"; done
age "$SRC"/*

expect_exit 0 barge init "$DRIVE"
expect_exit 0 barge pair add p "$SRC" "$DST"
grep -q "warning: pair 'p': the reserve of 1.0 GiB leaves no room on this drive (capacity [0-9.]* MiB)" "$T/err" ||
    fail "pair add does not warn with the numbers: $(cat "$T/err")"
expect_exit 0 barge pair add p2 "$SRC" "$T/dst2" --json
expect_eq 1 "$(json '.warnings | length')" "the warning in --json"

expect_exit 0 barge load p
grep -q "drive full: 8 files (16.0 MiB) still waiting" "$T/out" || fail "load summary: $(cat "$T/out")"
grep -q "the reserve leaves no room on this drive (.* free of .* MiB, less the reserve of 1.0 GiB and 8.0 MiB kept for the catalog" "$T/out" ||
    fail "load does not say why nothing fits: $(cat "$T/out")"
grep -q "pair set p --reserve" "$T/out" || fail "load does not say how to fix it: $(cat "$T/out")"

expect_exit 0 barge pair set p --reserve 1M
[[ ! -s $T/err ]] || fail "a reserve that fits still warns: $(cat "$T/err")"
expect_exit 0 barge load p --json
expect_eq 8 "$(json '.pairs[0].carried.files')" "carried once the reserve fits"
expect_exit 0 barge pair set p --reserve 2G
grep -q "warning: pair 'p': the reserve of 2.0 GiB leaves no room" "$T/err" || fail "pair set does not warn: $(cat "$T/err")"
echo ok
