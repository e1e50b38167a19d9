#!/usr/bin/env bash
# Real full disks (issue 5, 3): tiny ext4 loop file systems as the drive and as
# the destination, filled by another process while barge writes to them, so
# that barge meets ENOSPC mid-piece, mid-file or in the catalog's own commit
# (the catalog lives on the drive). Nothing is lost: the run stops or fails
# files cleanly, the catalog stays intact and true, and once space is back the
# next runs finish the job. The destination's reserve is respected by barge.
source "$(dirname "$0")/lib.sh"
need_root "mounting loop images"
command -v strace >/dev/null || skip "strace is not installed"
no_leak_check_under_strace

for name in drive dest; do
    truncate -s 48M "$T/$name.img"
    mkfs.ext4 -q -F -m 0 "$T/$name.img"
    mkdir "$T/$name"
    mount -o loop "$T/$name.img" "$T/$name" 2>/dev/null || skip "cannot mount a loop device here"
    on_exit "umount -l '$T/$name'"
done
DRIVE=$T/drive/barge
DST=$T/dest/backup
export BARGE_DRIVE=$DRIVE
mkdir -p "$SRC"
for i in $(seq 1 8); do head -c 3M /dev/urandom >"$SRC/clip$i"; done
for i in $(seq 1 150); do echo "note $i" >"$SRC/note$i"; done
age "$SRC"/*
barge init "$DRIVE" --piece-size 1M >/dev/null
barge pair add p "$SRC" "$DST" --reserve 2M >/dev/null

# fill_while MOUNT COMMAND...: runs barge COMMAND slowed down (every read
# delayed) while another process fills MOUNT to the last block, 0.3 s in or,
# with FILL_WHEN=DIR, as soon as barge writes into DIR; leaves the exit code in
# $rc. The filler's file is removed afterwards.
fill_while() {
    local mnt=$1 when=${FILL_WHEN:-}
    shift
    (
        if [[ -n $when ]]; then # once barge has started writing there
            until [[ -n $(find "$when" -type f -size +0 2>/dev/null) || -e $T/barge-done ]]; do sleep 0.01; done
        else
            sleep 0.3
        fi
        dd if=/dev/zero of="$mnt/filler" bs=64K status=none 2>/dev/null || true
    ) &
    local filler=$!
    rc=0
    rm -f "$T/barge-done"
    strace -f -qq -o /dev/null -e trace=pread64 -e inject=pread64:delay_enter=20000 \
        "$BARGE" "$@" >"$T/out" 2>"$T/err" || rc=$?
    touch "$T/barge-done"
    wait $filler
    full=$(df -B1 --output=avail "$mnt" | tail -1)
    rm -f "$mnt/filler"
}

# true_catalog: intact, and what it records is there.
true_catalog() {
    expect_eq ok "$(sql 'PRAGMA integrity_check')" "catalog integrity ($1)"
    expect_exit 0 barge verify-middle
    if [[ -d $DST/.barge ]]; then expect_exit 0 barge verify-destination; fi
}

# Mid-catalog-commit: the load's scan commits while the drive fills.
fill_while "$T/drive" load
echo "load on a drive filling up: exit $rc, $full bytes were left: $(tail -1 "$T/err")" >&2
[[ $rc -eq 0 || $rc -eq 1 || $rc -eq 3 ]] || fail "load on a full drive exited $rc: $(cat "$T/err")"
((full < 2 * 1024 * 1024)) || fail "the filler did not fill the drive ($full bytes left)"
if [[ $rc -ne 0 ]]; then
    grep -q -e "No space left" -e "full" -e "database or disk is full" "$T/err" "$T/out" ||
        fail "no word about the full drive: $(cat "$T/err" "$T/out")"
fi
true_catalog "after the drive filled up"

# Mid-piece: scanned beforehand, so the drive fills while pieces are written.
for i in 9 10; do head -c 3M /dev/urandom >"$SRC/clip$i"; done
age "$SRC"/clip*
expect_exit 0 barge scan
FILL_WHEN=$DRIVE/cargo/tmp fill_while "$T/drive" load
echo "load of scanned files on a drive filling up: exit $rc: $(tail -1 "$T/err") $(cat "$T/out")" >&2
# A drive that fills up while pieces are written is "drive full" (exit 0, the
# rest waits: SPEC §5) or a stop (1): never a piece recorded that is not whole.
[[ $rc -eq 0 || $rc -eq 1 || $rc -eq 3 ]] || fail "load meeting a full drive mid-piece exited $rc"
grep -q -e "No space left" -e "drive full" -e "disk is full" "$T/err" "$T/out" ||
    fail "no word about the full drive: $(cat "$T/err" "$T/out")"
# A stop (exit 1: the drive failed a piece directory's mkdir) can leave pieces
# of the batch named but not recorded (its commit never came): they are not on
# the cargo as far as the catalog knows, and the next load's cargo check
# removes them.
true_catalog "after the drive filled up mid-piece"

expect_exit 0 barge load
[[ -z $(ls "$DRIVE/cargo/tmp") ]] || fail "temporary pieces left after a clean load"
expect_eq "$(sql "SELECT count(*) FROM pieces WHERE on_cargo = 1")" \
    "$(find "$DRIVE/cargo" -path "$DRIVE/cargo/tmp" -prune -o -type f -print | wc -l)" \
    "pieces on the cargo after a clean load: every file the catalog's"
true_catalog "after a clean load"

fill_while "$T/dest" unload
echo "unload on a destination filling up: exit $rc: $(grep -m1 -i "space\|full" "$T/out" "$T/err")" >&2
[[ $rc -eq 0 || $rc -eq 1 || $rc -eq 3 ]] || fail "unload on a full destination exited $rc: $(cat "$T/err")"
if [[ -d $DST/.barge ]]; then
    [[ -z $(find "$DST" -path "$DST/.barge" -prune -o -name 'tmp-*' -print) ]] || fail "a temporary file at a final name"
fi
true_catalog "after the destination filled up"

# Space back: the trips go on until everything is there; barge itself never
# eats the destination's reserve.
for trip in 1 2 3 4 5 6; do
    expect_exit 0 barge unload
    avail=$(df -B1 --output=avail "$T/dest" | tail -1)
    ((avail >= 2 * 1024 * 1024)) || fail "barge ate the destination's reserve: $avail bytes free"
    expect_exit 0 barge load
    expect_exit 0 barge status --json
    [[ $(json '.pairs[0].pending.files + .pairs[0].on_cargo.files') -eq 0 ]] && break
done
expect_same_tree "$SRC" "$DST" "after the disks filled up"
echo ok
