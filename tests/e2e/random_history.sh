#!/usr/bin/env bash
# Random histories (random_history.pl, deterministic per seed): rounds of
# random changes to a source (new, edited, deleted, renamed files; new,
# removed, renamed and moved directories; modes; mtimes set back to old
# values, also of directories written into; symlinks; hard links; a file
# becoming a directory and back; editors' saves over a name, half with the
# same content and mtime, which break a hard link), each followed by a load
# and an unload; one round in three the unload is first killed at a random
# rename, mkdir or barrier, and run again. After every round the destination equals the source
# byte for byte (contents, modes, owners, mtimes of files and directories,
# symlinks, hard links) and verify-destination passes. BARGE_HISTORY_SEED and
# BARGE_HISTORY_ROUNDS change the seed (default 1) and rounds (default 24);
# BARGE_HISTORY_EXFAT=1 puts the drive on a 64 MiB exFAT file system, as on
# most external drives (random_history_exfat.sh); BARGE_HISTORY_FIDELITY=1
# adds extended attributes, POSIX ACLs and sparse files to the changes and
# compares them too: each entry's attributes and ACL, each file's holes
# (random_history_fidelity.sh); BARGE_HISTORY_ROOM=BYTES (with
# BARGE_HISTORY_EXFAT=1, whose file system holds only the drive) gives each
# load that much room on the drive for pieces, counting those already there,
# as a drive much smaller than a round's changes: the drive fills, delivered
# pieces are reclaimed, and each round makes trips until nothing waits
# (random_history_small_drive.sh).
source "$(dirname "$0")/lib.sh"
command -v perl >/dev/null || skip "perl is not installed"
history_kills
seed=${BARGE_HISTORY_SEED:-1}
rounds=${BARGE_HISTORY_ROUNDS:-24}
options=()
if [[ ${BARGE_HISTORY_EXFAT:-0} == 1 ]]; then
    exfat_mount xdrive
    DRIVE=$T/xdrive/drive
    export BARGE_DRIVE=$DRIVE
    options=(--reserve 1M) # the default reserve (1 GiB) is more than the drive
fi
if [[ ${BARGE_HISTORY_FIDELITY:-0} == 1 ]]; then
    for tool in getfattr setfattr getfacl setfacl; do
        command -v $tool >/dev/null || skip "$tool is not installed"
    done
    touch "$T/probe"
    setfattr -n user.probe -v 1 "$T/probe" 2>/dev/null || skip "$T holds no user extended attributes"
    setfacl -m u:nobody:r "$T/probe" 2>/dev/null || skip "$T holds no POSIX ACLs"
    export BARGE_HISTORY_FIDELITY MANIFEST_XATTRS=1 MANIFEST_BLOCKS=1
fi
setup_pair --mass-change-limit 100 --on-delete trash "${options[@]}"
mkdir -p "$SRC/base/sub"
echo one >"$SRC/base/one"
echo two >"$SRC/base/sub/two"
room=${BARGE_HISTORY_ROOM:-}
if [[ -n $room ]]; then
    [[ ${BARGE_HISTORY_EXFAT:-0} == 1 ]] || fail "BARGE_HISTORY_ROOM needs BARGE_HISTORY_EXFAT=1 (a file system that holds only the drive)"
fi
# set_room: the reserve that leaves $room bytes for pieces, those on the cargo
# included (free space less the 8 MiB barge keeps for the catalog; the
# cargo's fan-out directories, once made, are the drive's, as the catalog is). After a
# scan, as from cron: the load's own scan then finds nothing to record, and
# the catalog, which shares the drive, takes no more of the room than it has.
set_room() {
    expect_exit 0 barge scan
    local free cargo
    free=$(stat -f -c '%a %S' "$DRIVE" | awk '{ print $1 * $2 }')
    cargo=$(find "$DRIVE/cargo" -type f -printf '%b\n' | awk '{ s += $1 * 512 } END { print s + 0 }')
    expect_exit 0 barge pair set p --reserve $((free + cargo - (8 << 20) - room))
}
# trip: a load, and an unload (killed first on every third round's first trip).
trip() {
    [[ -z $room ]] || set_room
    expect_exit 0 barge load
    cp "$T/out" "$T/load.out"
    ! grep -q "reclaimed [0-9]* delivered piece" "$T/out" || reclaims=$((reclaims + 1))
    if [[ $kills == yes && $((round % 3)) == 0 && $1 == 0 ]]; then
        history_killed_unload "(the unload)"
    fi
    rc=0
    barge unload >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc != 0 ]]; then
        cat "$T/out" "$T/err" >&2
        history_failed "the unload exited $rc"
    fi
}
full_trips=0 reclaims=0 # trips beyond the first of a round (the drive was full); loads that reclaimed
RANDOM=$seed
# On a failure: the whole history, and with BARGE_HISTORY_KEEP=DIR the trees
# and the drive copied there (history_failed).
for round in $(seq 1 "$rounds"); do
    echo "round $round:" >>"$T/history"
    perl "$(dirname "$0")/random_history.pl" "$SRC" "$((seed * 1000 + round))" >>"$T/history"
    trip 0
    trips=1
    while grep -q "still waiting at the source" "$T/load.out"; do
        [[ -n $room ]] || history_failed "files wait at the source: $(cat "$T/load.out")"
        grep -q "drive full" "$T/load.out" || history_failed "files wait, but not for room: $(cat "$T/load.out")"
        ((trips < 30)) || history_failed "files still wait after 30 trips"
        expect_exit 0 barge verify-destination
        trip $trips
        trips=$((trips + 1))
        full_trips=$((full_trips + 1))
    done
    ((trips == 1)) || echo "$trips trips" >>"$T/history"
    if ! manifest "$SRC" >"$T/m.src" || ! manifest "$DST" >"$T/m.dst" || ! cmp -s "$T/m.src" "$T/m.dst"; then
        diff "$T/m.src" "$T/m.dst" | head -20 >&2 || true
        history_failed "the destination differs from the source"
    fi
    same_links "$SRC" "$DST" || history_failed "the destination's hard links differ from the source's"
    expect_exit 0 barge verify-destination
done
[[ -z $room ]] || ((full_trips > 0 && reclaims > 0)) ||
    fail "the drive of $room bytes was full after $full_trips trips and reclaimed pieces in $reclaims loads: neither may be 0"
