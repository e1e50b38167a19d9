#!/usr/bin/env bash
# Sparse files (SPEC §6): holes are neither carried nor written; the destination
# file has the same holes (the same data map by SEEK_DATA/SEEK_HOLE, and about the
# same allocated blocks) and its hash is that of the full content, so
# verify-destination works unchanged.
source "$(dirname "$0")/lib.sh"

# Pieces larger than the holes, so that holes inside a piece are what is tested
# (with small pieces an all-zero piece would simply be carried once).
PIECE_SIZE=128M setup_pair
command -v perl >/dev/null || skip "perl is needed to read data maps (data_maps)"
blocks() { stat -c %b "$1"; }
# Same holes: the same data map, and allocated blocks within 8 (4 KiB) of each
# other. stat %b also counts the file system's own bookkeeping: ext4 spends a
# 4 KiB extent-tree block on a file whose data the allocator split into more
# than four extents, which depends on free space, not on holes (CI once saw
# 26632 against 26624 for the same data map).
expect_same_holes() {
    local a=$1 b=$2 what=$3
    expect_eq "$(data_map "$a")" "$(data_map "$b")" "data map of $what"
    local ba bb
    ba=$(blocks "$a") bb=$(blocks "$b")
    (( ba - bb <= 8 && bb - ba <= 8 )) || fail "allocated blocks of $what: $ba at the source, $bb at the destination"
}
# A 256 MiB image holding 13 MiB of data in three extents, the last at its end.
truncate -s 256M "$SRC/vm.img"
head -c $((8 << 20)) /dev/urandom | dd of="$SRC/vm.img" bs=1M seek=40 conv=notrunc status=none
head -c $((4 << 20)) /dev/urandom | dd of="$SRC/vm.img" bs=1M seek=150 conv=notrunc status=none
head -c $((1 << 20)) /dev/urandom | dd of="$SRC/vm.img" bs=1M seek=255 conv=notrunc status=none
# Data, then a hole to the end (a file truncated up).
head -c $((5 << 20)) /dev/urandom >"$SRC/tail-hole.bin"
truncate -s 50M "$SRC/tail-hole.bin"
# Smaller than one read block: 64 KiB of data, then a hole, then 4 KiB of data.
head -c 65536 /dev/urandom >"$SRC/small.bin"
head -c 4096 /dev/urandom | dd of="$SRC/small.bin" bs=4096 seek=200 conv=notrunc status=none
# An ordinary file full of zeros: not sparse at the source, so not at the destination.
head -c $((2 << 20)) /dev/zero >"$SRC/zeros.bin"
age "$SRC"/*
src_kib=$(du -sk "$SRC" | cut -f1)
(( $(blocks "$SRC/vm.img") < 100000 )) || skip "this file system does not keep holes"

expect_exit 0 barge load --json
expect_eq $(( (256 << 20) + (50 << 20) + 200 * 4096 + 4096 + (2 << 20) )) "$(json '.pairs[0].carried.bytes')" "logical bytes carried"
cargo_kib=$(du -sk "$DRIVE/cargo" | cut -f1)
echo "source: $src_kib KiB allocated (du), cargo: $cargo_kib KiB"
(( cargo_kib < src_kib + 1024 )) || fail "the cargo holds $cargo_kib KiB for $src_kib KiB of data: holes were carried"

expect_exit 0 barge unload
MANIFEST_BLOCKS=1 expect_same_tree "$SRC" "$DST" "content and allocated blocks"
for f in vm.img tail-hole.bin small.bin zeros.bin; do
    expect_same_holes "$SRC/$f" "$DST/$f" "$f"
    expect_eq "$(b2sum <"$SRC/$f")" "$(b2sum <"$DST/$f")" "BLAKE2b-512 of $f"
done
expect_exit 0 barge verify-destination --json
expect_eq 4 "$(json '.pairs[0].checked')" "files verified"
expect_eq $(( (256 << 20) + (50 << 20) + 200 * 4096 + 4096 + (2 << 20) )) "$(json '.pairs[0].bytes')" "verify-destination hashes the full content"

# A sparse file renamed and carried again after the cargo was emptied: still sparse.
expect_exit 0 barge dump-cargo --yes
cp --sparse=always "$SRC/vm.img" "$SRC/vm-copy.img"
age "$SRC/vm-copy.img"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_holes "$SRC/vm-copy.img" "$DST/vm-copy.img" "the copy"
MANIFEST_BLOCKS=1 expect_same_tree "$SRC" "$DST" "after the second cycle"
echo ok
