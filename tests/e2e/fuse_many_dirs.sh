#!/usr/bin/env bash
# A batch of files spread over more directories than barge may hold descriptors
# for, at a FUSE destination (exfat-fuse): there each directory that got a
# rename is fsynced at the batch's barrier, and a descriptor was held for each
# until then. One batch of 1,500 files in 1,500 directories (then the same
# files modified: a versions/ directory more per file) under the common limit
# of 1,024 descriptors is delivered whole, with no "Too many open files".
source "$(dirname "$0")/lib.sh"
exfat_mount mnt
DST=$T/mnt/backup
ulimit -n 1024

for i in $(seq 1 1500); do
    mkdir -p "$SRC/d$i"
    echo "file $i" >"$SRC/d$i/f"
done
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00' {} +
barge init "$DRIVE" --piece-size 1M >/dev/null
barge pair add p "$SRC" "$DST" --reserve 1M --mass-change-limit 100 >/dev/null

check_files() {
    local what=$1
    (cd "$SRC" && find . -path ./.barge -prune -o -type f -print0 | sort -z | xargs -0 b2sum) >"$T/want"
    (cd "$DST" && find . -path ./.barge -prune -o -type f -print0 | sort -z | xargs -0 b2sum) >"$T/got"
    [[ $(wc -l <"$T/want") -eq 1500 ]] || fail "$what: expected 1500 source files"
    cmp -s "$T/want" "$T/got" || fail "$what: the destination's files differ: $(diff "$T/want" "$T/got" | head -5)"
}

expect_exit 0 barge load
expect_exit 0 barge unload
grep -qi "too many open files" "$T/out" "$T/err" && fail "ran out of descriptors: $(head -5 "$T/out")"
check_files "first unload"

for i in $(seq 1 1500); do echo "changed $i" >"$SRC/d$i/f"; done
find "$SRC" -exec touch -h -d '2024-02-01 10:00:00' {} +
expect_exit 0 barge load
expect_exit 0 barge unload
grep -qi "too many open files" "$T/out" "$T/err" && fail "ran out of descriptors: $(head -5 "$T/out")"
check_files "unload of the modified files"
expect_eq 1500 "$(find "$DST/.barge/versions" -type f | wc -l)" "the previous versions kept"
echo ok
