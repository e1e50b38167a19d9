#!/usr/bin/env bash
# SPEC §7 / issue 5 (9, 10): endpoints remember the drive's generation and keep a
# copy of its catalog. An older catalog brought back (a restored image, the lost
# drive found again) is refused before it can drive a delivery or a deletion;
# a lost drive is replaced by a new one whose catalog `barge recover` rebuilds
# from the copy at the source: nothing delivered twice, nothing missed.
source "$(dirname "$0")/lib.sh"

setup_pair --on-delete trash --mass-change-limit 100
make_varied_tree "$SRC"
id=$(sql "SELECT value FROM meta WHERE key = 'drive_id'")
gen() { sqlite3 -readonly "$1" "SELECT value FROM meta WHERE key = 'generation'"; }

expect_exit 0 barge load
# The source remembers the generation, and holds a copy of the catalog.
src_copy=$SRC/.barge/catalog-$id.db
[[ -f $src_copy ]] || fail "no catalog copy at the source after a load"
expect_eq ok "$(sqlite3 -readonly "$src_copy" 'PRAGMA integrity_check')" "integrity of the copy"
expect_eq "$(gen "$DRIVE/barge.db")" "$(cat "$SRC/.barge/drive-$id.generation")" "generation the source saw"
expect_eq "$(gen "$DRIVE/barge.db")" "$(gen "$src_copy")" "generation of the source's copy"
cp "$DRIVE/barge.db" "$T/image-after-load1.db" # an image of the drive's catalog, taken now

expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the first cycle"
[[ -f $DST/.barge/catalog-$id.db ]] || fail "no catalog copy at the destination after an unload"
expect_eq "$(gen "$DRIVE/barge.db")" "$(cat "$DST/.barge/drive-$id.generation")" "generation the destination saw"

# A refused run changes nothing, so it moves no generation: dry runs neither.
g_before=$(gen "$DRIVE/barge.db")
expect_exit 0 barge load --dry-run
expect_eq "$g_before" "$(gen "$DRIVE/barge.db")" "a dry run moved the generation"

# --- A stale catalog: the image from before the unload is restored. ---
cp "$DRIVE/barge.db" "$T/current.db"
echo "newer" >"$SRC/docs/new.txt"
age "$SRC/docs/new.txt"
cp "$T/image-after-load1.db" "$DRIVE/barge.db"
before=$(manifest "$DST")
expect_exit 2 barge unload
grep -q "older than what" "$T/err" || fail "the refusal does not say why: $(cat "$T/err")"
grep -q "barge recover" "$T/err" || fail "the refusal does not point to recover"
expect_eq "$before" "$(manifest "$DST")" "a stale catalog changed the destination"
cmp -s "$T/image-after-load1.db" "$DRIVE/barge.db" || fail "a refused run changed the catalog"
expect_exit 2 barge run
grep -q "older than what" "$T/err" || fail "run refused for another reason: $(cat "$T/err")"
expect_exit 2 barge verify-destination
grep -q "older than what" "$T/err" || fail "verify-destination refused for another reason: $(cat "$T/err")"
cp "$T/current.db" "$DRIVE/barge.db" # the real one back: all is well again
expect_exit 0 barge load

# --- The drive is lost in transit with that load on it. ---
cp "$DRIVE/barge.db" "$T/lost-drive.db"
rm -rf "$DRIVE"
NEW=$T/newdrive
mkdir "$NEW"
export BARGE_DRIVE=$NEW
expect_exit 2 barge recover "$T/nothing-here"
expect_exit 0 barge --json recover "$SRC"
expect_eq "$src_copy" "$(json .recovered_from)" "recovered from the source's copy"
[[ $(json .requeued_pieces) -ge 1 ]] || fail "the lost drive's pieces were not queued again"
expect_exit 0 barge status --json
expect_eq "1 0" "$(json '.pairs[0] | "\(.pending.files) \(.failed.files)"')" "after recover, the lost drive's file waits again"
expect_exit 0 barge --json load
expect_eq 1 "$(json '.pairs[0].carried.files')" "the new drive carries what the lost one held"
expect_exit 0 barge --json unload
expect_eq 1 "$(json '.pairs[0].delivered.files')" "only the new file is delivered: nothing twice"
expect_eq 0 "$(json '.pairs[0].delivered.already_there')" "nothing delivered twice"
expect_same_tree "$SRC" "$DST" "after the new drive's trip"
# Recovering again when the catalog is current is refused.
expect_exit 2 barge recover "$SRC"

# --- The lost drive is found and plugged in again: its catalog is stale. ---
OLD=$T/olddrive
mkdir "$OLD"
cp "$T/lost-drive.db" "$OLD/barge.db"
mkdir -p "$OLD/cargo" "$OLD/logs"
before=$(manifest "$DST")
expect_exit 2 barge -d "$OLD" unload
expect_eq "$before" "$(manifest "$DST")" "the found drive changed the destination"
expect_exit 2 barge -d "$OLD" load
cmp -s "$T/lost-drive.db" "$OLD/barge.db" || fail "a refused run changed the found drive's catalog"

# A corrupt drive catalog is set aside (never deleted) and rebuilt.
printf 'garbage' | dd of="$NEW/barge.db" bs=1 seek=100 conv=notrunc status=none
printf 'garbage' | dd of="$NEW/barge.db" bs=1 seek=5000 conv=notrunc status=none
expect_exit 0 barge --json recover "$SRC" "$DST"
[[ -f $(json .set_aside) ]] || fail "the corrupt catalog was not kept beside"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after recovering from a corrupt catalog"

# --- Two drives serve the pair: the source holds both drives' copies. Recover
# installs this drive's, never the other's because it is newer (it once did:
# this drive then took the other's id, and left its own cargo to a drive that
# no longer existed). With no catalog left to say which drive this was, it asks.
new_id=$(sqlite3 -readonly "$NEW/barge.db" "SELECT value FROM meta WHERE key = 'drive_id'")
OTHER=$T/otherdrive
mkdrive "$OTHER"
expect_exit 0 barge -d "$OTHER" --json pair add p "$SRC" "$DST"
expect_eq true "$(json .joined)" "the other drive joins the pair"
echo "only on this drive" >"$SRC/mine.txt"
expect_exit 0 barge load
expect_exit 0 barge -d "$OTHER" load
while (($(gen "$SRC/.barge/catalog-${ID[$OTHER]}.db") <= $(gen "$SRC/.barge/catalog-$new_id.db"))); do
    expect_exit 0 barge -d "$OTHER" load
done
rm -rf "$NEW"
mkdir "$NEW"
expect_exit 2 barge recover "$SRC"
grep -qF "the copies there are of 2 drives" "$T/err" || fail "recover does not say the copies are of two drives: $(cat "$T/err")"
grep -qF "$new_id" "$T/err" && grep -qF "${ID[$OTHER]}" "$T/err" && grep -qF -- "--drive-id" "$T/err" ||
    fail "recover does not name both drives and --drive-id: $(cat "$T/err")"
[[ -z $(ls -A "$NEW") ]] || fail "the refused recover left something on the drive: $(ls -A "$NEW")"
expect_exit 2 barge recover "$SRC" --drive-id nosuch
expect_exit 0 barge --json recover "$SRC" --drive-id "${new_id:0:8}"
expect_eq "$new_id" "$(json .drive_id)" "the drive whose catalog was recovered"
expect_exit 0 barge --json load
expect_exit 0 barge --json unload
expect_exit 0 barge -d "$OTHER" load
expect_exit 0 barge -d "$OTHER" unload
expect_same_tree "$SRC" "$DST" "after both drives' trips"

# --- The drive dies in a load after the source recorded its generation and
# before it left its copy there, and its catalog is lost: no copy is as new as
# what the source saw. Recover says so (it once said "nothing to recover" while
# every run was refused as stale, each pointing to the other), and
# --raise-generation takes the copy as the drive's newest. ---
if command -v strace >/dev/null; then
    no_leak_check_under_strace
    c=$SRC/.barge/catalog-$new_id.db
    echo "loaded by a dying drive" >"$SRC/dying.txt"
    (strace -f -qq -o /dev/null -P "$c.patch.tmp" -P "$c.tmp" -e trace=openat -e inject=openat:signal=KILL \
        "$BARGE" load >/dev/null 2>&1) 2>/dev/null && fail "the load was not killed at its copy"
    (($(cat "$SRC/.barge/drive-$new_id.generation") > $(gen "$c"))) ||
        fail "the killed load left the source no later generation than its copy"
    rm -rf "$NEW"
    mkdir "$NEW"
    seen=$(cat "$SRC/.barge/drive-$new_id.generation")
    expect_exit 0 barge --json recover "$SRC" --drive-id "$new_id"
    grep -qF "saw generation $seen" "$T/err" || fail "recover does not warn of the later generation: $(cat "$T/err")"
    expect_eq "$seen $SRC" "$(json '"\(.seen_later.generation) \(.seen_later.at)"')" "recover's JSON of the later generation"
    expect_exit 2 barge load
    grep -q "older than what" "$T/err" || fail "the load is refused for another reason: $(cat "$T/err")"
    expect_exit 2 barge recover "$SRC" --drive-id "$new_id"
    grep -qF -- "--raise-generation" "$T/err" || fail "recover does not offer --raise-generation: $(cat "$T/err")"
    expect_exit 0 barge --json recover "$SRC" --drive-id "$new_id" --raise-generation
    expect_eq "$seen" "$(json .generation)" "the generation recover raised the catalog to"
    expect_exit 0 barge load
    expect_exit 0 barge unload
    expect_exit 0 barge -d "$OTHER" load
    expect_exit 0 barge -d "$OTHER" unload
    expect_same_tree "$SRC" "$DST" "after the drive that died was recovered"
else
    echo "strace is not installed: a drive that died before leaving its copy is not checked" >&2
fi
echo ok
