#!/usr/bin/env bash
# A duplicate of content the destination holds is made from the destination's
# own verified copy (SPEC §6): on XFS by a reflink (FICLONE), sharing its blocks,
# so the destination's used space does not grow; the copy is still read back
# and compared like any delivered file.
source "$(dirname "$0")/lib.sh"
need_root "mounting a loop image"
command -v mkfs.xfs >/dev/null || skip "xfsprogs is not installed"

truncate -s 320M "$T/dest.img"
mkfs.xfs -q -m reflink=1 "$T/dest.img" 2>/dev/null || skip "mkfs.xfs cannot make a reflink file system here"
mkdir "$T/dest"
mount -o loop "$T/dest.img" "$T/dest" 2>/dev/null || skip "cannot mount a loop device here"
on_exit "umount -l '$T/dest'"
DST=$T/dest/backup

setup_pair --reserve 1M
mkdir -p "$SRC/video"
head -c $((40 << 20)) /dev/urandom >"$SRC/video/clip.mkv"
age "$SRC/video/clip.mkv"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_exit 0 barge dump-cargo --yes

used() { sync; df --output=used -k "$T/dest" | tail -1; }
cp -p "$SRC/video/clip.mkv" "$SRC/clip-again.mkv"
expect_exit 0 barge scan
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "the duplicate carries no bytes"
before=$(used)
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.local_copies')" "made from the destination's copy"
after=$(used)
echo "destination used: $before KiB before, $after KiB after"
(( after - before < 4096 )) || fail "the destination grew by $((after - before)) KiB: not a reflink"
expect_same_tree "$SRC" "$DST" "after the reflinked duplicate"
expect_exit 0 barge verify-destination
echo ok
