#!/usr/bin/env bash
# Drives already in use keep working (SPEC §7.9): a drive, source and
# destination made by barge 0.1.0 (catalog schema 1) and by main as landed with
# schema 2 (05d1aa7), schema 3 (3859e90), schema 4 (b7b09c7), schema 5 (1229f83),
# schema 6 (051b54f), schema 7 (18690f3), schema 8 (d774dd7), schema 9
# (2756cbc) and schema 10 (8495fbc), all by
# tests/fixtures/make-v1-drive.sh, are opened by this
# barge, which migrates the catalog (keeping a backup copy), delivers what the
# old barge loaded, and goes on with new visits.
source "$(dirname "$0")/lib.sh"
# The old catalog records absolute paths: the fixture lives at a fixed place.
R=/tmp/barge-v1-fixture
exec 9>/tmp/barge-v1-fixture.lock
flock 9
on_exit "rm -rf '$R'"
export BARGE_DRIVE=$R/drive

for old in 1 2 3 4 5 6 7 8 9 10; do
fixture=$(cd "$(dirname "$0")/../fixtures" && pwd)/v$old-drive.tar.gz
rm -rf "$R"
mkdir -p "$R"
tar -C "$R" -xzf "$fixture"
before_version=$(sqlite3 "$R/drive/barge.db" 'PRAGMA user_version')
expect_eq "$old" "$before_version" "the fixture's schema version"

# Reading first: status opens (and migrates) the old catalog.
expect_exit 0 barge status --json
expect_eq 1 "$(json '.pairs | length')" "pairs in the old catalog"
expect_eq 3 "$(json '.pairs[0].on_cargo.files')" "files the old barge loaded and did not deliver"
expect_eq 0 "$(json '.pairs[0].missed_files')" "files missed (schema 11): none recorded by an old barge"
after_version=$(sqlite3 "$R/drive/barge.db" 'PRAGMA user_version')
[[ $after_version -gt $before_version ]] || fail "v$old: the catalog was not migrated (version $after_version)"
if [[ $after_version -gt $before_version ]]; then
    ls "$R/drive"/barge.db.v$old-*.bak >/dev/null 2>&1 || fail "v$old: migrated without a backup copy"
    [[ $(sqlite3 "$R"/drive/barge.db.v$old-*.bak 'PRAGMA user_version') == "$old" ]] ||
        fail "v$old: the backup copy is not the old catalog"
fi

# The old barge's cargo is delivered by this one: the destination equals the source.
expect_exit 0 barge unload --json
expect_eq 2 "$(json '.pairs[0].delivered.files')" "files delivered from the old cargo"
expect_eq 1 "$(json '.pairs[0].delivered.renamed')" "the rename, renamed at the destination"
expect_same_tree "$R/src" "$R/dst" "after unloading the old barge's cargo"
[[ -e "$R/dst/.barge/trash" ]] || fail "the deletion did not go to the trash"
expect_exit 0 barge verify-destination
expect_exit 0 barge verify-middle

# Life goes on: a new visit with this barge.
printf 'third visit\n' >"$R/src/docs/third.txt"
age "$R/src/docs/third.txt"
# What schema 4 adds travels with a migrated catalog: a FIFO, and attributes
# (a change of attributes alone carries no bytes).
mkfifo "$R/src/docs/pipe"
touch -d '2024-02-03 04:05:06.5' "$R/src/docs/pipe" "$R/src/docs"
if command -v setfattr >/dev/null && setfattr -n user.origin -v fixture "$R/src/docs/readme.txt" 2>/dev/null; then
    export MANIFEST_XATTRS=1
fi
# Extracting the fixture gave every source file a new inode and ctime: to a scan
# that is a change of every file, hence the flag (the contents are unchanged, and
# nothing of them is carried again).
expect_exit 0 barge load --accept-mass-change --json
expect_eq 12 "$(json '.pairs[0].carried.bytes')" "bytes carried on the new visit (the new file only)"
expect_exit 0 barge unload
expect_same_tree "$R/src" "$R/dst" "after a visit with this barge"
unset MANIFEST_XATTRS
[[ -p $R/dst/docs/pipe ]] || fail "v$old: the FIFO did not arrive"
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].pending.files')" "pending after the new visit"
expect_eq 0 "$(json '.pairs[0].on_cargo.files')" "on cargo after the new visit"
expect_exit 0 barge verify-middle # the full check, and the kept counts recounted
grep -q "count of delivered files was" "$T/err" && fail "v$old: the migrated counts were wrong: $(cat "$T/err")"
# What schema 5 adds: a second drive joins the migrated pair and carries none of
# what the first delivered (docs/rotation.md).
rm -rf "$R/second"
expect_exit 0 barge init "$R/second"
expect_exit 0 barge -d "$R/second" --json pair add q "$R/src" "$R/dst"
expect_eq true "$(json .joined)" "v$old: a second drive joins the migrated pair"
expect_exit 0 barge -d "$R/second" load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "v$old: bytes the second drive carries"
expect_exit 0 barge -d "$R/second" unload
expect_same_tree "$R/src" "$R/dst" "v$old: after the second drive's visit"
echo "v$old ok"
done
echo "ok"
