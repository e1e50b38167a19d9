#!/usr/bin/env bash
# A live source, as cron meets it (SPEC §7.7, §7.8): while `barge scan` and
# `barge load` run, live_mutator.pl changes the tree without pause (new,
# rewritten, appended, truncated, deleted, renamed and hard-linked files;
# directories made, removed, moved and replaced by files; files replaced by
# symlinks and back; modes; mtimes set back; user.* extended attributes where
# setfattr works here, and POSIX ACLs where setfacl does and barge runs as
# root, which alone carries them; all compared at the end too).
#
# Each round: scan and load must exit 0 with nothing on stderr (a race with the
# user is a note, never a failure), the unload must exit 0, every file at the
# destination must hold a state its source file really had (the mutator logs
# each state's MD5; a file delivered torn, bytes of two states, is not among
# them), and verify-destination must find what the catalog says was delivered.
# Then the source settles, and one more trip makes the destination equal to the
# source byte for byte (contents, modes, mtimes, symlinks, hard links,
# attributes), verify-destination passes and status lists no file missed (one a
# scan or a load found changing: each has been carried since). Where strace can slow system
# calls, every other round runs barge with each stat and read of the walk and
# the hashing delayed (2 ms), so that more changes land inside a scan and a load.
#
# BARGE_LIVE_SEED (default 1) seeds the changes (not their timing against
# barge, which varies from run to run); BARGE_LIVE_ROUNDS (default 8).
# BARGE_LIVE_DRIVES=N (default 1) serves the pair with N drives in rotation,
# one round each in turn, each unloaded at once; at the end each makes a trip
# and must find nothing left to carry; each run must have read the other
# drives' catalog copies. The other options each fail the test unless they
# caught something:
# - BARGE_LIVE_ENCRYPT=1 encrypts the first drive (and the third, ...): sealed
#   cargo and catalog copies;
# - BARGE_LIVE_PARTIAL=1 gives each round's load a --max-bytes of 64 KiB to
#   1 MiB, so that loads stop part way through a changing tree (some must);
# - BARGE_LIVE_BUDGET=1 gives each round's scan a --max-time of 10 to 90 ms,
#   so that scans stop part way through their hashing (some must);
# - BARGE_LIVE_KILLS=1 kills (SIGKILL) a scan (2 to 80 ms after it starts, of
#   about 100 ms) or a load (5 to 200 ms), in the order scan, load, load, scan,
#   at full speed, in every other turn of the drives (rounds 1, 3, 5, 7 with one
#   drive; 1, 2, 5, 6 with two), before the round's own scan and load, which
#   must then exit 0 with nothing on stderr (some run must be killed while it
#   held the drive);
# - BARGE_LIVE_EXFAT=1 puts each drive on its own 64 MiB exFAT file system, as
#   most external drives come.
# random_live_rotation.sh runs two drives with all but exFAT.
source "$(dirname "$0")/lib.sh"
command -v perl >/dev/null || skip "perl is not installed"
seed=${BARGE_LIVE_SEED:-1}
rounds=${BARGE_LIVE_ROUNDS:-8}
drives=${BARGE_LIVE_DRIVES:-1}
mutator=$(dirname "$0")/live_mutator.pl
touch "$T/probe"
if command -v setfattr >/dev/null && setfattr -n user.probe -v 1 "$T/probe" 2>/dev/null; then
    export LIVE_XATTRS=1 MANIFEST_XATTRS=1
    if [[ $(id -u) -eq 0 ]] && command -v getfacl >/dev/null &&
        setfacl -m u:nobody:r "$T/probe" 2>/dev/null; then
        export LIVE_ACLS=1
    fi
fi
slow=()
if command -v strace >/dev/null &&
    strace -f -qq -o /dev/null -e inject=getpid:delay_enter=1 true 2>/dev/null; then
    no_leak_check_under_strace
    # Not pread64: the catalog's reads stay fast (load reads the source that
    # way too, but its scan's stats are slowed).
    slow=(strace -f -qq -o /dev/null -e trace=newfstatat,read
        -e inject=newfstatat:delay_enter=2000 -e inject=read:delay_enter=2000)
fi

encrypt=${BARGE_LIVE_ENCRYPT:-0}
partial=${BARGE_LIVE_PARTIAL:-0}
kept_back=0 # loads that stopped at --max-bytes
kills=${BARGE_LIVE_KILLS:-0}
killed=0 # runs that a kill ended while they held the drive
tries=0  # runs started to be killed
budget=${BARGE_LIVE_BUDGET:-0}
stopped=0 # scans that stopped at --max-time
missed=0 # rounds after which status listed files missed (changed while read)
if [[ $encrypt == 1 ]]; then
    printf 'passphrase of the live source\n' >"$T/pass"
    export BARGE_PASSPHRASE_FILE=$T/pass
fi
# init_drive N PATH: drive N, encrypted when BARGE_LIVE_ENCRYPT=1 and N is odd.
init_drive() {
    if [[ $encrypt == 1 ]] && (($1 % 2 == 1)); then
        init_encrypted "$2"
    else
        expect_exit 0 barge init "$2" --piece-size 1M
    fi
}
exfat=${BARGE_LIVE_EXFAT:-0}
options=()
# drive_path N: sets d to where drive N lives (on its own exFAT mount with
# BARGE_LIVE_EXFAT=1).
drive_path() {
    d=$T/drive$1
    [[ $exfat == 1 ]] || return 0
    exfat_mount "x$1"
    d=$T/x$1/drive
}
if [[ $exfat == 1 ]]; then
    options=(--reserve 1M) # the default reserve (1 GiB) is more than the drive
    drive_path 1
    DRIVE=$d
    export BARGE_DRIVE=$DRIVE
fi
mkdir -p "$SRC"
init_drive 1 "$DRIVE"
expect_exit 0 barge pair add p "$SRC" "$DST" --mass-change-limit 100 --on-delete trash --exclude '*.tmp' "${options[@]}"
: >"$T/states"
perl "$mutator" "$SRC" "$seed" "$T/stop" "$T/states" 150
expect_exit 0 barge load
expect_exit 0 barge unload
# The other drives join once the first has loaded (join_before_load.sh).
DRIVES=("$DRIVE")
for ((i = 2; i <= drives; i++)); do
    drive_path "$i"
    DRIVES+=("$d")
    init_drive "$i" "$d"
    expect_exit 0 barge -d "$d" --json pair add p "$SRC" "$DST" "${options[@]}"
    expect_eq true "$(json .joined)" "drive $i joins the pair"
done

# untorn WHEN: fails unless every file at the destination (not in .barge/)
# holds a state the mutator logged.
untorn() {
    find "$DST" -path "$DST/.barge" -prune -o -type f -exec md5sum {} + >"$T/dst.md5"
    awk 'NR == FNR { ok[$1] = 1; next } !($1 in ok) { print $2 }' "$T/states" "$T/dst.md5" >"$T/torn"
    [[ ! -s $T/torn ]] || fail "$1: the destination holds a state no source file had: $(head -5 "$T/torn")"
}
untorn "the first trip"

for ((round = 1; round <= rounds; round++)); do
    export BARGE_DRIVE=${DRIVES[(round - 1) % drives]}
    beside "the mutator" "$T/stop" perl "$mutator" "$SRC" "$((seed * 1000 + round))" "$T/stop" "$T/states"
    sleep 0.2
    run=("$BARGE")
    ((round % 2 == 0)) && run=("${slow[@]}" "$BARGE")
    limit=() max_time=()
    [[ $budget != 1 ]] || max_time=(--max-time "0.0$((1 + (seed * 3 + round) % 9))s")
    [[ $partial != 1 ]] || limit=(--max-bytes $(((1 + (seed * 7 + round * 5) % 16) * 65536)))
    if [[ $kills == 1 ]] && (((round - 1) / drives % 2 == 0)); then
        victim=(scan)
        ms=$(((seed * 31 + round * 17) % 79 + 2))
        if (((tries + tries / 2) % 2 == 1)); then # scan, load, load, scan, ...
            victim=(load "${limit[@]}")
            ms=$(((seed * 31 + round * 17) % 196 + 5))
        fi
        tries=$((tries + 1))
        # Not timeout(1): it sends SIGKILL to its process group, itself
        # included, so it can end while barge still holds the drive's lock,
        # and the next run finds it held; wait returns once barge is gone.
        "$BARGE" "${victim[@]}" >"$T/out" 2>"$T/err" &
        pid=$!
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        kill -KILL $pid 2>/dev/null || true
        rc=0
        wait $pid || rc=$?
        held=no # it wrote its pid into the lock file once it held the drive
        ! grep -q "pid $pid " "$BARGE_DRIVE/barge.lock" 2>/dev/null || held=yes
        echo "round $round: ${victim[0]} on $(basename "$BARGE_DRIVE"), killed after $ms ms: exit $rc, held the drive: $held"
        if [[ $rc != 0 && $rc != 137 ]] || [[ $rc == 0 && -s $T/err ]]; then
            stop_beside
            fail "round $round: ${victim[0]}, to be killed, exited $rc: $(cat "$T/out" "$T/err")"
        fi
        [[ $rc != 137 || $held != yes ]] || killed=$((killed + 1))
        all_copies_read || fail "round $round: ${victim[0]} could not read another drive's catalog copy"
    fi
    for cmd in scan load; do
        rc=0
        if [[ $cmd == load ]]; then
            "${run[@]}" load "${limit[@]}" >"$T/out" 2>"$T/err" || rc=$?
        else
            "${run[@]}" scan "${max_time[@]}" >"$T/out" 2>"$T/err" || rc=$?
        fi
        if [[ $rc -ne 0 || -s $T/err ]]; then
            stop_beside
            fail "round $round: $cmd exited $rc: $(cat "$T/out" "$T/err")"
        fi
        all_copies_read || fail "round $round: $cmd could not read another drive's catalog copy"
        [[ $cmd != scan ]] || ! grep -q "stopped early" "$T/out" || stopped=$((stopped + 1))
    done
    ! grep -q -e "--max-bytes reached" "$T/out" || kept_back=$((kept_back + 1))
    stop_beside
    expect_exit 0 barge --json status
    (($(json '.pairs[0].missed_files') == 0)) || missed=$((missed + 1))
    expect_exit 0 barge unload
    all_copies_read || fail "round $round: the unload could not read another drive's catalog copy"
    untorn "round $round"
    expect_exit 0 barge verify-destination
done

# Settled: one more trip with each drive, and the destination is the source.
settle
for d in "${DRIVES[@]}"; do
    export BARGE_DRIVE=$d
    expect_exit 0 barge load
    all_copies_read || fail "$d: the last load could not read another drive's catalog copy"
    expect_exit 0 barge unload
    all_copies_read || fail "$d: the last unload could not read another drive's catalog copy"
    expect_exit 0 barge --json status
    expect_eq 0 "$(json '.pairs[0].pending.files')" "$d: files pending once the source settled"
    # Every file a scan or a load found changing has been carried since.
    expect_eq 0 "$(json '.pairs[0].missed_files')" "$d: files missed once the source settled"
    expect_same_tree "$SRC" "$DST" "$d: once the source settled"
    same_links "$SRC" "$DST" || fail "$d: link groups differ once the source settled"
    expect_exit 0 barge verify-destination
done
untorn "once the source settled"
echo "loads kept back by --max-bytes: $kept_back; scans stopped by --max-time: $stopped; runs killed holding the drive: $killed of $tries; rounds that left files missed: $missed"
[[ $partial != 1 ]] || ((kept_back > 0)) || fail "no load of $rounds rounds was kept back by --max-bytes"
[[ $budget != 1 ]] || ((stopped > 0)) || fail "no scan of $rounds rounds stopped at --max-time"
[[ $kills != 1 ]] || ((killed > 0)) || fail "no run of $rounds rounds was killed while it held the drive"
echo ok
