#!/usr/bin/env bash
# On a destination that tells case apart, names that differ only in case are
# different files, and a name standing there is the exact one: the check that
# guards case-insensitive destinations (exfat_dest.sh) answers there from the
# name and its case-swapped twin (on ext2/3/4, XFS, Btrfs, tmpfs or F2FS: the
# test directory here and in CI is on ext4), and lists the directory when the
# twin exists or says nothing (no letter, a byte outside ASCII, a trailing
# dot, a ':' or '~').
# Every file is replaced once (its old version kept) and every directory,
# redelivered with its times kept, gets a new file: nothing is refused as
# "another name", nothing is lost.
source "$(dirname "$0")/lib.sh"
case $(stat -f -c %t "$T") in
ef53 | 58465342 | 9123683e | 1021994 | f2f52010) ;;
*) echo "note: $T is not on a file system where the two-lookup answer is used; only the listing is checked" >&2 ;;
esac
setup_pair --mass-change-limit 100
names=(Foo foo FOO plain 2019 café 'x.' 'a:b' 'LONGNA~1.TXT' 'Mixed Case.JPG' 'mixed case.jpg')
for d in Dir dir 2019-07-14 Ünï; do
    mkdir -p "$SRC/$d"
    for n in "${names[@]}"; do echo "$d/$n v1" >"$SRC/$d/$n"; done
done
for n in "${names[@]}"; do echo "$n v1" >"$SRC/$n"; done
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00' {} +
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the first trip"
[[ $(cat "$DST/Dir/foo") == "Dir/foo v1" && $(cat "$DST/dir/Foo") == "dir/Foo v1" ]] ||
    fail "case twins were mixed up at the destination"

files=$(( ${#names[@]} * 5 ))
while IFS= read -r -d '' f; do echo "${f#"$SRC"/} v2" >"$f"; done < <(find "$SRC" -path "$SRC/.barge" -prune -o -type f -print0)
for d in Dir dir 2019-07-14 Ünï; do echo new >"$SRC/$d/new"; done
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00' {} +
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq $((files + 4)) "$(json '.pairs[0].delivered.files')" "every file replaced, a new one per directory"
expect_eq "$files" "$(json '.pairs[0].versions')" "each replaced file's old version kept"
expect_same_tree "$SRC" "$DST" "after every file was replaced"
[[ $(cat "$DST/Dir/foo") == "Dir/foo v2" && $(cat "$DST/dir/FOO") == "dir/FOO v2" ]] ||
    fail "case twins were mixed up at the destination after the replacement"
