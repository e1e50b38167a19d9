#!/usr/bin/env bash
# A 64 MiB ext4 drive carrying far more than it holds, including one file larger
# than the whole drive, over several trips; the reserve is respected on every trip
# and the destination ends up identical to the source.
source "$(dirname "$0")/lib.sh"
need_root "mounting a loop image"

truncate -s 64M "$T/drive.img"
mkfs.ext4 -q -F -m 0 "$T/drive.img"
mkdir "$T/mnt"
mount -o loop "$T/drive.img" "$T/mnt" 2>/dev/null || skip "cannot mount a loop device here"
on_exit "umount -l '$T/mnt'"
DRIVE=$T/mnt/barge
export BARGE_DRIVE=$DRIVE

mkdir -p "$SRC/videos" "$SRC/small"
head -c 100M /dev/urandom >"$SRC/videos/huge.mov" # larger than the whole drive
for i in $(seq 1 12); do head -c 3M /dev/urandom >"$SRC/videos/clip$i.mp4"; done
for i in $(seq 1 200); do echo "note $i" >"$SRC/small/n$i.txt"; done
find "$SRC" -exec touch -d '2024-01-01 10:00:00' {} +

barge init "$DRIVE" >/dev/null # piece size: 1/16 of the drive, about 3.5 MiB
capacity=$(stat -f -c '%b * %S' "$T/mnt" | bc)
expect_eq $((capacity / 16)) "$(sql 'SELECT value FROM meta WHERE key = "piece_size"')" "piece size 1/16 of a small drive"
barge pair add p "$SRC" "$DST" --reserve 4M >/dev/null

trips=0
while :; do
    trips=$((trips + 1))
    ((trips <= 12)) || fail "not done after 12 trips"
    expect_exit 0 barge load --json
    avail=$(df -B1 --output=avail "$T/mnt" | tail -1)
    ((avail >= 4 * 1024 * 1024)) || fail "trip $trips: the reserve was eaten: $avail bytes free"
    waiting=$(json '.pairs[0].waiting.files')
    expect_exit 0 barge unload --json
    expect_exit 0 barge status --json
    [[ $(json '.pairs[0].pending.files + .pairs[0].on_cargo.files') -eq 0 ]] && break
done
((trips >= 3)) || fail "164 MiB should not fit a 64 MiB drive in fewer than 3 trips (took $trips)"
expect_same_tree "$SRC" "$DST" "after $trips trips"
echo "ok ($trips trips)"
