#!/usr/bin/env bash
# Random histories with two drives in rotation (SPEC §9; random_history.pl
# makes the changes, as in random_history.sh): each round changes the source;
# a drive at home is loaded (most rounds) and goes in transit; each drive in
# transit is then unloaded or not, in a random order, so drives arrive late
# and overtake each other while the source goes on changing. One unload in
# three is first killed at a random rename, mkdir or barrier, and run again.
# After every unload, verify-destination with that drive passes (nothing it
# reports damaged is damaged). Every load and unload reads every other
# drive's catalog copy it finds. Every fourth round with no drive in transit,
# and at the end, each drive makes one more trip with the source unchanged;
# then the destination equals the source byte for byte (contents, modes,
# owners, mtimes of files and directories, symlinks, hard links) and
# verify-destination passes with each drive. Not before that trip: what a late drive cannot know
# converges only then (docs/rotation.md: a deletion of files only another
# drive delivered since is applied by a drive's next visit). Whenever both
# drives are home, though, every directory of the last load's source that the
# destination has holds its mode, owner and mtime there.
# BARGE_ROTATION_SEED and BARGE_ROTATION_ROUNDS change the seed (default 1)
# and rounds (default 24), BARGE_ROTATION_DRIVES the number of drives (default
# 2, at most 26: "both" above then means all; with two, a seed's history is
# what it always was); BARGE_ROTATION_APART=1 runs each load out of the
# destination's sight and each unload out of the source's, as at two sites,
# so a drive learns what another did only from the catalog copies at the site
# it visits (random_rotation_apart.sh); BARGE_ROTATION_ENCRYPT=1 encrypts
# every second drive (B, D, ...; random_rotation_encrypted.sh);
# BARGE_ROTATION_EXFAT=1 puts each drive on its own 64 MiB exFAT file system,
# as most external drives come (random_rotation_exfat.sh);
# BARGE_ROTATION_PARTIAL=1 gives each random load a random --max-bytes of 1 to
# 12 blocks of 4 KiB, so files wait at the source over several trips, as when
# the backlog is larger than a drive (the trips with the source unchanged
# still carry everything) (random_rotation_partial.sh);
# BARGE_HISTORY_KEEP=DIR keeps the trees on a failure.
source "$(dirname "$0")/lib.sh"
command -v perl >/dev/null || skip "perl is not installed"
history_kills
seed=${BARGE_ROTATION_SEED:-1}
rounds=${BARGE_ROTATION_ROUNDS:-24}
LETTERS=ABCDEFGHIJKLMNOPQRSTUVWXYZ
ndrives=${BARGE_ROTATION_DRIVES:-2}
((ndrives >= 2 && ndrives <= 26)) || fail "BARGE_ROTATION_DRIVES must be 2 to 26, not '$ndrives'"
DRIVES=()
for i in $(seq 0 $((ndrives - 1))); do
    DRIVES+=("$T/drive${LETTERS:i:1}")
done
reserve=()
if [[ ${BARGE_ROTATION_EXFAT:-0} == 1 ]]; then
    for i in "${!DRIVES[@]}"; do
        L=${LETTERS:i:1}
        exfat_mount "x$L"
        DRIVES[i]=$T/x$L/drive$L
    done
    reserve=(--reserve 1M) # the default reserve (1 GiB) is more than the drive
fi
apart=${BARGE_ROTATION_APART:-0}
# hide DIR, unhide DIR: with apart, DIR out of sight, and back.
hide() { [[ $apart != 1 ]] || mv "$1" "$1.away"; }
unhide() { [[ $apart != 1 ]] || mv "$1.away" "$1"; }
A=${DRIVES[0]}
mkdir -p "$SRC/base/sub"
echo one >"$SRC/base/one"
echo two >"$SRC/base/sub/two"
encrypt=${BARGE_ROTATION_ENCRYPT:-0}
partial=${BARGE_ROTATION_PARTIAL:-0}
kept_back=0 # loads that left files waiting for --max-bytes
if [[ $encrypt == 1 ]]; then
    printf 'passphrase of the rotation\n' >"$T/pass"
    export BARGE_PASSPHRASE_FILE=$T/pass
fi
for i in "${!DRIVES[@]}"; do
    if [[ $encrypt == 1 ]] && ((i % 2 == 1)); then # B, D, ...
        init_encrypted "${DRIVES[i]}"
    else
        mkdrive "${DRIVES[i]}"
    fi
done
expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST" --on-delete trash --mass-change-limit 100 "${reserve[@]}"
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
for d in "${DRIVES[@]:1}"; do
    expect_exit 0 barge -d "$d" --json pair add p "$SRC" "$DST" "${reserve[@]}"
    expect_eq true "$(json .joined)" "$(basename "$d") joins A's pair"
done
# all_home: no drive is in transit.
all_home() {
    local d
    for d in "${DRIVES[@]}"; do [[ -z ${AWAY[$d]:-} ]] || return 1; done
}
RANDOM=$seed
declare -A AWAY LOADED # drive -> 1 when in transit; drive -> the load's number
loads=0
unload() {
    local d=$1 name rc
    name=$(basename "$d")
    hide "$SRC"
    if [[ $kills == yes && $((RANDOM % 3)) == 0 ]]; then
        history_killed_unload "unload $name (load $((LOADED[$d])))" -d "$d"
    fi
    rc=0
    "$BARGE" -d "$d" unload >"$T/out" 2>"$T/err" || rc=$?
    echo "unload $name (load $((LOADED[$d]))): exit $rc" >>"$T/history"
    if [[ $rc != 0 ]]; then
        cat "$T/out" "$T/err" >&2
        history_failed "the unload of $name exited $rc"
    fi
    copies_read "the unload of $name"
    AWAY[$d]=
    rc=0
    "$BARGE" -d "$d" verify-destination >"$T/out" 2>"$T/err" || rc=$?
    [[ $rc == 0 ]] || { cat "$T/out" "$T/err" >&2; history_failed "verify-destination with $name after its unload exited $rc"; }
    unhide "$SRC"
    return 0
}
# copies_read WHAT: fails unless WHAT, the run just made, read every other
# drive's catalog copy it found (an unread copy costs bytes).
copies_read() { all_copies_read || history_failed "$1 could not read another drive's catalog copy"; }
# dirs_of ROOT: each directory's path, mode, owner and mtime, a line each.
dirs_of() { find "$1" -mindepth 1 -path "$1/.barge" -prune -o -type d -printf '%P|%m|%u:%g|%T@\n' | LC_ALL=C sort; }
for round in $(seq 1 "$rounds"); do
    echo "round $round:" >>"$T/history"
    perl "$(dirname "$0")/random_history.pl" "$SRC" "$((seed * 1000 + round))" >>"$T/history"
    home=()
    for d in "${DRIVES[@]}"; do [[ -n ${AWAY[$d]:-} ]] || home+=("$d"); done
    if ((${#home[@]} > 0 && RANDOM % 5 != 0)); then
        d=${home[$((RANDOM % ${#home[@]}))]}
        loads=$((loads + 1))
        rc=0
        limit=()
        [[ $partial != 1 ]] || limit=(--max-bytes $(((1 + RANDOM % 12) * 4096)))
        hide "$DST"
        "$BARGE" -d "$d" load "${limit[@]}" >"$T/out" 2>"$T/err" || rc=$?
        unhide "$DST"
        dirs_of "$SRC" >"$T/dirs.load"
        echo "load $loads on $(basename "$d") ${limit[*]}: exit $rc" >>"$T/history"
        [[ $rc == 0 ]] || { cat "$T/out" "$T/err" >&2; history_failed "the load on $(basename "$d") exited $rc"; }
        copies_read "the load on $(basename "$d")"
        ! grep -q -e "--max-bytes reached" "$T/out" || kept_back=$((kept_back + 1))
        AWAY[$d]=1
        LOADED[$d]=$loads
    fi
    away=()
    for d in "${DRIVES[@]}"; do [[ -z ${AWAY[$d]:-} ]] || away+=("$d"); done
    if ((ndrives == 2)); then
        ((${#away[@]} == 2 && RANDOM % 2 == 0)) && away=("${away[1]}" "${away[0]}")
    else
        for ((i = ${#away[@]} - 1; i > 0; i--)); do # shuffled
            j=$((RANDOM % (i + 1)))
            swap=${away[i]} && away[i]=${away[j]} && away[j]=$swap
        done
    fi
    for d in "${away[@]}"; do
        if ((RANDOM % 5 < 3 || round == rounds)); then unload "$d"; fi
    done
    # Both drives home: every directory of the last load's source that the
    # destination has holds its mode, owner and mtime there (a late drive
    # writing into one sets back the newer drive's delivery, docs/rotation.md).
    if all_home && [[ -s $T/dirs.load ]]; then
        dirs_of "$DST" >"$T/dirs.dst"
        awk -F'|' 'NR == FNR { want[$1] = $0; next } ($1 in want) && want[$1] != $0 { print "< " want[$1]; print "> " $0 }' \
            "$T/dirs.load" "$T/dirs.dst" >"$T/dirs.diff"
        [[ ! -s $T/dirs.diff ]] || { head -20 "$T/dirs.diff" >&2; history_failed "with both drives home, a directory differs from the last load's source (< source, > destination)"; }
    fi
    all_home && ((round % 4 == 0 || round == rounds)) || continue
    for d in "${DRIVES[@]}"; do
        loads=$((loads + 1))
        LOADED[$d]=$loads
        hide "$DST"
        expect_exit 0 barge -d "$d" load
        unhide "$DST"
        copies_read "the load on $(basename "$d") (the source unchanged)"
        dirs_of "$SRC" >"$T/dirs.load"
        echo "load $loads on $(basename "$d") (the source unchanged)" >>"$T/history"
        unload "$d"
    done
    manifest "$SRC" >"$T/m.src"
    manifest "$DST" >"$T/m.dst"
    if ! cmp -s "$T/m.src" "$T/m.dst"; then
        diff "$T/m.src" "$T/m.dst" | head -20 >&2 || true
        history_failed "after a trip of each drive, the destination differs from the source (< source, > destination)"
    fi
    same_links "$SRC" "$DST" ||
        history_failed "after a trip of each drive, the destination's hard links differ from the source's"
    for d in "${DRIVES[@]}"; do
        rc=0
        "$BARGE" -d "$d" verify-destination >"$T/out" 2>"$T/err" || rc=$?
        [[ $rc == 0 ]] || { cat "$T/out" "$T/err" >&2; history_failed "verify-destination with $(basename "$d") exited $rc"; }
    done
done
# Partial loads that never kept a file back would test nothing new.
[[ $partial != 1 ]] || ((kept_back > 0)) || fail "no load of $rounds rounds was kept back by --max-bytes"
echo "$kept_back loads kept files back for --max-bytes" >>"$T/history"
