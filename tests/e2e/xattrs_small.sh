#!/usr/bin/env bash
# A destination whose file system rejects an attribute's value (ext4 with
# 128-byte inodes and 1 KiB blocks has 1 KiB for a file's attributes: ENOSPC):
# the file arrives with its other attributes and the pair gets one note counting
# what was rejected, instead of the file failing on every run.
source "$(dirname "$0")/lib.sh"
need_root "mounting an ext4 loop image"
command -v setfattr >/dev/null || skip "setfattr is not installed (scripts/install-deps --test)"
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is not installed"
mkdir -p "$T/probe"
big=$(head -c 3000 /dev/zero | tr '\0' a)
setfattr -n user.big -v "$big" "$T/probe" 2>/dev/null || skip "the file system of $T holds no 3000-byte attribute"

truncate -s 32M "$T/dest.img"
mkfs.ext4 -q -F -I 128 -b 1024 -O ^ea_inode "$T/dest.img" 2>/dev/null
mkdir -p "$T/dest"
mount -o loop "$T/dest.img" "$T/dest" 2>/dev/null || skip "cannot mount a loop device here"
on_exit "umount -l '$T/dest'"
DST=$T/dest/backup

mkdir -p "$SRC"
printf 'big attribute\n' >"$SRC/big.txt"
setfattr -n user.big -v "$big" "$SRC/big.txt"
setfattr -n user.small -v kept "$SRC/big.txt"
printf 'plain\n' >"$SRC/plain.txt"
setfattr -n user.small -v also "$SRC/plain.txt"
age "$SRC"/*
barge init "$DRIVE" --piece-size 1M >/dev/null
barge pair add p "$SRC" "$DST" --reserve 1M >/dev/null
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 2 "$(json '.pairs[0].delivered.files')" "both files delivered"
expect_eq 1 "$(json '.pairs[0].notes | map(select(test("1 extended attribute rejected by the destination"))) | length')" "one note counting the rejected attribute"
expect_eq "kept" "$(getfattr --only-values -n user.small "$DST/big.txt")" "the file's other attribute"
expect_eq "also" "$(getfattr --only-values -n user.small "$DST/plain.txt")" "the other file's attribute"
cmp -s "$SRC/big.txt" "$DST/big.txt" || fail "the content differs"
expect_exit 0 barge unload --json
expect_eq 0 "$(json '.pairs[0].problems | length')" "no failure on the next run"
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].failed.files + .pairs[0].pending.files + .pairs[0].on_cargo.files')" "nothing left"
echo ok
