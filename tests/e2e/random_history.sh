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
# (random_history_fidelity.sh).
source "$(dirname "$0")/lib.sh"
command -v perl >/dev/null || skip "perl is not installed"
history_kills
seed=${BARGE_HISTORY_SEED:-1}
rounds=${BARGE_HISTORY_ROUNDS:-24}
options=()
if [[ ${BARGE_HISTORY_EXFAT:-0} == 1 ]]; then
    exfat_mount xdrive
    [[ $(stat -f -c %T "$T/xdrive") == fuseblk ]] || fail "$T/xdrive is not the exFAT mount"
    DRIVE=$T/xdrive/drive
    export BARGE_DRIVE=$DRIVE
    options=(--reserve 1M) # the default reserve (1 GiB) is more than the drive
fi
if [[ ${BARGE_HISTORY_FIDELITY:-0} == 1 ]]; then
    for tool in getfattr setfattr getfacl setfacl xfs_io; do
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
RANDOM=$seed
# On a failure: the whole history, and with BARGE_HISTORY_KEEP=DIR the trees
# and the drive copied there (history_failed).
for round in $(seq 1 "$rounds"); do
    echo "round $round:" >>"$T/history"
    perl "$(dirname "$0")/random_history.pl" "$SRC" "$((seed * 1000 + round))" >>"$T/history"
    expect_exit 0 barge load
    if [[ $kills == yes && $((round % 3)) == 0 ]]; then
        history_killed_unload "(the unload)"
    fi
    rc=0
    barge unload >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc != 0 ]]; then
        cat "$T/out" "$T/err" >&2
        history_failed "the unload exited $rc"
    fi
    if ! manifest "$SRC" >"$T/m.src" || ! manifest "$DST" >"$T/m.dst" || ! cmp -s "$T/m.src" "$T/m.dst"; then
        diff "$T/m.src" "$T/m.dst" | head -20 >&2 || true
        history_failed "the destination differs from the source"
    fi
    same_links "$SRC" "$DST" || history_failed "the destination's hard links differ from the source's"
    expect_exit 0 barge verify-destination
done
