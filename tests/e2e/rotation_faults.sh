#!/usr/bin/env bash
# Several drives in rotation when something goes wrong (SPEC §7.12,
# docs/rotation.md): what a safety review of rotation found, each scenario
# checked against the destination tree and what went to versions/ or trash/.
#
# 1. A path that is a file on A's older cargo and a newer directory delivered by
#    B, B's catalog copy at the destination gone: A's late unload keeps the
#    directory, and A's file goes to versions/.
# 2. The same with B killed during its unload (SIGKILL through strace at two
#    points: between two files renamed into the new directory, and once both
#    are in place), before its catalog copy is written: A's late file neither
#    replaces the directory nor is made inside it; B's next unload completes.
# 3. --on-delete trash: a file delivered by B, B's copy at the destination gone,
#    the file deleted at the source and the deletion carried by A: the file goes
#    to the trash (it was left in place).
# 4. A file edited in place keeping its size and mtime (only its ctime moves):
#    the joining drive does not adopt the other drive's old hash for it, carries
#    it, and the destination ends with the new content.
# 5. A drive of schema 4 (the v4 fixture) unloads; a new drive joins its pair and
#    unloads before its first load: nothing at the destination is trashed,
#    moved or changed.
# 6. A forged order stamp (beyond any clock) in a plain drive's catalog: its
#    entry is not delivered, the stamp is not recorded at the destination, and
#    the later versions another drive brings still arrive.
# 7. The mass-change brake holds for a joining drive.
# 8. A user's own file where another drive only intended a delivery stays.
# 9. A's unload killed after recording its intents and run again (its second
#    record raises no order), then B deletes a file A delivered: A learns of
#    the deletion from the order record (B's record took the seq A had been
#    told it read: verify-destination with A reported the file missing; found
#    by random_rotation.sh).
# 10. A moves a directory whole; B, late, raises its own rows there to A's
#    stamp from the order record, knowing nothing delivered there; A then
#    merges B's copy and must not take that empty knowledge for a fact: the
#    file deleted at the source next is trashed, not forgotten and left at the
#    destination (found by random_rotation.sh, when A's moved rows kept the old
#    delivery's stamp; since 14's fix they take their intent's, and the unit
#    Rotation.AnOrderWithoutKnowledgeRaisesAndKnowledgeAtTheSameOrderIsTaken
#    keeps the rule).
# 11. A late drive writing into a directory a newer drive delivered since (its
#    mode and mtime changed at the source; that drive carried no file) gives
#    the directory back the newer drive's times and mode, not its own older
#    scan's, and keeps knowing them; and the same when its unload is killed
#    after writing into the directory and run again, also when that drive's
#    delivery left the directory as this one's scan saw it and this one
#    makes a directory in it (random_rotation.sh seed 194). And where that
#    drive's next trip failed to set the directory's times back (its copy
#    says they are to be set again): the late drive leaves no 1970 mtime.
# 12. A directory moved whole by one drive after another drive moved a file
#    out of it: the first drive's old knowledge of that file does not count
#    the file as delivered under the new name (found by random_rotation.sh).
# 13. A file replaced, not moved: B delivers an edit of the same size, the
#    edit is undone at the source (the old file back, its old mtime), B's
#    catalog copy at the destination is gone; A's old knowledge of the file
#    does not count the old version as delivered, whether A moves the
#    directory whole (renamed at the source) or not: the order record names
#    the path, the mtime tells B's version apart, and A delivers the old
#    version again, B's kept in versions/.
# 14. A moves a directory whole into one that B, late, moves on after the
#    source deleted it: B takes from A's copy what A's move left there (A's
#    rows there carry the stamp A's record named, not the old delivery's) and
#    trashes it, instead of carrying it along untracked (random_rotation.sh
#    seed 206).
# 15. A late drive's unload killed after journaling the times of a directory
#    another drive had moved away since (its order raised by that drive's
#    record): run again, it passes the directory over, where it exited 3
#    failing to open it (random_rotation.sh with four drives, seed 8). The
#    same where the other drive moved its parent away and left a symlink at
#    the parent's path ("a symlink is in the way"; found by reading the code
#    after random_rotation_partial.sh with four drives, seed 31).
# 16. A directory whose mtime changed at the source and came back to what B
#    delivered: A carries the changed one, B sees it changed and then back, so
#    delivers nothing; A, late, takes from B's copy that d is there as the
#    source had it at B's later scan, and leaves it, where it set d's older
#    mtime back (random_rotation.sh with three drives, seed 48).
# 17. The same rule against a newer delivery: B delivers d's new mtime (the
#    source out of sight) after A, out of the destination's sight, found d at
#    the source back at the mtime A knew delivered; B's next load merges A's
#    copy, which must not overwrite B's delivery with A's older knowledge: B
#    delivers the mtime back (a reviewer's counterexample to the rule's first
#    version, which took the copy's knowledge whole at the scan's stamp).
# 18. A hard link made to a file another drive carries: A carries f (new, so
#    racy); then a is linked to f, which moves f's ctime, so B does not take
#    A's hash of f; B carries a within --max-bytes and never hashes f; A
#    delivers f, and B, learning that, must link a to f at the destination,
#    not deliver a copy that no later trip links (random_rotation_partial.sh,
#    seed 22).
# 19. A path another drive deleted since this drive's visit: A, late with an
#    older edit of f, reads B's deletion in the order record and finds nothing
#    at f; A then knows nothing there, so with the source's new f waiting,
#    verify-destination with A passes instead of reporting f missing (exit 4;
#    random_rotation_partial.sh seed 29).
# 20. A late drive making a directory in one a newer drive delivered since: A
#    carries d/sub, a new directory; at the source sub then becomes a file
#    that B, limited by --max-bytes, leaves waiting while it delivers d's new
#    mtime. A's late unload makes sub in d, and must give d B's delivered
#    mtime back, where it left the kernel's (random_rotation_partial.sh seeds
#    47 and 65).
# 21. Knowledge another drive's copy made stale: A deletes f at the
#    destination and forgets it; a new f waits at the source. B's copy at the
#    source still knows the old f delivered, and A's next load takes that;
#    B's copy at the destination then knows only a newer order there (B found
#    f gone), which raises A's order without telling what stands. A must check
#    what it knows against the destination, as for an order the order record
#    raised: verify-destination with A passes, where it reported f missing
#    (exit 4; random_rotation_partial.sh seed 76).
# 22. Two names of one file, each delivered alone by another drive: A carries
#    f; a link a is made; B carries a (its first name) within --max-bytes, not
#    f, and unloads first, f not there yet; A, late, delivers f alone. The
#    next unload finds the two names two files at the destination and links f
#    to a (f's file to versions/), where no later trip linked them
#    (random_rotation_partial.sh seed 85).
# 23. Two things of one path set aside in one run: A carries P, a file that
#    became a directory, and P/x; P becomes a file again, and B records P/x
#    deleted (the new P waits for --max-bytes). A's late unload moves the old
#    file P to versions/ to make the directory, then keeps its superseded P/x
#    in versions/ too: under a second folder of the run, where it failed
#    (exit 3, "Not a directory": random_rotation_partial.sh with three
#    drives, seed 25). The same with P a symlink at first, P/x under it
#    (ENOTDIR, as for the file) and P/d/x (the symlink above the last
#    component: "Too many levels of symbolic links", exit 3 before; found by
#    reading the code after seed 31).
# 24. A copy marked damaged under a directory another drive made a file: A's
#    verify-destination finds d/f missing (d/f marked damaged); at the source
#    d becomes a file, which B delivers; d then becomes a directory again
#    with a new f that A's load leaves waiting (--max-bytes). A's unload reads
#    B's deletion of d/f in the order record and finds d a file there: it
#    then knows nothing at d/f, and verify-destination with A passes, where it
#    reported d/f missing (exit 4: the raise of a damaged copy was not
#    checked, and a parent that is a file did not count as nothing there;
#    random_rotation_partial.sh with three drives, seed 46). The same with d
#    a symlink in between, where a parent that is a symlink did not count as
#    nothing there (found by reading the code after seed 31 with four drives).
# 25. Knowledge taken from a copy that read fewer rows of the order record:
#    B delivers c; the source deletes c; A, learning B's delivery at the
#    destination, deletes c there and forgets it. B's next load (c deleted,
#    B not yet back at the destination) writes a copy at the source that still
#    knows c delivered; a new c waits at the source (--max-bytes), and A's
#    load takes that knowledge. A's unload must read the order record again
#    from B's mark, find its own deletion of c there, and know nothing at c:
#    verify-destination with A passes, where it reported c missing (exit 4;
#    random_rotation_partial.sh seed 205, with a directory moved whole).
# 26. A late drive deleting in a directory it saw as a file: A carries d, a
#    directory that became a file (d/f deleted); d becomes a directory again
#    with a new f that B, limited by --max-bytes, leaves waiting while it
#    delivers d. A's late unload trashes the old d/f, keeps its file d in
#    versions/, and must give d B's delivered mtime back, where it left the
#    kernel's; also when killed before placing anything and run again, and
#    when killed after d/f went to the trash, before d's times were set, where
#    only the journal's replay sets d back (random_rotation_partial.sh with
#    three drives, seed 263).
source "$(dirname "$0")/lib.sh"

A=$T/driveA
B=$T/driveB

# reset: a new source, destination and drives A and B for the next scenario.
reset() {
    rm -rf "$SRC" "$DST" "$A" "$B" "$T/src.away" "$T/dst.away"
    mkdir -p "$SRC"
    ROUND=0
    mkdrive "$A"
    mkdrive "$B"
}



# first_trip_then_join [OPTION...]: A makes the pair (with OPTION...) and
# its first trip; then B joins it.
first_trip_then_join() {
    expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST" "$@"
    expect_exit 0 barge -d "$A" load
    expect_exit 0 barge -d "$A" unload
    expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
}

# kept_in versions|trash PATH FILE: some DST/.barge/KIND/*/PATH is a file with
# FILE's content.
kept_in() {
    local v
    for v in "$DST"/.barge/"$1"/*/"$2"; do
        [[ -f $v ]] && cmp -s "$v" "$3" && return 0
    done
    return 1
}

# journals DRIVE KIND: how many journals of KIND (dir_times, dir_move) DRIVE's
# catalog holds (its meta rows KIND:<pair id>).
journals() {
    sqlite3 -readonly "$1/barge.db" "SELECT count(*) FROM meta WHERE key LIKE '$2:%'"
}

# kept_list: every file under DST/.barge/versions and trash, with its content.
kept_list() {
    (cd "$DST/.barge" && find versions trash -type f -exec b2sum {} + 2>/dev/null | LC_ALL=C sort) || true
}

# kill_unload_at LABEL DRIVE SYSCALL_REGEX N [PATH]: SIGKILL DRIVE's unload at
#    the Nth call of the matching syscalls (only those on PATH when given:
#    strace -P, a path or a descriptor opened on it); fails LABEL unless it
#    died there.
kill_unload_at() {
    local rc=0 on=()
    [[ -z ${5:-} ]] || on=(-P "$5")
    # LeakSanitizer cannot run under ptrace (lib.sh); the braces keep bash's
    # "Killed" off the output.
    { ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        strace -f -qq -o /dev/null "${on[@]}" -e trace="$3" -e inject="$3":signal=KILL:when="$4" \
        "$BARGE" -d "$2" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
    [[ $rc -eq 137 ]] ||
        fail "$1: the unload was not killed at call $4 of $3${5:+ on $5} (exit $rc): has its order of work changed?"
}

# without DIR COMMAND...: COMMAND runs with DIR moved away, as at the other site
# (a load far from the destination, an unload far from the source).
without() {
    local dir=$1 rc=0
    shift
    [[ -e $dir ]] && mv "$dir" "$dir.away"
    "$@" || rc=$?
    [[ -e $dir.away ]] && mv "$dir.away" "$dir"
    return $rc
}

# d_kind_at DRIVE PARENT NAME: the kind DRIVE's catalog knows the destination
# holds at PARENT/NAME (1 a file, 2 a directory), empty when it knows nothing.
d_kind_at() {
    sqlite3 -readonly "$1/barge.db" "SELECT coalesce(group_concat(d_kind), '') FROM entries WHERE
        CAST(parent AS TEXT) = '$2' AND CAST(name AS TEXT) = '$3'"
}

# unload_json: what the last unload said of the pair, in one line.
unload_json() { jq -c '.pairs[0] | {delivered, trashed, versions, superseded, problems}' <"$T/out"; }

# trips_then_same LABEL DRIVE...: each DRIVE, in turn, makes a trip (load,
# unload); then the destination equals the source, or LABEL fails.
trips_then_same() {
    local label=$1 d
    shift
    for d in "$@"; do
        expect_exit 0 barge -d "$d" load
        expect_exit 0 barge -d "$d" unload
    done
    expect_same_tree "$SRC" "$DST" "$label: after a trip of each drive"
}

# ---------------------------------------------------------------------------
# 1. p is a file on A's cargo (v2); B carries p/ (a directory, newer) and
#    unloads first; B's catalog copy at the destination is then lost. A's late
#    unload learns nothing from B, and must still not put its older file where
#    the newer directory stands.
reset
echo v1 >"$SRC/p"
settle
expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST" --on-delete trash
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
expect_exit 0 barge -d "$B" --json pair add p "$SRC" "$DST"
expect_eq true "$(json .joined)" "1: B joins"
echo v2 >"$SRC/p"
settle
cp "$SRC/p" "$T/p-v2"
expect_exit 0 barge -d "$A" --json load
expect_eq 1 "$(json '.pairs[0].carried.files')" "1: A carries p v2"
rm "$SRC/p"
mkdir "$SRC/p"
echo z-new >"$SRC/p/z"
settle
expect_exit 0 barge -d "$B" --json load
expect_eq 1 "$(json '.pairs[0].carried.files')" "1: B carries p/z"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "1: B's directory delivered"
[[ -f $DST/.barge/catalog-${ID[$B]}.db ]] || fail "1: B left no catalog copy at the destination: $(ls "$DST/.barge")"
rm -f "$DST/.barge/catalog-${ID[$B]}.db" # a copy that cannot be read
expect_exit 0 barge -d "$A" --json unload
[[ -d $DST/p && ! -L $DST/p ]] || fail "1: A's older file replaced B's newer directory p/ ($(unload_json))"
expect_eq z-new "$(cat "$DST/p/z")" "1: B's p/z after A's late unload"
kept_in versions p "$T/p-v2" || fail "1: A's p (v2) is not in versions/: $(kept_list)"
expect_eq 1 "$(json '.pairs[0].superseded')" "1: A's unload: its p superseded"
expect_same_tree "$SRC" "$DST" "1: after A's late unload"

# ---------------------------------------------------------------------------
# 2. The same as 1 with B killed during its unload, before its catalog copy is
#    written (it reached its order record, not the end). Then A's late unload,
#    then B's again.
if ! command -v strace >/dev/null; then
    echo "scenario 2 skipped: strace is not installed" >&2
else
    # Two points: between the two files renamed into DST/p; and once both are
    # in place, at the first time set on DST/p (its mtime, as the directory is
    # finished), before the catalog copy.
    for point in "/^rename 2" "utimensat 1"; do
        read -r calls n <<<"$point"
        reset
        echo v1 >"$SRC/p"
        settle
        first_trip_then_join
        echo v2 >"$SRC/p"
        settle
        cp "$SRC/p" "$T/p-v2"
        expect_exit 0 barge -d "$A" --json load
        expect_eq 1 "$(json '.pairs[0].carried.files')" "2 ($point): A carries p v2"
        rm "$SRC/p"
        mkdir "$SRC/p"
        echo small-new >"$SRC/p/a-small"
        rnd "$SRC/p/zz-big" 300000
        settle
        expect_exit 0 barge -d "$B" --json load
        expect_eq 2 "$(json '.pairs[0].carried.files')" "2 ($point): B carries p/a-small and p/zz-big"
        kill_unload_at 2 "$B" "$calls" "$n" "$DST/p"
        [[ -d $DST/p ]] || fail "2 ($point): B was killed before it made p/"
        expect_eq small-new "$(cat "$DST/p/a-small")" "2 ($point): p/a-small when B was killed"
        if [[ $calls == utimensat ]]; then
            cmp -s "$SRC/p/zz-big" "$DST/p/zz-big" || fail "2 ($point): p/zz-big not in place when B was killed"
        else
            [[ ! -e $DST/p/zz-big ]] || fail "2 ($point): p/zz-big already in place when B was killed"
        fi
        expect_exit 0 barge -d "$A" --json unload
        [[ -d $DST/p && ! -L $DST/p ]] || fail "2 ($point): A's older file replaced B's newer directory p/ ($(unload_json))"
        expect_eq small-new "$(cat "$DST/p/a-small")" "2 ($point): B's p/a-small after A's late unload"
        kept_in versions p "$T/p-v2" || fail "2 ($point): A's p (v2) is not in versions/: $(kept_list)"
        expect_eq 1 "$(json '.pairs[0].superseded')" "2 ($point): A's unload: its p superseded"
        # B comes back and finishes.
        expect_exit 0 barge -d "$B" --json unload
        expect_eq 0 "$(json '.pairs[0].problems | length')" "2 ($point): problems of B's second unload"
        expect_same_tree "$SRC" "$DST" "2 ($point): after B's second unload"
        kept_in versions p "$T/p-v2" || fail "2 ($point): A's p (v2) left versions/: $(kept_list)"
        [[ -z $(find "$DST/.barge/versions" -path '*/p/*' -print -quit) ]] ||
            fail "2 ($point): B's directory went to versions/: $(kept_list)"
    done
fi

# ---------------------------------------------------------------------------
# 3. --on-delete trash: f (v2) delivered by B; B's copy at the destination
#    gone; f deleted at the source and the deletion carried by A, which never
#    knew v2: f goes to the trash, not left in place. Each drive at one site at
#    a time.
reset
echo v1 >"$SRC/f"
echo keep >"$SRC/g"
settle
expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST" --on-delete trash
without "$DST" expect_exit 0 barge -d "$A" load
without "$SRC" expect_exit 0 barge -d "$A" unload
expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
echo v2 >"$SRC/f"
settle
cp "$SRC/f" "$T/f-v2"
without "$DST" expect_exit 0 barge -d "$B" load
without "$SRC" expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "3: B delivered f v2"
[[ -f $DST/.barge/catalog-${ID[$B]}.db ]] || fail "3: B left no catalog copy at the destination"
rm -f "$DST/.barge/catalog-${ID[$B]}.db"
rm "$SRC/f"
without "$DST" expect_exit 0 barge -d "$A" load
without "$SRC" expect_exit 0 barge -d "$A" --json unload
[[ ! -e $DST/f ]] || fail "3: the deletion carried by A left f at the destination ($(cat "$DST/f"); $(unload_json))"
kept_in trash f "$T/f-v2" || fail "3: f (v2) is not in the trash: $(kept_list)"
expect_eq 1 "$(json '.pairs[0].trashed')" "3: A's unload: trashed"
expect_same_tree "$SRC" "$DST" "3: after A's deletion"
# B's next visit changes nothing.
without "$DST" expect_exit 0 barge -d "$B" load
without "$SRC" expect_exit 0 barge -d "$B" --json unload
expect_same_tree "$SRC" "$DST" "3: after B's next visit"
expect_eq 1 "$(find "$DST/.barge/trash" -type f -name f | wc -l)" "3: copies of f in the trash"

# ---------------------------------------------------------------------------
# 4. vault loaded by A; then rewritten in place with the same size and its
#    mtime put back (a container file, touch -r): only its ctime moves. B joins
#    and must carry the new content, not adopt A's hash. A delivers its old
#    content, is declared lost; B's unloads end with the new content.
reset
printf 'AAAAAAAA' >"$SRC/vault"
echo x >"$SRC/other"
settle
cp "$SRC/vault" "$T/vault-A"
expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST"
without "$DST" expect_exit 0 barge -d "$A" load
ino=$(stat -c %i "$SRC/vault")
mtime=$(stat -c %y "$SRC/vault")
sleep 1.1 # a ctime in another second, whatever the resolution barge keeps
printf 'BBBBBBBB' | dd of="$SRC/vault" conv=notrunc status=none
touch -d "$mtime" "$SRC/vault"
expect_eq "$ino 8 $mtime" "$(stat -c '%i %s %y' "$SRC/vault")" "4: vault's inode, size and mtime after the edit"
expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
without "$DST" expect_exit 0 barge -d "$B" --json load
expect_eq "1 8" "$(json '.pairs[0].carried | "\(.files) \(.bytes)"')" "4: B carries the edited vault"
without "$SRC" expect_exit 0 barge -d "$A" unload
expect_eq AAAAAAAA "$(cat "$DST/vault")" "4: vault as A delivered it"
expect_exit 0 barge -d "$B" drive lost "${ID[$A]}"
without "$SRC" expect_exit 0 barge -d "$B" --json unload
expect_eq BBBBBBBB "$(cat "$DST/vault")" "4: vault after B's unload ($(unload_json))"
kept_in versions vault "$T/vault-A" || fail "4: A's vault is not in versions/: $(kept_list)"
for _ in 1 2; do
    without "$DST" expect_exit 0 barge -d "$B" load
    without "$SRC" expect_exit 0 barge -d "$B" unload
done
expect_eq BBBBBBBB "$(cat "$DST/vault")" "4: vault after B's later visits"
expect_same_tree "$SRC" "$DST" "4: after B's later visits"

# ---------------------------------------------------------------------------
# 5. The v4 fixture (tests/fixtures/make-v1-drive.sh): its drive unloads (and
#    migrates); a new drive joins the pair and, taken to the destination before
#    its first load, unloads there: it knows no path of its own, so it deletes,
#    trashes and moves nothing. Then its first load and unload.
R=/tmp/barge-v1-fixture # the old catalog records absolute paths
exec 9>/tmp/barge-v1-fixture.lock
flock 9
on_exit "rm -rf '$R'"
rm -rf "$R"
mkdir -p "$R"
tar -C "$R" -xzf "$(cd "$(dirname "$0")/../fixtures" && pwd)/v4-drive.tar.gz"
expect_exit 0 barge -d "$R/drive" --json unload
expect_eq 2 "$(json '.pairs[0].delivered.files')" "5: files delivered from the old cargo"
expect_same_tree "$R/src" "$R/dst" "5: after the old drive's unload"
before_tree=$(manifest "$R/dst")
before_kept=$(DST=$R/dst kept_list)
[[ $before_kept == *docs/to-delete.txt* ]] || fail "5: the old drive's deletion is not in the trash: $before_kept"
expect_exit 0 barge init "$R/second"
expect_exit 0 barge -d "$R/second" --json pair add q "$R/src" "$R/dst"
expect_eq true "$(json .joined)" "5: the new drive joins the migrated pair"
without "$R/src" expect_exit 0 barge -d "$R/second" --json unload
expect_eq "0 0 0 0" "$(json '.pairs[0] | "\(.delivered.files) \(.trashed) \(.versions) \(.superseded)"')" \
    "5: the new drive's unload before its first load: delivered, trashed, versions, superseded"
expect_eq "$before_tree" "$(manifest "$R/dst")" "5: the destination after the new drive's unload before its first load"
expect_eq "$before_kept" "$(DST=$R/dst kept_list)" "5: versions/ and trash/ after the new drive's unload before its first load"
expect_exit 0 barge -d "$R/second" --json load
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "5: bytes the new drive carries"
expect_exit 0 barge -d "$R/second" unload
expect_same_tree "$R/src" "$R/dst" "5: after the new drive's first visit"
expect_eq "$before_kept" "$(DST=$R/dst kept_list)" "5: versions/ and trash/ after the new drive's first visit"
rm -rf "$R" # the lock is kept to the end: the cleanup at exit removes $R again

# ---------------------------------------------------------------------------
# 6. B's catalog (a plain drive: nothing seals it) gets an order stamp of 9e18
#    for f (v2), about 2255 in nanoseconds, beyond the bound of stamps barge
#    believes (2^62, 2116). B's unload leaves the entry and the destination
#    records no such stamp; v3 and v4, on A, arrive.
reset
echo v1 >"$SRC/f"
settle
cp "$SRC/f" "$T/f-v1"
expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST"
without "$DST" expect_exit 0 barge -d "$A" load
without "$SRC" expect_exit 0 barge -d "$A" unload
expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
echo v2 >"$SRC/f"
settle
without "$DST" expect_exit 0 barge -d "$B" load
catalog_sql "$B/barge.db" "UPDATE entries SET ord = 9000000000000000000 WHERE CAST(name AS TEXT) = 'f'"
without "$SRC" expect_exit 0 barge -d "$B" --json unload
expect_eq 0 "$(json '.pairs[0].delivered.files')" "6: B delivers nothing with a forged stamp"
expect_eq v1 "$(cat "$DST/f")" "6: f after B's unload"
bound=4611686018427387903
max_ord=$(sqlite3 -readonly "$DST"/.barge/order-*.db "SELECT COALESCE(MAX(ord), 0) FROM paths")
((max_ord <= bound)) || fail "6: the destination recorded a forged stamp: $max_ord"
for v in v3 v4; do
    echo "$v" >"$SRC/f"
    settle
    cp "$SRC/f" "$T/f-$v"
    without "$DST" expect_exit 0 barge -d "$A" --json load
    expect_eq 1 "$(json '.pairs[0].carried.files')" "6: A carries f $v"
    without "$SRC" expect_exit 0 barge -d "$A" --json unload
    expect_eq "$v" "$(cat "$DST/f")" "6: f after A delivered $v ($(unload_json))"
    expect_eq 0 "$(json '.pairs[0].superseded')" "6: A's $v superseded"
done
kept_in versions f "$T/f-v1" || fail "6: f v1 is not in versions/: $(kept_list)"
kept_in versions f "$T/f-v3" || fail "6: f v3 is not in versions/: $(kept_list)"
# B's next visit: its scan sees f anew; nothing is refused, nothing changes.
without "$DST" expect_exit 0 barge -d "$B" load
without "$SRC" expect_exit 0 barge -d "$B" --json unload
expect_same_tree "$SRC" "$DST" "6: after B's next visit"
max_ord=$(sqlite3 -readonly "$DST"/.barge/order-*.db "SELECT COALESCE(MAX(ord), 0) FROM paths")
((max_ord <= bound)) || fail "6: the destination recorded a forged stamp: $max_ord"
# ---------------------------------------------------------------------------
# 7. (second review) The mass-change brake holds for a joining drive: the
#    source emptied by accident brakes the drive that served the pair and the
#    joining one alike (SPEC §7.6); nothing at the destination is trashed.
reset
for i in $(seq 1 150); do echo "$i" >"$SRC/photos-$i.jpg"; done
settle
first_trip_then_join --on-delete trash
rm "$SRC"/photos-*.jpg
echo keep >"$SRC/keep"
settle
expect_exit 2 barge -d "$A" load
expect_exit 2 barge -d "$B" load
grep -q "mass-change" "$T/err" || fail "7: the joining drive was refused for another reason: $(cat "$T/err")"
expect_exit 0 barge -d "$B" unload
expect_eq 150 "$(find "$DST" -path "$DST/.barge" -prune -o -name 'photos-*' -print | wc -l)" \
    "7: files left at the destination"
[[ ! -d $DST/.barge/trash ]] || fail "7: something went to the trash: $(kept_list)"

# ---------------------------------------------------------------------------
# 8. (second review) A file of the user's own at a path where another drive
#    only intended a delivery (recorded, never made: the destination was full)
#    is never trashed by a later deletion of that path.
reset
echo k >"$SRC/k"
settle
first_trip_then_join --on-delete trash
echo p >"$SRC/p"
settle
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" pair set p --reserve 99%
expect_exit 3 barge -d "$B" unload
expect_exit 0 barge -d "$B" pair set p --reserve 1M
[[ ! -e $DST/p ]] || fail "8: p was delivered although the destination was full"
echo mine >"$DST/p"
rm "$SRC/p"
settle
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
expect_eq mine "$(cat "$DST/p")" "8: the user's own file"
[[ ! -d $DST/.barge/trash ]] || fail "8: something went to the trash: $(kept_list)"

# ---------------------------------------------------------------------------
# 9. The seq of a record that raised no order.
if ! command -v strace >/dev/null; then
    echo "scenario 9 skipped: strace is not installed" >&2
else
    reset
    mkdir -p "$SRC/dir"
    echo f0 >"$SRC/dir/f0.txt"
    echo keep >"$SRC/keep.txt"
    settle
    first_trip_then_join --on-delete trash
    echo g >"$SRC/dir/g.txt"
    settle
    expect_exit 0 barge -d "$A" load
    kill_unload_at "9: A's unload at its first barrier" "$A" syncfs 1
    expect_exit 0 barge -d "$A" unload
    rm "$SRC/dir/f0.txt"
    settle
    expect_exit 0 barge -d "$B" load
    expect_exit 0 barge -d "$B" unload
    expect_same_tree "$SRC" "$DST" "9: B's trip with the deletion"
    expect_exit 0 barge -d "$A" --json verify-destination
    expect_eq "2 0" "$(json '.pairs[0] | "\(.checked) \(.bad)"')" "9: A's verify-destination after B's deletion: checked, bad"
fi

# ---------------------------------------------------------------------------
# 10. Empty knowledge of another drive is not a fact.
reset
mkdir -p "$SRC/d"
echo f >"$SRC/d/f"
echo other >"$SRC/other"
settle
first_trip_then_join --on-delete trash
mv "$SRC/d" "$SRC/e"
settle
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" --json unload
expect_eq 1 "$(json '.pairs[0].delivered.renamed_dirs')" "10: A moved the directory whole"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "10: after B's late unload"
rm "$SRC/e/f"
settle
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" --json unload
expect_eq 1 "$(json '.pairs[0].trashed')" "10: A's unload trashed the deleted file"
expect_same_tree "$SRC" "$DST" "10: after the deletion"
kept_in trash e/f <(echo f) || fail "10: e/f is not in the trash: $(kept_list)"

# ---------------------------------------------------------------------------
# 11. A late drive writing into a directory keeps the newer drive's times.
dir_meta() { stat -c '%a %Y' "$1"; }
# late_writer N: B's late unload killed at its Nth syncfs first (0: not killed).
late_writer() {
    reset
    mkdir -p "$SRC/d"
    echo f >"$SRC/d/f"
    settle
    first_trip_then_join
    echo late >"$SRC/d/late" # only B carries it: B writes into d
    settle
    expect_exit 0 barge -d "$B" load
    chmod 700 "$SRC/d"
    touch "$SRC/d"
    settle
    expect_exit 0 barge -d "$A" load --max-bytes 1 # d's new mode and mtime, no file
    expect_exit 0 barge -d "$A" unload
    local label="11 (killed at syncfs $1)"
    if [[ $1 != 0 ]]; then
        kill_unload_at "$label: B's unload" "$B" syncfs "$1"
        expect_eq 1 "$(journals "$B" dir_times)" \
            "$label: the journal of d's times"
    else
        label=11
    fi
    expect_exit 0 barge -d "$B" unload
    expect_eq "late" "$(cat "$DST/d/late")" "$label: B delivered its late file into d"
    expect_eq "$(dir_meta "$SRC/d")" "$(dir_meta "$DST/d")" "$label: d's mode and mtime after B's late unload"
    expect_eq 1 "$(sqlite3 -readonly "$B/barge.db" "SELECT count(*) FROM entries WHERE name = CAST('d' AS BLOB) AND
        d_mode = $((8#700)) AND d_mtime_ns = $(stat -c %Y "$SRC/d")000000000")" "$label: B knows d as A delivered it"
    expect_eq 0 "$(journals "$B" dir_times)" \
        "$label: no journal left"
    expect_exit 0 barge -d "$B" load
    expect_exit 0 barge -d "$B" unload
    expect_same_tree "$SRC" "$DST" "$label: after B's next trip"
}
late_writer 0

# late_parent N: the same, where A's later delivery of d left d's mode and
# mtime what B's scan saw (A wrote a file into d, the mtime set back), and B
# makes a directory in d that A never saw (gone from the source before A's
# load; B's catalog copy at the source removed, so A does not learn of it): d
# stays B's journaled newer directory, not one whose times B forgets, so B's
# unload killed at CALL (fchmod: d/made made, no time set yet; syncfs: after
# the times) and run again still sets d's times back (random_rotation.sh seed
# 194). (Before, B
# delivered a new mode of d/sub that A had seen changed back; since A's copy
# says it saw d/sub as delivered at its later scan, B leaves d/sub: scenario 16.)
late_parent() {
    local label="11 (d/made, killed at $1 1)" old
    reset
    mkdir -p "$SRC/d"
    echo f >"$SRC/d/f"
    settle
    first_trip_then_join
    old=$(stat -c %y "$SRC/d")
    mkdir "$SRC/d/made" # B makes it in d
    touch -d "$old" "$SRC/d"
    settle
    expect_exit 0 barge -d "$B" load
    rmdir "$SRC/d/made"
    rm "$SRC/.barge/catalog-${ID[$B]}.db" # A does not learn of d/made
    echo a2 >"$SRC/d/a2" # A writes into d, and delivers d later
    touch -d "$old" "$SRC/d"
    settle
    expect_exit 0 barge -d "$A" load
    expect_exit 0 barge -d "$A" unload
    [[ -f $DST/d/a2 && ! -e $DST/d/made ]] || fail "$label: A's unload did not write a2 alone into d"
    kill_unload_at "$label: B's unload" "$B" "$1" 1
    expect_exit 0 barge -d "$B" unload
    [[ -d $DST/d/made ]] || fail "$label: B did not make d/made"
    expect_eq "$(dir_meta "$SRC/d")" "$(dir_meta "$DST/d")" "$label: d's mode and mtime after B's late unload"
}
# late_times_unset: A's trip that writes into d fails to set d's times back
# (utimensat gets EIO: exit 3), so A's copy says d's times are to be set
# again (d_mtime_ns NULL) at A's newer order. B, late, writes its file into d
# and merges that copy: it keeps the NULL, and leaves no 1970 mtime on d
# (the merge read the NULL as 0, and B set d's times back to it). A, which
# still owes d's times, sets them at its next unload.
late_times_unset() {
    local label="11 (A's times of d not set)" rc=0 m
    reset
    mkdir -p "$SRC/d"
    echo f >"$SRC/d/f"
    settle
    first_trip_then_join
    echo late >"$SRC/d/late"
    settle
    expect_exit 0 barge -d "$B" load
    chmod 700 "$SRC/d"
    touch "$SRC/d"
    settle
    expect_exit 0 barge -d "$A" load --max-bytes 1
    expect_exit 0 barge -d "$A" unload
    echo "f v2" >"$SRC/d/f" # A writes into d again; d's own times unchanged
    settle
    expect_exit 0 barge -d "$A" load
    { ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        strace -f -qq -o /dev/null -P "$DST/d" -e trace=utimensat -e inject=utimensat:error=EIO:when=1 \
        "$BARGE" -d "$A" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
    expect_eq 3 "$rc" "$label: A's unload with d's times failing"
    expect_eq NULL "$(sqlite3 -readonly "$DST/.barge/catalog-${ID[$A]}.db" \
        "SELECT quote(d_mtime_ns) FROM entries WHERE name = CAST('d' AS BLOB)")" "$label: A's copy of d's times"
    expect_exit 0 barge -d "$B" unload
    expect_eq "late" "$(cat "$DST/d/late")" "$label: B delivered its late file into d"
    expect_eq NULL "$(sqlite3 -readonly "$B/barge.db" \
        "SELECT quote(d_mtime_ns) FROM entries WHERE name = CAST('d' AS BLOB)")" "$label: B took A's NULL"
    m=$(stat -c %Y "$DST/d")
    ((m > 86400)) || fail "$label: B's unload set d's mtime to $m (1970)"
    expect_exit 0 barge -d "$A" unload
    expect_eq "$(dir_meta "$SRC/d")" "$(dir_meta "$DST/d")" "$label: d's mode and mtime after A's next unload"
    expect_exit 0 barge -d "$B" load
    expect_exit 0 barge -d "$B" unload
    expect_same_tree "$SRC" "$DST" "$label: after B's next trip"
}
if command -v strace >/dev/null; then
    # 1: after the journal, before the file is placed; 2: the file in place,
    # d's times not set back yet.
    late_writer 1
    late_writer 2
    late_parent fchmod
    late_parent syncfs
    late_times_unset
else
    echo "scenario 11's kills skipped: strace is not installed" >&2
fi

# ---------------------------------------------------------------------------
# 12. A directory moved whole does not carry knowledge another drive made
#     stale: B moved d/f out (to g/f); the file went back and d was renamed e
#     before A's next load. A's old knowledge of d/f must not count e/f as
#     delivered: the destination's d held no f any more.
# stale_move N: A's unload killed at its Nth syncfs first, after the rename and
# before its record (0: not killed); the next unload finishes the record.
stale_move() {
    local label="12 (killed at syncfs $1)"
    [[ $1 != 0 ]] || label=12
    reset
    mkdir -p "$SRC/d"
    echo f >"$SRC/d/f"
    echo keep >"$SRC/d/keep"
    settle
    first_trip_then_join --on-delete trash
    mkdir "$SRC/g"
    mv "$SRC/d/f" "$SRC/g/f"
    settle
    expect_exit 0 barge -d "$B" load
    expect_exit 0 barge -d "$B" unload
    [[ -f $DST/g/f && ! -e $DST/d/f ]] || fail "$label: B did not move d/f to g/f"
    mv "$SRC/g/f" "$SRC/d/f"
    rmdir "$SRC/g"
    mv "$SRC/d" "$SRC/e"
    settle
    expect_exit 0 barge -d "$A" load
    if [[ $1 != 0 ]]; then
        kill_unload_at "$label: A's unload" "$A" syncfs "$1"
        [[ -d $DST/e && ! -e $DST/d ]] || fail "$label: A was killed before it moved d to e"
        expect_eq 1 "$(journals "$A" dir_move)" \
            "$label: the journal of the move"
    fi
    expect_exit 0 barge -d "$A" --json unload
    [[ $1 != 0 ]] || expect_eq 1 "$(json '.pairs[0].delivered.renamed_dirs')" "$label: A moved the directory whole"
    expect_same_tree "$SRC" "$DST" "$label: after A's unload"
    expect_exit 0 barge -d "$A" --json verify-destination
    expect_eq "2 0" "$(json '.pairs[0] | "\(.checked) \(.bad)"')" "$label: A's verify-destination: checked, bad"
}
stale_move 0

# reverted_edit MOVED [verify]: scenario 13, the directory renamed (1) or not
# (0); with `verify`, A's verify-destination of one file (d/a, the least
# recently verified) runs first and reads the order record before the unload.
# Renamed, two files are edited and undone (d/f and d/g), so the note's plural
# is checked as well as its singular.
reverted_edit() {
    local label="13 (renamed $1${2:+, $2 first})" at=d files=2 edited=(f) f
    reset
    mkdir -p "$SRC/d"
    if [[ ${2-} == verify ]]; then
        echo a >"$SRC/d/a"
        files=3
    fi
    if [[ $1 == 1 ]]; then
        edited=(f g)
        files=$((files + 1))
    fi
    for f in "${edited[@]}"; do
        echo v1 >"$SRC/d/$f"
    done
    echo keep >"$SRC/d/keep"
    settle
    first_trip_then_join --on-delete trash
    for f in "${edited[@]}"; do
        cp -p "$SRC/d/$f" "$T/$f.v1"
        echo v2 >"$SRC/d/$f"
    done
    settle
    expect_exit 0 barge -d "$B" load
    without "$SRC" expect_exit 0 barge -d "$B" unload # offsite: B's copy at the source stays its load's
    for f in "${edited[@]}"; do
        [[ $(cat "$DST/d/$f") == v2 ]] || fail "$label: B did not deliver v2 of d/$f"
        cp -p "$DST/d/$f" "$T/$f.v2"
    done
    [[ -f $DST/.barge/catalog-${ID[$B]}.db ]] || fail "$label: B left no catalog copy at the destination"
    rm -f "$DST/.barge/catalog-${ID[$B]}.db" # so A learns only B's order, not what B put there
    for f in "${edited[@]}"; do
        cp -p "$T/$f.v1" "$SRC/d/$f" # the edit undone: the old file back, with its mtime
    done
    if [[ $1 == 1 ]]; then
        mv "$SRC/d" "$SRC/e"
        at=e
    fi
    settle
    expect_exit 0 barge -d "$A" load
    if [[ ${2-} == verify ]]; then
        expect_exit 0 barge -d "$A" --json verify-destination --sample 1
        expect_eq "1 0" "$(json '.pairs[0] | "\(.checked) \(.bad)"')" "$label: A's verify-destination of d/a"
        grep -q "1 path that another drive changed at the destination .* marked damaged there" "$T/err" ||
            fail "$label: A's verify-destination gave no note on d/f: $(cat "$T/err")"
    fi
    local note="^1 path that another drive changed at the destination since this drive's last visit is not there as this drive knew it: marked damaged there"
    if ((${#edited[@]} == 2)); then
        note="^2 paths that another drive changed at the destination since this drive's last visit are not there as this drive knew them: marked damaged there"
    fi
    expect_exit 0 barge -d "$A" --json unload
    expect_eq "$([[ ${2-} == verify ]] && echo 0 || echo 1)" \
        "$(NOTE=$note json '[.pairs[0].notes[] | select(test(env.NOTE))] | length')" \
        "$label: A's unload's note on ${edited[*]/#/d/}"
    expect_eq "$1" "$(json '.pairs[0].delivered.renamed_dirs')" "$label: A moved the directory whole"
    expect_eq "${#edited[@]} ${#edited[@]}" "$(json '.pairs[0] | "\(.delivered.files) \(.versions)"')" \
        "$label: A's unload: delivered, kept in versions"
    expect_same_tree "$SRC" "$DST" "$label: after A's unload"
    for f in "${edited[@]}"; do
        kept_in versions "$at/$f" "$T/$f.v2" || fail "$label: B's version of $f is not in versions/: $(kept_list)"
    done
    expect_exit 0 barge -d "$A" --json verify-destination
    expect_eq "$files 0" "$(json '.pairs[0] | "\(.checked) \(.bad)"')" "$label: A's verify-destination: checked, bad"
}
reverted_edit 0
reverted_edit 1
reverted_edit 0 verify

if command -v strace >/dev/null; then
    stale_move 1 # the syncfs right after the rename
else
    echo "scenario 12's kill skipped: strace is not installed" >&2
fi

# ---------------------------------------------------------------------------
# 14. A directory A moved whole into one that B then moves on, after the source
#     deleted it: B learns from A's copy what stands in it and deletes that.
reset
mkdir -p "$SRC/old" "$SRC/top/sub"
echo f >"$SRC/old/f"
echo keep >"$SRC/top/sub/keep"
settle
first_trip_then_join --on-delete trash
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" unload
mv "$SRC/old" "$SRC/top/sub/x"
settle
expect_exit 0 barge -d "$A" load # old -> top/sub/x
rm -r "$SRC/top/sub/x"
mv "$SRC/top" "$SRC/moved"
settle
expect_exit 0 barge -d "$B" load # top -> moved; top/sub/x/f gone (known from A's copy at the source)
expect_exit 0 barge -d "$A" --json unload
expect_eq 1 "$(json '.pairs[0].delivered.renamed_dirs')" "14: A moved old whole"
[[ -f $DST/top/sub/x/f ]] || fail "14: A's unload did not move old/f to top/sub/x/f"
expect_exit 0 barge -d "$B" --json unload
expect_eq "1 1" "$(json '.pairs[0] | "\(.delivered.renamed_dirs) \(.trashed)"')" \
    "14: B's unload: directories moved whole, files trashed"
expect_same_tree "$SRC" "$DST" "14: after B's unload"
kept_in trash moved/sub/x/f <(echo f) || fail "14: moved/sub/x/f is not in the trash: $(kept_list)"

# ---------------------------------------------------------------------------
# 15. A late drive's unload killed after journaling a directory that another
#     drive had moved away (and, the second time, left a symlink at its
#     parent's path): run again, it has nothing to set back there.
if command -v strace >/dev/null; then
    for how in moved linked; do
        reset
        mkdir -p "$SRC/d/s"
        echo f >"$SRC/d/s/f"
        settle
        first_trip_then_join
        expect_exit 0 barge -d "$B" load
        expect_exit 0 barge -d "$B" unload
        echo new >"$SRC/d/s/new"
        settle
        expect_exit 0 barge -d "$B" load # B writes into d/s
        if [[ $how == moved ]]; then
            mv "$SRC/d/s" "$SRC/d/t"
        else
            mv "$SRC/d" "$SRC/e"
            ln -s e "$SRC/d"
        fi
        settle
        rm "$SRC/.barge/catalog-${ID[$B]}.db" # A does not learn d/s/new
        expect_exit 0 barge -d "$A" load
        expect_exit 0 barge -d "$A" --json unload # moves d/s (or d) whole, records d/s gone
        expect_eq 1 "$(json '.pairs[0].delivered.renamed_dirs')" "15 ($how): A moved a directory whole"
        kill_unload_at "15 ($how): B's unload" "$B" mkdirat 1
        expect_eq 1 "$(journals "$B" dir_times)" \
            "15 ($how): the journal of d/s's times"
        expect_exit 0 barge -d "$B" unload
        trips_then_same "15 ($how)" "$A" "$B"
    done
else
    echo "scenario 15 skipped: strace is not installed" >&2
fi

# ---------------------------------------------------------------------------
# 16. A directory back at the state the destination holds: the newer drive has
#     nothing to deliver, and the late drive does not set its older view back.
# dir_changed: d (holding f) delivered at mtime 1704103200, both drives knowing
# it; then d's mtime at the source changed to 1704189600.
dir_changed() {
    reset
    mkdir -p "$SRC/d"
    echo f >"$SRC/d/f"
    touch -d @1704103200 "$SRC/d"
    settle
    first_trip_then_join
    expect_exit 0 barge -d "$B" load
    expect_exit 0 barge -d "$B" unload
    touch -d @1704189600 "$SRC/d"
    settle
}
dir_changed
expect_exit 0 barge -d "$A" load # d at its new mtime
expect_exit 0 barge -d "$B" load # the same, seen later
touch -d @1704103200 "$SRC/d"
settle
expect_exit 0 barge -d "$B" load # d as delivered: nothing to carry
expect_exit 0 barge -d "$B" --json unload
expect_eq 0 "$(json '.pairs[0].delivered.dirs')" "16: B had no directory to deliver"
expect_exit 0 barge -d "$A" --json unload
expect_eq "1704103200 0" "$(stat -c %Y "$DST/d") $(json '.pairs[0].delivered.dirs')" \
    "16: d's mtime at the destination after A's late unload, and A's directories delivered"
expect_same_tree "$SRC" "$DST" "16: after A's late unload"

# ---------------------------------------------------------------------------
# 17. A directory found as delivered does not overwrite a newer delivery: B
#     delivers d's new mtime while A's copy says A found d as delivered at a
#     later scan; B then merges that copy and still delivers d's mtime back.
dir_changed
expect_exit 0 barge -d "$B" load # d at its new mtime
touch -d @1704103200 "$SRC/d"
settle
expect_exit 0 without "$DST" barge -d "$A" load # d as A knows the destination holds it
expect_exit 0 without "$SRC" barge -d "$B" --json unload
expect_eq "1704189600 1" "$(stat -c %Y "$DST/d") $(json '.pairs[0].delivered.dirs')" \
    "17: d's mtime at the destination after B's unload, and B's directories delivered"
expect_exit 0 barge -d "$B" load # merges A's copy at the source
expect_exit 0 barge -d "$B" --json unload
expect_eq "1704103200 1" "$(stat -c %Y "$DST/d") $(json '.pairs[0].delivered.dirs')" \
    "17: d's mtime at the destination after B's next trip, and B's directories delivered"
expect_same_tree "$SRC" "$DST" "17: after B's next trip"

# ---------------------------------------------------------------------------
# 18. A link to a file another drive delivered, its content unknown to the
#     drive that carries the link.
reset
echo seed >"$SRC/seed"
settle
first_trip_then_join
head -c 3000 /dev/urandom >"$SRC/f"
expect_exit 0 barge -d "$A" load # f
ln "$SRC/f" "$SRC/a"
expect_exit 0 barge -d "$B" --json load --max-bytes 4096 # a (first in path order), not f
expect_eq 1 "$(json '.pairs[0].carried.files')" "18: B carries a"
expect_eq "a 1|f 0" "$(sqlite3 -readonly "$B/barge.db" "SELECT group_concat(CAST(name AS TEXT) || ' ' ||
    (content_id IS NOT NULL), '|') FROM (SELECT name, content_id FROM entries WHERE kind = 1 AND
    CAST(name AS TEXT) IN ('a', 'f') ORDER BY name)")" "18: B knows a's content, not f's"
expect_exit 0 barge -d "$A" unload # f
expect_exit 0 barge -d "$B" --json unload
expect_eq 1 "$(json '.pairs[0].delivered.hard_links')" "18: B links a to f"
expect_eq "$(stat -c %i "$DST/f")" "$(stat -c %i "$DST/a")" "18: a and f at the destination are one file"
trips_then_same 18 "$A" "$B"
same_links "$SRC" "$DST" || fail "18: the destination's link groups differ from the source's"

# ---------------------------------------------------------------------------
# 19. A path another drive deleted since: known gone, not missing.
reset
echo v1 >"$SRC/f"
echo other >"$SRC/g"
settle
first_trip_then_join --on-delete trash --mass-change-limit 100
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" unload
echo v2-longer >"$SRC/f"
settle
expect_exit 0 barge -d "$A" load # f v2
rm "$SRC/f"
expect_exit 0 barge -d "$B" load # f deleted
expect_exit 0 barge -d "$B" unload
[[ ! -e $DST/f ]] || fail "19: B's unload left f at the destination"
echo v3-longest >"$SRC/f"
settle
expect_exit 0 barge -d "$A" --json unload # late: its f v2 is older than B's deletion
expect_eq "1 0" "$(json '"\(.pairs[0].superseded) \(.pairs[0].delivered.files)"')" "19: A's f v2 superseded"
expect_exit 0 barge -d "$A" load --max-bytes 1 # f v3 stays at the source
expect_exit 0 barge -d "$A" verify-destination
trips_then_same 19 "$A" "$B"

# ---------------------------------------------------------------------------
# 20. A directory made in one another drive delivered since.
reset
mkdir "$SRC/d"
echo f >"$SRC/d/f"
settle
first_trip_then_join
mkdir "$SRC/d/sub"
settle
expect_exit 0 barge -d "$A" load # d/sub
rmdir "$SRC/d/sub"
head -c 8192 /dev/urandom >"$SRC/d/sub"
settle
expect_exit 0 barge -d "$B" --json load --max-bytes 1 # d's new mtime; the file sub waits
expect_eq "0 true" "$(json '"\(.pairs[0].carried.files) \(.pairs[0].max_bytes_reached)"')" \
    "20: B's load keeps sub back"
expect_exit 0 barge -d "$B" unload
want=$(stat -c %.9Y "$SRC/d")
expect_eq "$want" "$(stat -c %.9Y "$DST/d")" "20: d's mtime after B's unload"
expect_exit 0 barge -d "$A" --json unload # late: sub, a directory
expect_eq 1 "$(json '.pairs[0].delivered.dirs')" "20: A makes sub"
[[ -d $DST/d/sub ]] || fail "20: A's unload did not make the directory d/sub"
expect_eq "$want" "$(stat -c %.9Y "$DST/d")" "20: d's mtime after A's late unload made sub in it"
trips_then_same 20 "$B" "$A"

# ---------------------------------------------------------------------------
# 21. A copy that raises an order without knowledge there.
reset
echo old >"$SRC/f"
echo other >"$SRC/g"
settle
first_trip_then_join --on-delete trash --mass-change-limit 100
# The sites apart: a copy at the source is the one its drive's load wrote.
rm "$SRC/f"
without "$DST" expect_exit 0 barge -d "$A" load # f deleted
without "$SRC" expect_exit 0 barge -d "$A" unload
kept_in trash f <(echo old) || fail "21: A's unload did not trash f"
echo new-and-longer >"$SRC/f"
settle
without "$DST" expect_exit 0 barge -d "$B" load --max-bytes 1 # the new f waits
without "$SRC" expect_exit 0 barge -d "$B" unload             # B finds f gone
without "$DST" expect_exit 0 barge -d "$A" load --max-bytes 1 # B's copy at the source: the old f delivered
expect_eq 1 "$(d_kind_at "$A" "" f)" "21: A's load takes B's stale knowledge of f"
without "$SRC" expect_exit 0 barge -d "$A" unload
expect_eq "" "$(d_kind_at "$A" "" f)" "21: A knows nothing at f after its unload"
expect_exit 0 barge -d "$A" verify-destination
trips_then_same 21 "$A" "$B"

# ---------------------------------------------------------------------------
# 22. A link group whose names two drives delivered apart.
reset
echo seed >"$SRC/seed"
settle
first_trip_then_join
head -c 3000 /dev/urandom >"$SRC/f"
without "$DST" expect_exit 0 barge -d "$A" load # f
ln "$SRC/f" "$SRC/a"
without "$DST" expect_exit 0 barge -d "$B" --json load --max-bytes 4096 # a, not f
expect_eq 1 "$(json '.pairs[0].carried.files')" "22: B carries a"
without "$SRC" expect_exit 0 barge -d "$B" unload # a alone: f is not there
without "$SRC" expect_exit 0 barge -d "$A" unload # f alone, late
[[ $(stat -c %i "$DST/a") != "$(stat -c %i "$DST/f")" ]] || fail "22: a and f are one file already"
without "$DST" expect_exit 0 barge -d "$A" load
without "$SRC" expect_exit 0 barge -d "$A" --json unload
expect_eq "1" "$(json '.pairs[0].delivered.hard_links')" "22: A links f to a"
grep -q "1 name of a link group at the source was a file of its own" "$T/out" ||
    fail "22: the unload does not say it linked f again: $(cat "$T/out")"
expect_eq "$(stat -c %i "$DST/a")" "$(stat -c %i "$DST/f")" "22: a and f at the destination are one file"
kept_in versions f "$SRC/f" || fail "22: f's own file is not in versions/"
for d in "$B" "$A"; do
    without "$DST" expect_exit 0 barge -d "$d" load
    without "$SRC" expect_exit 0 barge -d "$d" --json unload
    expect_eq 0 "$(json '.pairs[0].delivered.hard_links')" "22: $(basename "$d")'s next trip links nothing"
done
expect_same_tree "$SRC" "$DST" "22: after a trip of each drive"
same_links "$SRC" "$DST" || fail "22: the destination's link groups differ from the source's"
# A name added to the group, linked at once: the next unload finds the older
# names one file with it there and raises their order to its delivery's, so
# that later unloads do not look again.
ln "$SRC/f" "$SRC/0"
kept_list >"$T/kept.before"
for i in 1 2; do
    without "$DST" expect_exit 0 barge -d "$A" load
    without "$SRC" expect_exit 0 barge -d "$A" --json unload
    expect_eq "$((2 - i)) 0" "$(json '"\(.pairs[0].delivered.hard_links) \([.pairs[0].notes[] | select(test("linked again"))] | length)"')" \
        "22: trip $i after 0 was linked: links made, notes of a split"
done
kept_list >"$T/kept.after"
cmp -s "$T/kept.before" "$T/kept.after" || fail "22: a file went to versions/ or trash/ once 0 was linked"
expect_eq "$(stat -c %i "$DST/0")" "$(stat -c %i "$DST/f")" "22: 0 is linked to f"
expect_eq 1 "$(sqlite3 -readonly "$A/barge.db" "SELECT count(DISTINCT d_ord) FROM entries WHERE parent = x'' AND
    CAST(name AS TEXT) IN ('0', 'a', 'f')")" "22: A's names of the group known at one order"

# ---------------------------------------------------------------------------
# 23. A path set aside twice in one run; P a file, then a symlink, with x
# right under it or deeper.
for variant in "file x" "symlink x" "symlink d/x"; do
    read -r kind x <<<"$variant"
    reset
    if [[ $kind == file ]]; then echo v1 >"$SRC/P"; else ln -s elsewhere "$SRC/P"; fi
    settle
    first_trip_then_join
    rm "$SRC/P"
    mkdir -p "$(dirname "$SRC/P/$x")"
    echo x >"$SRC/P/$x"
    settle
    without "$DST" expect_exit 0 barge -d "$A" load # P a directory, P/x
    rm -r "$SRC/P"
    head -c 5000 /dev/urandom >"$SRC/P"
    settle
    without "$DST" expect_exit 0 barge -d "$B" load --max-bytes 1 # P/x deleted; the new P waits
    without "$SRC" expect_exit 0 barge -d "$B" unload
    without "$SRC" expect_exit 0 barge -d "$A" --json unload
    expect_eq "1 1" "$(json '"\(.pairs[0].superseded) \(.pairs[0].delivered.dirs)"')" \
        "23 ($variant): A's P/x superseded, P made"
    if [[ $kind == file ]]; then
        kept_in versions P <(echo v1) || fail "23: the old file P is not in versions/"
    else
        [[ $(readlink "$(echo "$DST"/.barge/versions/*[0-9]Z/P)") == elsewhere ]] ||
            fail "23: the old symlink P is not in versions/"
    fi
    kept_in versions "P/$x" <(echo x) || fail "23 ($variant): A's P/$x is not in versions/"
    [[ -f $(echo "$DST"/.barge/versions/*-2/P/"$x") ]] || fail "23 ($variant): P/$x is not under the run's second folder"
    trips_then_same "23 ($variant)" "$B" "$A"
done

# ---------------------------------------------------------------------------
# 24. A copy marked damaged under a directory another drive made a file, then
# a symlink.
for kind in file symlink; do
    reset
    mkdir "$SRC/d"
    echo f >"$SRC/d/f"
    echo other >"$SRC/g"
    settle
    first_trip_then_join --mass-change-limit 100
    rm "$DST/d/f"
    expect_exit 4 barge -d "$A" verify-destination # d/f marked damaged
    rm -r "$SRC/d"
    if [[ $kind == file ]]; then echo file >"$SRC/d"; else ln -s g "$SRC/d"; fi
    settle
    without "$DST" expect_exit 0 barge -d "$B" load # d a file or symlink, d/f deleted
    without "$SRC" expect_exit 0 barge -d "$B" unload
    [[ ( $kind == file && -f $DST/d && ! -L $DST/d ) || ( $kind == symlink && -L $DST/d ) ]] ||
        fail "24 ($kind): B's unload did not make d a $kind"
    rm "$SRC/d"
    mkdir "$SRC/d"
    head -c 8192 /dev/urandom >"$SRC/d/f"
    settle
    without "$DST" expect_exit 0 barge -d "$A" load --max-bytes 1 # d a directory again; the new f waits
    without "$SRC" expect_exit 0 barge -d "$A" unload
    [[ -d $DST/d && ! -L $DST/d ]] || fail "24 ($kind): A's unload did not make d a directory again"
    expect_eq "" "$(d_kind_at "$A" d f)" "24 ($kind): A knows nothing at d/f after its unload"
    expect_exit 0 barge -d "$A" verify-destination
    trips_then_same "24 ($kind)" "$A" "$B"
done

# ---------------------------------------------------------------------------
# 25. Knowledge taken from a copy that read fewer rows of the order record.
reset
echo seed >"$SRC/seed"
echo other >"$SRC/g"
settle
first_trip_then_join --on-delete trash --mass-change-limit 100
echo c-by-B >"$SRC/c"
settle
without "$DST" expect_exit 0 barge -d "$B" load # c
without "$SRC" expect_exit 0 barge -d "$B" unload
rm "$SRC/c"
without "$DST" expect_exit 0 barge -d "$A" load # c gone
without "$SRC" expect_exit 0 barge -d "$A" --json unload
expect_eq 1 "$(json '.pairs[0].trashed')" "25: A trashes c, which B delivered"
[[ ! -e $DST/c ]] || fail "25: c is still at the destination"
without "$DST" expect_exit 0 barge -d "$B" load # c gone: B's copy at the source still knows it delivered
head -c 8192 /dev/urandom >"$SRC/c"
settle
without "$DST" expect_exit 0 barge -d "$A" load --max-bytes 1 # the new c waits
expect_eq 1 "$(d_kind_at "$A" "" c)" "25: A's load takes B's stale knowledge of c"
without "$SRC" expect_exit 0 barge -d "$A" unload
expect_eq "" "$(d_kind_at "$A" "" c)" "25: A knows nothing at c after its unload"
expect_exit 0 barge -d "$A" verify-destination
trips_then_same 25 "$A" "$B"

# ---------------------------------------------------------------------------
# 26. A late drive deleting in a directory it saw as a file.
# late_deleter [CALL N]: A's late unload killed at its Nth call of CALL first
# (syncfs 1: before anything is placed at the destination; utimensat 2: d/f in
# the trash, d's times not set back yet).
late_deleter() {
    local label="26${1:+ (killed at $1 $2)}" want
    reset
    mkdir "$SRC/d"
    echo f >"$SRC/d/f"
    echo other >"$SRC/g"
    settle
    first_trip_then_join --on-delete trash --mass-change-limit 100
    rm -r "$SRC/d"
    echo file >"$SRC/d"
    settle
    expect_exit 0 barge -d "$A" load # d a file: d/f deleted
    rm "$SRC/d"
    mkdir "$SRC/d"
    head -c 8192 /dev/urandom >"$SRC/d/f"
    settle
    expect_exit 0 barge -d "$B" --json load --max-bytes 1 # d a directory again; the new f waits
    expect_eq "0 true" "$(json '"\(.pairs[0].carried.files) \(.pairs[0].max_bytes_reached)"')" \
        "$label: B's load keeps f back"
    expect_exit 0 barge -d "$B" unload
    want=$(stat -c %.9Y "$SRC/d")
    expect_eq "$want" "$(stat -c %.9Y "$DST/d")" "$label: d's mtime after B's unload"
    if [[ -n ${1:-} ]]; then
        kill_unload_at "$label: A's unload" "$A" "$1" "$2"
        expect_eq 1 "$(journals "$A" dir_times)" "$label: the journal of d's times"
        # Once d/f is trashed, only the journal's replay (restore_newer_dirs)
        # gives d its times back: the rerun writes nothing in d.
        [[ $1 != utimensat || ! -e $DST/d/f ]] ||
            fail "$label: d/f is still there: has the unload's order of work changed?"
    fi
    expect_exit 0 barge -d "$A" unload # late: d/f deleted, the file d superseded
    kept_in trash d/f <(echo f) || fail "$label: A's unload did not trash the old d/f: $(kept_list)"
    kept_in versions d <(echo file) || fail "$label: A's file d is not in versions/: $(kept_list)"
    expect_eq "$want" "$(stat -c %.9Y "$DST/d")" "$label: d's mtime after A's late unload deleted d/f in it"
    expect_eq 0 "$(journals "$A" dir_times)" "$label: no journal left"
    trips_then_same "$label" "$B" "$A"
}
late_deleter
if command -v strace >/dev/null; then
    late_deleter syncfs 1
    late_deleter utimensat 2
else
    echo "scenario 26's kill skipped: strace is not installed" >&2
fi

echo ok
