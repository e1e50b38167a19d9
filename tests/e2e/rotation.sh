#!/usr/bin/env bash
# Several drives in rotation serving one pair (SPEC §9, §7.12): a second drive
# joins the pair; no content is carried twice over ten alternating visits (the
# bytes carried equal the bytes of new content made at the source); a drive
# lost in transit is declared lost and what only it carried travels again; a
# drive that arrives late never takes the destination back in time (an older
# version is kept in versions/, a deletion does not undo a re-creation, a late
# copy does not resurrect a deleted file); a drive restored from an old image is
# refused as stale; the pair's options set on one drive reach the other. Every
# step checks the destination byte for byte.
source "$(dirname "$0")/lib.sh"

A=$T/driveA
B=$T/driveB
C=$T/driveC

# reset: a new source, destination and drives for the next scenario.
reset() {
    rm -rf "$SRC" "$DST" "$A" "$B" "$C"
    mkdir -p "$SRC"
    ROUND=0
}


# tree_is MANIFEST_FILE DIR: whether DIR's manifest equals a saved one; if
# not, the difference (saved < > DIR) is in $T/tree.diff.
tree_is() {
    manifest "$2" >"$T/manifest.now"
    cmp -s "$1" "$T/manifest.now" && return 0
    diff "$1" "$T/manifest.now" >"$T/tree.diff" || true
    return 1
}


# drive_field DRIVE_DIR ID JQ: a field of drive ID in DRIVE_DIR's `drive list`.
drive_field() {
    expect_exit 0 barge -d "$1" --json drive list
    json ".pairs[0].drives[] | select(.id == \"$2\") | $3"
}

content_of() { b2sum <"$1" | cut -c1-128; }

# ---------------------------------------------------------------------------
# 1. Two drives alternating over ten visits: nothing carried twice, nothing
#    missed, the destination equal to the source as each drive left it.
reset
mkdrive "$A"
mkdrive "$B"
mkdrive "$C"

# count FILE...: the content of each FILE, if never seen before, is new content.
declare -A SEEN
NEW_BYTES=0
count() {
    local f h
    for f in "$@"; do
        h=$(content_of "$f")
        if [[ -z ${SEEN[$h]:-} ]]; then
            SEEN[$h]=1
            NEW_BYTES=$((NEW_BYTES + $(stat -c %s "$f")))
        fi
    done
}

CARRIED=0
NEW_AT_LAST_LOAD=0
MISMATCHES=()
# visit_load DRIVE [scan]: snapshot of the source, then the load; its carried
# bytes must be the new content made since the previous load (by any drive).
visit_load() {
    local d=$1 got want
    settle
    if [[ ${2:-} == scan ]]; then
        expect_exit 0 barge -d "$d" scan # cron on the drive at home
    fi
    manifest "$SRC" >"$T/snapshot"
    expect_exit 0 barge -d "$d" --json load
    expect_eq 0 "$(json '.pairs[0].failures | length')" "load $d: failures"
    got=$(json '.pairs[0].carried.bytes')
    want=$((NEW_BYTES - NEW_AT_LAST_LOAD))
    NEW_AT_LAST_LOAD=$NEW_BYTES
    CARRIED=$((CARRIED + got))
    [[ $got -eq $want ]] ||
        MISMATCHES+=("visit $VISIT ($(basename "$d")): carried $got bytes for $want bytes of new content")
}
# visit_unload DRIVE: the unload; the destination then equals the snapshot.
visit_unload() {
    expect_exit 0 barge -d "$1" --json unload
    expect_eq 0 "$(json '.pairs[0].failures | length')" "unload $1: failures"
    expect_eq 0 "$(json '.pairs[0].superseded')" "visit $VISIT: nothing superseded in strict alternation"
    # The destination is the source as it was when this drive was loaded
    # (everything changed since then was unknown to it).
    tree_is "$T/snapshot" "$DST" ||
        TREE_MISMATCHES+=("after visit $VISIT ($(basename "$1")) the destination differs from the source at its load (< source, > destination): $(head -20 "$T/tree.diff" | tr '\n' ' ')")
}
TREE_MISMATCHES=()

# Visit 1 (A): the first tree; a duplicate inside it travels once.
VISIT=1
rnd "$SRC/photos/p1.jpg" 200000
cp "$SRC/photos/p1.jpg" "$SRC/photos/p1-copy.jpg"
rnd "$SRC/photos/p2.jpg" 150000
rnd "$SRC/big/film.bin" 2500000 # 3 pieces of 1 MiB
mkdir -p "$SRC/docs"
printf 'alpha v1\n' >"$SRC/docs/a.txt"
rnd "$SRC/docs/b.txt" 5000
: >"$SRC/empty-file"
mkdir -p "$SRC/empty-dir"
ln -s docs/a.txt "$SRC/link-to-a"
count "$SRC"/photos/* "$SRC"/big/film.bin "$SRC"/docs/* "$SRC/empty-file"
expect_exit 0 barge -d "$A" --json pair add p "$SRC" "$DST" --on-delete trash --mass-change-limit 100
expect_eq false "$(json .joined)" "the first drive makes the pair"
PAIR=$(json .id)
visit_load "$A"

# While A is in transit, B joins the pair (its own reserve is allowed).
expect_exit 2 barge -d "$B" pair add p "$SRC" "$DST" --exclude '*.tmp'
expect_exit 2 barge -d "$B" pair add p "$SRC" "$DST" --on-delete keep
expect_exit 2 barge -d "$B" pair add p "$SRC" "$DST" --retention 10
expect_exit 2 barge -d "$B" pair add p "$SRC" "$DST" --mass-change-limit 50
expect_exit 2 barge -d "$B" pair add p "$SRC" "$DST" --mass-change-min 5
expect_exit 0 barge -d "$B" --json pair add p "$SRC" "$DST" --reserve 1M
expect_eq "true $PAIR" "$(json '"\(.joined) \(.id)"')" "B joins A's pair"
expect_eq "${ID[$A]}" "$(json '.drives | map(.id) | join(",")')" "the drives named when joining"
# A third drive joins too (it stays at home, unused): the text says so.
expect_exit 0 barge -d "$C" pair add p "$SRC" "$DST"
grep -q "joined pair" "$T/out" || fail "pair add does not say it joined: $(cat "$T/out")"
grep -q "${ID[$A]}" "$T/out" || fail "pair add does not name drive A: $(cat "$T/out")"

# In transit (A): b.txt edited, c.txt new.
rnd "$SRC/docs/b.txt" 6000
printf 'charlie\n' >"$SRC/docs/c.txt"
count "$SRC/docs/b.txt" "$SRC/docs/c.txt"
visit_unload "$A"

# Visit 2 (B): a rename into a new directory, a deletion, a new file, an edit.
VISIT=2
mkdir "$SRC/archive"
mv "$SRC/photos/p2.jpg" "$SRC/archive/p2.jpg"
rm "$SRC/photos/p1-copy.jpg"
rnd "$SRC/photos/p3.jpg" 100000
printf 'alpha v2\n' >>"$SRC/docs/a.txt"
count "$SRC/photos/p3.jpg" "$SRC/docs/a.txt"
visit_load "$B"
# In transit (B): p3 (on B) edited again, film renamed, a note added.
rnd "$SRC/photos/p3.jpg" 120000
mv "$SRC/big/film.bin" "$SRC/big/film-2023.bin"
mkdir "$SRC/notes"
printf 'note one\n' >"$SRC/notes/n1.txt"
count "$SRC/photos/p3.jpg" "$SRC/notes/n1.txt"
visit_unload "$B"

# Visit 3 (A).
VISIT=3
visit_load "$A"
# In transit (A): the note A carries is deleted (B never saw it); a new file.
rm "$SRC/notes/n1.txt"
rnd "$SRC/tmp/t1.bin" 30000
count "$SRC/tmp/t1.bin"
visit_unload "$A"

# Visit 4 (B): a directory renamed.
VISIT=4
mv "$SRC/photos" "$SRC/pictures"
visit_load "$B"
visit_unload "$B"

# Visit 5 (A): a copy of content the destination holds (hashed by a scan
# first, as cron would: docs/load.md) and the film rewritten.
VISIT=5
cp -p "$SRC/pictures/p1.jpg" "$SRC/pictures/p1-again.jpg"
rnd "$SRC/big/film-2023.bin" 2600000
count "$SRC/pictures/p1-again.jpg" "$SRC/big/film-2023.bin"
visit_load "$A" scan
# In transit (A): p3 deleted.
rm "$SRC/pictures/p3.jpg"
visit_unload "$A"

# Visit 6 (B): an edit, a deep new file.
VISIT=6
printf 'charlie v2\n' >>"$SRC/docs/c.txt"
printf 'deep\n' >"$SRC/deep.txt.tmp"
mkdir -p "$SRC/deep/a/b/c"
mv "$SRC/deep.txt.tmp" "$SRC/deep/a/b/c/d.txt"
count "$SRC/docs/c.txt" "$SRC/deep/a/b/c/d.txt"
visit_load "$B"
# In transit (B): the file B carries is renamed; a new file.
mv "$SRC/docs/c.txt" "$SRC/docs/c-renamed.txt"
rnd "$SRC/late.bin" 40000
count "$SRC/late.bin"
visit_unload "$B"

# Visit 7 (A).
VISIT=7
visit_load "$A"
visit_unload "$A"

# Visit 8 (B): a directory deleted with its file.
VISIT=8
rm -r "$SRC/tmp"
visit_load "$B"
# In transit (B): a.txt edited.
printf 'alpha v3\n' >>"$SRC/docs/a.txt"
count "$SRC/docs/a.txt"
visit_unload "$B"

# Visit 9 (A): a new picture, an empty directory removed.
VISIT=9
rnd "$SRC/pictures/p4.jpg" 80000
rmdir "$SRC/empty-dir"
count "$SRC/pictures/p4.jpg"
visit_load "$A"
visit_unload "$A"

# Visit 10 (B): the archived picture rewritten.
VISIT=10
rnd "$SRC/archive/p2.jpg" 50000
count "$SRC/archive/p2.jpg"
visit_load "$B"
visit_unload "$B"

echo "rotation: carried $CARRIED bytes for $NEW_BYTES bytes of new content"
for m in "${TREE_MISMATCHES[@]}" "${MISMATCHES[@]}"; do echo "  $m" >&2; done
expect_same_tree "$SRC" "$DST" "after ten visits"
((${#TREE_MISMATCHES[@]} == 0)) || fail "${#TREE_MISMATCHES[@]} visits left the destination unlike the source at their load"
((${#MISMATCHES[@]} == 0)) || fail "content carried twice or missed on ${#MISMATCHES[@]} visits"
expect_eq "$NEW_BYTES" "$CARRIED" "bytes carried by all loads against bytes of new content"

# Both drives know each other; A carries nothing undelivered.
expect_exit 0 barge -d "$A" --json drive list
expect_eq "p" "$(json '.pairs[0].name')" "drive list: the pair"
expect_eq "1 1" "$(json "[.pairs[0].drives[] | select(.id == \"${ID[$A]}\")] | length") $(json "[.pairs[0].drives[] | select(.id == \"${ID[$B]}\")] | length")" \
    "drive list: A and B each once"
expect_eq "true 0 false" "$(json ".pairs[0].drives[] | select(.id == \"${ID[$A]}\") | \"\(.this_drive) \(.carries.files) \(.lost)\"")" \
    "drive list: A itself"
expect_eq "false false" "$(json ".pairs[0].drives[] | select(.id == \"${ID[$B]}\") | \"\(.this_drive) \(.lost)\"")" \
    "drive list: B"
expect_exit 0 barge -d "$B" --json status
expect_eq 1 "$(json "[(.pairs[0].drives // [])[] | select(.id == \"${ID[$A]}\")] | length")" "status: the drives of the pair"
expect_eq 0 "$(json '.pairs[0].carried_elsewhere.files')" "status: nothing carried elsewhere at the end"

# ---------------------------------------------------------------------------
# 2. Three drives; C is lost in transit. Nothing C carried travels on another
#    drive until C is declared lost; then A's next load carries it.
reset
mkdrive "$A"
mkdrive "$B"
mkdrive "$C"
rnd "$SRC/base/one.bin" 100000
printf 'first\n' >"$SRC/docs.txt"
settle
expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST" --on-delete trash --mass-change-limit 100
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
expect_same_tree "$SRC" "$DST" "three drives: first trip"
expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
expect_exit 0 barge -d "$C" --json pair add p "$SRC" "$DST"
expect_eq true "$(json .joined)" "C joins"

rnd "$SRC/on-c/c1.bin" 300000
printf 'second\n' >>"$SRC/docs.txt"
settle
c_bytes=$((300000 + $(stat -c %s "$SRC/docs.txt")))
expect_exit 0 barge -d "$C" --json load
expect_eq "2 $c_bytes" "$(json '.pairs[0].carried | "\(.files) \(.bytes)"')" "C carries the new content"
C_ID=${ID[$C]}
rm -rf "$C" # lost in transit

rnd "$SRC/on-b/b1.bin" 50000
settle
expect_exit 0 barge -d "$B" --json load
expect_eq "1 50000" "$(json '.pairs[0].carried | "\(.files) \(.bytes)"')" "B carries only what C does not"
expect_eq "2 $c_bytes" "$(json '.pairs[0].carried_elsewhere | "\(.files) \(.bytes)"')" "B: carried elsewhere (by C)"
expect_exit 0 barge -d "$B" --json unload
cmp -s "$SRC/on-b/b1.bin" "$DST/on-b/b1.bin" || fail "B did not deliver its file"
[[ ! -e $DST/on-c/c1.bin ]] || fail "C's file arrived without C"
expect_eq "first" "$(cat "$DST/docs.txt")" "docs.txt at the destination before C's content arrives"
expect_exit 0 barge -d "$B" --json status
expect_eq "2 $c_bytes" "$(json '.pairs[0].carried_elsewhere | "\(.files) \(.bytes)"')" "status: carried elsewhere"

# A learns of C at the source, and still does not carry C's content.
expect_exit 0 barge -d "$A" --json load
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "A does not carry what C carries"
expect_eq "2 $c_bytes" "$(json '.pairs[0].carried_elsewhere | "\(.files) \(.bytes)"')" "A: carried elsewhere (by C)"
expect_exit 0 barge -d "$A" unload
expect_eq "false 2 $c_bytes" "$(drive_field "$A" "$C_ID" '"\(.lost) \(.carries.files) \(.carries.bytes)"')" \
    "A's view of C before it is declared lost"

# C is declared lost (by a unique prefix of its id).
expect_exit 2 barge -d "$A" drive lost "${ID[$A]}"
expect_exit 2 barge -d "$A" drive lost "no-such-drive"
expect_exit 0 barge -d "$A" --json drive lost "${C_ID:0:8}"
expect_eq "$C_ID p" "$(json '"\(.drive) \(.pairs | join(","))"')" "drive lost"
expect_eq true "$(drive_field "$A" "$C_ID" .lost)" "A's view of C after drive lost"
expect_exit 0 barge -d "$A" --json load
expect_eq "2 $c_bytes" "$(json '.pairs[0].carried | "\(.files) \(.bytes)"')" "A carries what only C carried"
expect_eq 0 "$(json '.pairs[0].carried_elsewhere.files')" "nothing carried elsewhere once C is lost"
expect_exit 0 barge -d "$A" unload
expect_same_tree "$SRC" "$DST" "after C's content came on A"
# B learns at the source that C is lost, and has nothing left to carry.
expect_exit 0 barge -d "$B" --json load
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "B after C was lost"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "after B's next trip"
expect_eq true "$(drive_field "$B" "$C_ID" .lost)" "B learned that C is lost"

# ---------------------------------------------------------------------------
# Scenarios 3 and 4 start from the same place: a pair served by A and B, one
# trip delivered.
two_drives() {
    reset
    mkdrive "$A"
    mkdrive "$B"
    rnd "$SRC/keep/base.bin" 20000
    mkdir -p "$SRC/dir"
    printf 'old\n' >"$SRC/dir/f0.txt"
    settle
    expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST" --on-delete trash --mass-change-limit 100
    expect_exit 0 barge -d "$A" load
    expect_exit 0 barge -d "$A" unload
    expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
    expect_exit 0 barge -d "$B" load
    expect_exit 0 barge -d "$B" unload
    expect_same_tree "$SRC" "$DST" "the first trips"
}

# versions_hold PATH FILE: some DST/.barge/versions/*/PATH has FILE's content.
versions_hold() {
    local v
    for v in "$DST"/.barge/versions/*/"$1"; do
        [[ -f $v ]] && cmp -s "$v" "$2" && return 0
    done
    return 1
}

# ---------------------------------------------------------------------------
# 3. Wrong order: v1 on A, v2 on B; B unloads first, then A.
two_drives
printf 'v1 of f\n' >"$SRC/dir/f.txt"
rnd "$SRC/other.bin" 7000 # travels with A and is delivered normally
settle
cp "$SRC/dir/f.txt" "$T/f-v1"
expect_exit 0 barge -d "$A" --json load
expect_eq 2 "$(json '.pairs[0].carried.files')" "A carries f v1 and the other file"
printf 'v2 of f, longer\n' >"$SRC/dir/f.txt"
settle
expect_exit 0 barge -d "$B" --json load
expect_eq 1 "$(json '.pairs[0].carried.files')" "B carries f v2 only"
expect_exit 0 barge -d "$B" unload
# The destination is the source but for other.bin, still on A.
manifest "$SRC" | grep -v '^other\.bin|' >"$T/manifest.want"
tree_is "$T/manifest.want" "$DST" || { cat "$T/tree.diff" >&2; fail "B (newer) unloaded first"; }
expect_exit 0 barge -d "$A" --json unload
expect_eq 1 "$(json '.pairs[0].superseded')" "A's unload: its older f superseded"
expect_eq "v2 of f, longer" "$(cat "$DST/dir/f.txt")" "the destination keeps v2"
versions_hold dir/f.txt "$T/f-v1" || fail "v1 of dir/f.txt is not in versions/: $(find "$DST/.barge/versions" 2>&1)"
cmp -s "$SRC/other.bin" "$DST/other.bin" || fail "A's other file was not delivered"
expect_same_tree "$SRC" "$DST" "after the late drive (older version)"

# ---------------------------------------------------------------------------
# 4a. A deletion overtaken by a re-creation: the deletion on A, the new f on B;
#     B unloads first, then A: f stays with B's content.
two_drives
rm "$SRC/dir/f0.txt"
settle
expect_exit 0 barge -d "$A" --json load
printf 'f0 re-created\n' >"$SRC/dir/f0.txt"
settle
expect_exit 0 barge -d "$B" --json load
expect_eq 1 "$(json '.pairs[0].carried.files')" "B carries the re-created file"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "B (re-creation) unloaded first"
expect_exit 0 barge -d "$A" --json unload
expect_eq 0 "$(json '.pairs[0].trashed')" "the late deletion trashed nothing"
expect_eq "f0 re-created" "$(cat "$DST/dir/f0.txt")" "the re-created file survives the late deletion"
expect_same_tree "$SRC" "$DST" "after the late drive (deletion)"

# 4b. A late drive does not resurrect a deleted file: g created and loaded on
#     A, then deleted and the deletion loaded on B; B unloads, then A: g absent,
#     A's copy kept in versions/. Twice: g1 was seen by B (a scan from cron
#     while B was at home), g2 never was (B learns of it from A alone).
two_drives
printf 'g1, soon deleted\n' >"$SRC/dir/g1.txt"
settle
expect_exit 0 barge -d "$B" --json scan
expect_eq 1 "$(json '.pairs[0].new')" "B's scan saw g1"
printf 'g2, soon deleted\n' >"$SRC/dir/g2.txt"
settle
cp "$SRC/dir/g1.txt" "$SRC/dir/g2.txt" "$T/"
expect_exit 0 barge -d "$A" --json load
expect_eq 2 "$(json '.pairs[0].carried.files')" "A carries g1 and g2"
rm "$SRC/dir/g1.txt" "$SRC/dir/g2.txt"
settle
expect_exit 0 barge -d "$B" --json load
expect_eq 0 "$(json '.pairs[0].carried.files')" "B carries no file"
[[ $(json '.pairs[0].scan.deleted') -ge 1 ]] || fail "B's load did not see g1 deleted: $(json '.pairs[0].scan')"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "B (deletions) unloaded first"
expect_exit 0 barge -d "$A" --json unload
for g in g1 g2; do
    [[ ! -e $DST/dir/$g.txt ]] || fail "the late drive resurrected dir/$g.txt (unload: $(jq -c '.pairs[0] | {delivered, trashed, versions, superseded}' <"$T/out"))"
    versions_hold "dir/$g.txt" "$T/$g.txt" || fail "A's copy of dir/$g.txt is not in versions/: $(find "$DST/.barge" -path '*versions*' 2>&1)"
done
expect_eq 2 "$(json '.pairs[0].superseded')" "A's unload: g1 and g2 superseded by their deletion"
expect_same_tree "$SRC" "$DST" "after the late drive (resurrection)"

# ---------------------------------------------------------------------------
# 4c. verify-destination learns before it checks (found by
#     random_rotation.sh): B delivers a new version of a file A delivered, then
#     deletes another; verify-destination with A, whose catalog still believes
#     its own versions stand there, learns first (as an unload does) and
#     reports nothing bad (it reported each file damaged and queued it again).
#     A file whose new content A does not know is left to A's next unload.
two_drives
printf 'f0, edited and delivered by B\n' >"$SRC/dir/f0.txt"
settle
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" unload
expect_exit 0 barge -d "$A" --json verify-destination
expect_eq "1 0" "$(json '.pairs[0] | "\(.checked) \(.bad)"')" "A's verify-destination after B's edit: checked, bad"
rm "$SRC/keep/base.bin"
settle
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "B's trips with an edit and a deletion"
expect_exit 0 barge -d "$A" --json verify-destination
expect_eq 0 "$(json '.pairs[0].bad')" "A's verify-destination after B's deletion: bad"
expect_exit 0 barge -d "$A" --json load
expect_eq 0 "$(json '.pairs[0].carried.files')" "A's next load carries nothing again"

# ---------------------------------------------------------------------------
# 5. A drive restored from an old image is refused as stale, and the refusal
#    changes nothing at the destination.
reset
mkdrive "$A"
mkdrive "$B"
rnd "$SRC/s1.bin" 10000
settle
expect_exit 0 barge -d "$A" --json pair add p "$SRC" "$DST" --on-delete trash --mass-change-limit 100
PAIR=$(json .id)
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" unload
cp "$A/barge.db" "$T/image-A.db" # an image of A's catalog, taken now
rnd "$SRC/s2.bin" 12000
settle
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
expect_same_tree "$SRC" "$DST" "A's second trip"
# B has not seen A's second trip: its knowledge of A is stale here; a visit
# to the source brings it up to date.
expect_eq stale "$(drive_field "$B" "${ID[$A]}" .knowledge)" "B's knowledge of A before B's next visit"
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" unload
expect_eq current "$(drive_field "$B" "${ID[$A]}" .knowledge)" "B's knowledge of A after B's visit"

cp "$A/barge.db" "$T/current-A.db"
cp "$T/image-A.db" "$A/barge.db" # the old image restored
rm -f "$SRC/s1.bin"
printf 'new since\n' >"$SRC/s3.txt"
settle
# The whole destination, .barge included: names, sizes, mtimes and contents.
whole() { (cd "$1" && find . -printf '%P|%y|%s|%T@|' -type f -exec b2sum {} \; -o -printf '\n' | LC_ALL=C sort); }
before_dst=$(manifest "$DST")
before_whole=$(whole "$DST")
expect_exit 2 barge -d "$A" load
grep -q "older than what" "$T/err" || fail "the stale load is refused for another reason: $(cat "$T/err")"
expect_exit 2 barge -d "$A" unload
grep -q "older than what" "$T/err" || fail "the stale unload is refused for another reason: $(cat "$T/err")"
expect_eq "$before_dst" "$(manifest "$DST")" "the stale drive changed the destination"
expect_eq "$before_whole" "$(whole "$DST")" "the stale drive changed the destination's .barge"
cmp -s "$T/image-A.db" "$A/barge.db" || fail "a refused run changed the stale catalog"
# The real catalog back: all is well again.
cp "$T/current-A.db" "$A/barge.db"
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
expect_same_tree "$SRC" "$DST" "after the current catalog came back"

# --separate makes an independent pair even where A and B serve these roots.
mkdrive "$C"
expect_exit 0 barge -d "$C" --json pair add q "$SRC" "$DST" --separate
expect_eq false "$(json .joined)" "--separate does not join"
[[ $(json .id) != "$PAIR" ]] || fail "--separate gave the joined pair's id"
# But it cannot claim the destination A and B serve: two pairs delivering into
# one tree undo each other's deliveries (such a pair once put the version it
# carried over a newer one of the other pair's, exit 0). unload, its dry run
# and run refuse, naming p's marker, and nothing changes there. (That pair
# remains C's: its load and its other destination are its own.)
echo newer >"$SRC/sep.txt"
expect_exit 0 barge -d "$C" load
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
before_whole=$(whole "$DST")
echo newest >"$SRC/sep.txt"
for cmd in unload "unload --dry-run" "--yes run"; do
    [[ $cmd != *run ]] || mv "$SRC" "$T/src-away"
    expect_exit 2 barge -d "$C" $cmd
    [[ $cmd != *run ]] || mv "$T/src-away" "$SRC"
    grep -qF "cannot claim destination '$DST' of pair 'q': it is the destination of pair 'p' ($PAIR, of drive" "$T/err" ||
        fail "C's $cmd is not refused for p's marker: $(cat "$T/err")"
    grep -qF "$DST/.barge/$PAIR.dest" "$T/err" || fail "C's $cmd does not name p's marker file: $(cat "$T/err")"
    expect_eq "$before_whole" "$(whole "$DST")" "the destination after C's $cmd"
done
expect_exit 0 barge -d "$C" pair remove q --yes
# Nor one inside it.
expect_exit 0 barge -d "$C" pair add q2 "$SRC" "$DST/nested" --separate
expect_exit 0 barge -d "$C" load
expect_exit 2 barge -d "$C" unload
grep -qF "cannot claim destination '$DST/nested' of pair 'q2': it is inside '$DST', the destination of pair 'p' ($PAIR" "$T/err" ||
    fail "C's nested pair is not refused for p's marker: $(cat "$T/err")"
[[ ! -e $DST/nested ]] || fail "the refused claim made the nested destination"
expect_eq "$before_whole" "$(whole "$DST")" "the destination after the nested pair's unload"
expect_exit 0 barge -d "$C" pair remove q2 --yes

# ---------------------------------------------------------------------------
# 5b. Content the destination reported damaged is carried again by whichever
# drive comes next: A delivered it, A's verify-destination found it damaged,
# B (next at the source) carries it and repairs it.
two_drives
expect_exit 0 barge -d "$A" dump-cargo --yes
flip_byte "$DST/keep/base.bin" 100
expect_exit 4 barge -d "$A" verify-destination
expect_exit 0 barge -d "$B" --json load
expect_eq 20000 "$(json '.pairs[0].carried.bytes')" "B carries the damaged file again"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "the damaged file repaired by the other drive"
expect_exit 0 barge -d "$B" verify-destination

# ---------------------------------------------------------------------------
# 6. Two encrypted drives with different passphrases: each reads the other's
# sealed catalog copy with the key saved at the endpoint at its first unlock
# there; nothing is carried twice; the wrong-order rule holds.
reset
printf 'passphrase of A\n' >"$T/pa"
printf 'passphrase of B\n' >"$T/pb"
expect_exit 0 barge --passphrase-file "$T/pa" init "$A" --encrypt --kdf-memory 8KiB --kdf-passes 1
expect_exit 0 barge --passphrase-file "$T/pb" init "$B" --encrypt --kdf-memory 8KiB --kdf-passes 1
rnd "$SRC/photos/a.jpg" 30000
rnd "$SRC/photos/b.jpg" 40000
settle
expect_exit 0 barge -d "$A" --passphrase-file "$T/pa" pair add p "$SRC" "$DST"
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
expect_exit 0 barge -d "$B" --passphrase-file "$T/pb" --json pair add p "$SRC" "$DST"
expect_eq true "$(json .joined)" "an encrypted drive joins through the other's sealed copy"
printf 'version one\n' >"$SRC/doc.txt"
settle
expect_exit 0 barge -d "$B" --json load
expect_eq 12 "$(json '.pairs[0].carried.bytes')" "the encrypted second drive carries only the new file"
printf 'version two, longer\n' >"$SRC/doc.txt"
settle
expect_exit 0 barge -d "$A" --json load
expect_eq 20 "$(json '.pairs[0].carried.bytes')" "A carries only the new version"
expect_exit 0 barge -d "$A" unload
expect_exit 0 barge -d "$B" --json unload
expect_eq 1 "$(json '.pairs[0].superseded')" "B's older version is superseded"
expect_same_tree "$SRC" "$DST" "encrypted drives, late older version"
versions_hold doc.txt <(printf 'version one\n') || fail "the older version is not in versions/"

# ---------------------------------------------------------------------------
# 7. The pair's options set on one drive reach the other at its next visit of
#    an endpoint (the later `pair set` wins: docs/rotation.md), and the other
#    drive's load keeps them (an exclude set on A leaves B's load the file); a
#    drive's own --reserve is not among them, and setting it does not carry
#    that drive's older options over a later change made on the other drive.
#    (pair set kept the stored stamp, so no change ever reached another drive.)
options_of() {
    expect_exit 0 barge -d "$1" --json pair list
    json '.pairs[0] | "\(.on_delete) \(.retention_days) \(.mass_change_min) \(.excludes | join(","))"'
}
two_drives
expect_exit 0 barge -d "$A" pair set p --on-delete keep --retention 7 --exclude '*.tmp'
expect_exit 0 barge -d "$A" load # A's catalog copy at the source has them
printf 'scratch\n' >"$SRC/dir/x.tmp"
printf 'new\n' >"$SRC/dir/f1.txt"
settle
expect_exit 0 barge -d "$B" load
grep -q "note: pair 'p': took the pair's options as set on drive ${ID[$A]}" "$T/out" ||
    fail "7: B's load did not say it took A's options: $(cat "$T/out")"
expect_eq "keep 7 100 *.tmp" "$(options_of "$B")" "7: B took the options set on A"
expect_exit 0 barge -d "$B" unload
[[ -f $DST/dir/f1.txt && ! -e $DST/dir/x.tmp ]] || fail "7: B's load did not apply A's exclude: $(ls "$DST/dir")"
expect_exit 0 barge -d "$B" pair set p --mass-change-min 5
expect_exit 0 barge -d "$B" load # B's copy at the source has it
expect_exit 0 barge -d "$A" pair set p --reserve 2M # A's own: its older options stay older
expect_exit 0 barge -d "$A" load
expect_eq "keep 7 5 *.tmp" "$(options_of "$A")" "7: A took the later change made on B"
expect_eq 2097152 "$(json '.pairs[0].reserve')" "7: A kept its own reserve"
expect_exit 0 barge -d "$B" --json pair list
expect_eq 1073741824 "$(json '.pairs[0].reserve')" "7: B's reserve is its own"
# A's options were set on a host whose clock ran a year ahead: a later change
# on B still wins (pair set stamps past the stamp it replaces).
catalog_sql "$A/barge.db" "UPDATE pairs SET options_ns = options_ns + 365 * 86400 * 1000000000"
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" pair set p --retention 3
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$A" load
expect_eq "keep 3 5 *.tmp" "$(options_of "$A")" "7: A took B's change made after A's clock ran ahead"
# Pairs from before options were stamped (schema 5: stamp 0, in the catalogs
# and their copies, which the next runs write anew): a change of A's own
# reserve does not make A's options newer than B's change.
catalog_sql "$A/barge.db" "UPDATE pairs SET options_ns = 0"
catalog_sql "$B/barge.db" "UPDATE pairs SET options_ns = 0"
rm -f "$SRC"/.barge/catalog-* "$DST"/.barge/catalog-*
expect_exit 0 barge -d "$B" pair set p --retention 4
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$A" pair set p --reserve 3M
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$B" load
expect_eq "keep 4 5 *.tmp" "$(options_of "$A")" "7: A did not take B's change over a stamp of 0"
expect_eq "keep 4 5 *.tmp" "$(options_of "$B")" "7: A's reserve carried A's older options to B"

# ---------------------------------------------------------------------------
# 8. A drive removes the pair with a file only it carries (`pair remove
#    --yes`), which the other drive knows it carries: its mark at the
#    endpoints tells the other drive, whose next load counts it lost for the
#    pair and carries the file itself (it waited for A forever: the file was
#    never backed up). The markers and the order record the other drive uses
#    stay.
two_drives
printf 'only on A\n' >"$SRC/dir/x.txt"
settle
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$B" --json load
expect_eq 1 "$(json '.pairs[0].carried_elsewhere.files')" "8: B knows A carries x.txt"
expect_exit 0 barge -d "$A" pair remove p --yes
grep -q "the other drives serving it (${ID[$B]}) learn at their next visit of $SRC or $DST" "$T/out" ||
    fail "8: pair remove did not say the other drive learns it: $(cat "$T/out")"
expect_exit 0 barge -d "$B" --json pair list
uuid=$(json '.pairs[0].id')
[[ -f $SRC/.barge/left-$uuid-${ID[$A]} && -f $DST/.barge/left-$uuid-${ID[$A]} ]] ||
    fail "8: A left no mark at the endpoints: $(ls "$SRC/.barge" "$DST/.barge")"
[[ -f $SRC/.barge/$uuid.source && -f $DST/.barge/$uuid.dest && -f $DST/.barge/order-$uuid.db ]] ||
    fail "8: A's removal took the markers or the order record B uses"
touch "$SRC/.barge/left-$uuid-${ID[$A]}.tmp-4242" # a write of a mark killed midway: no drive
expect_exit 0 barge -d "$B" load
grep -q "drive ${ID[$A]} left the pair" "$T/out" || fail "8: B's load did not say A left: $(cat "$T/out")"
if grep -q "tmp-4242" "$T/out"; then fail "8: a leftover temporary file was taken for a drive: $(cat "$T/out")"; fi
rm "$SRC/.barge/left-$uuid-${ID[$A]}.tmp-4242"
grep -q "carried 1 file" "$T/out" || fail "8: B did not carry x.txt: $(cat "$T/out")"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "8: x.txt delivered by B"
expect_eq true "$(drive_field "$B" "${ID[$A]}" '.lost != null')" "8: B counts A lost"
# B removes the pair too: no drive serves it any more, so its markers, order
# records and the marks go, and a new drive's pair add there is a new pair
# (a review found them kept for A, and C refused: 'load once with drive A').
expect_exit 0 barge -d "$B" pair remove p
[[ -z $(ls "$SRC/.barge" "$DST/.barge" | grep -E "^(left-|order-|$uuid)") ]] ||
    fail "8: the last drive's removal left the pair's files: $(ls "$SRC/.barge" "$DST/.barge")"
mkdrive "$C"
expect_exit 0 barge -d "$C" --json pair add p "$SRC" "$DST"
expect_eq false "$(json .joined)" "8: C's pair add after both drives left"
echo ok
