#!/usr/bin/env bash
# The drive is untrusted (SPEC §7.4): catalog paths like ../x, /etc/x or with a
# NUL are refused, so is a name holding a '/', and symlinks planted at the
# destination (in place of a directory or of a file) or delivered there are
# never followed. Nothing is written outside DEST.
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-limit 100
mkdir -p "$SRC/photos" "$SRC/docs" "$T/outside"
echo a >"$SRC/photos/a.jpg"
echo r >"$SRC/docs/readme.txt"
echo e1 >"$SRC/evil1"
echo e2 >"$SRC/evil2"
echo e3 >"$SRC/evil3"
age "$SRC"/photos/* "$SRC"/docs/* "$SRC"/evil*
expect_exit 0 barge load

# Tamper with the catalog as someone holding the drive could.
sql_write "UPDATE entries SET parent = CAST('..' AS BLOB), name = CAST('outside-x' AS BLOB) WHERE name = CAST('evil1' AS BLOB);
UPDATE entries SET parent = CAST('/etc' AS BLOB) WHERE name = CAST('evil2' AS BLOB);
UPDATE entries SET name = CAST('../../outside/evil3' AS BLOB) WHERE name = CAST('evil3' AS BLOB);"
expect_exit 3 barge unload
grep -q "not a safe relative path" "$T/out" || fail "no clear refusal of hostile paths: $(cat "$T/out")"
[[ ! -e $T/outside-x && ! -e /etc/evil2 && ! -e $T/outside/evil3 ]] || fail "a file was written outside DEST"
[[ -f $DST/photos/a.jpg && -f $DST/docs/readme.txt ]] || fail "the honest files were not delivered"

# A symlink planted in place of a delivered directory: a new file for that
# directory must not go through it.
rm -rf "$DST/photos"
ln -s "$T/outside" "$DST/photos"
echo b >"$SRC/photos/b.jpg"
age "$SRC/photos/b.jpg"
# A symlink planted in place of a delivered file: the new version replaces the
# link itself (kept aside in versions), the link's target is untouched.
echo victim >"$T/outside/victim"
rm "$DST/docs/readme.txt"
ln -s "$T/outside/victim" "$DST/docs/readme.txt"
echo "r2" >"$SRC/docs/readme.txt"
age "$SRC/docs/readme.txt"
sql_write "DELETE FROM entries WHERE name IN (CAST('outside-x' AS BLOB), CAST('../../outside/evil3' AS BLOB)) OR parent = CAST('/etc' AS BLOB)"
expect_exit 0 barge load
expect_exit 3 barge unload
grep -q "symlink" "$T/out" || fail "the planted directory symlink is not named: $(cat "$T/out")"
[[ ! -e $T/outside/b.jpg ]] || fail "a file was written through a planted directory symlink"
expect_eq victim "$(cat "$T/outside/victim")" "the planted file symlink's target"
expect_eq r2 "$(cat "$DST/docs/readme.txt")" "the new version replaced the planted link"
[[ -L $(echo "$DST"/.barge/versions/*/docs/readme.txt) ]] || fail "the planted link was not kept aside"
[[ $(ls "$T/outside") == victim ]] || fail "something was written outside DEST: $(ls "$T/outside")"

# A rename the catalog points into barge's own trash with an expired stamp (which
# the retention pruning at the end of the same run would remove): refused, since
# no scan ever yields a path through a .barge directory; the file is kept.
rm -f "$DST/docs/readme.txt" && rm -rf "$DST/photos" && mkdir "$DST/photos" # the planted links
echo keep-me >"$SRC/precious.txt"
age "$SRC/precious.txt"
expect_exit 0 barge load
barge unload >/dev/null 2>&1 || true
[[ $(cat "$DST/precious.txt") == keep-me ]] || fail "precious.txt was not delivered"
mv "$SRC/precious.txt" "$SRC/moved.txt"
expect_exit 0 barge load
sql_write "UPDATE entries SET parent = CAST('.barge/trash/2000-01-01T000000.000000000Z' AS BLOB) WHERE name = CAST('moved.txt' AS BLOB)"
expect_exit 3 barge unload
grep -q "not a safe relative path" "$T/out" || fail "a .barge path was not refused: $(cat "$T/out")"
[[ ! -e $DST/.barge/trash/2000-01-01T000000.000000000Z ]] || fail "barge wrote into its trash through a catalog path"
grep -rqs keep-me "$DST/precious.txt" "$DST"/.barge/trash/ || fail "the renamed file's content is gone"

# A symlink planted in place of .barge/versions: the old version of a replaced
# file is not kept through it, the error names it (not "set aside 100 times"),
# and the old file stays where it was.
mkdir -p "$SRC/deep/er" "$T/outside2"
echo old >"$SRC/deep/er/f"
age "$SRC/deep/er/f"
expect_exit 0 barge load
barge unload >/dev/null 2>&1 || true
expect_eq old "$(cat "$DST/deep/er/f")" "deep/er/f delivered"
rm -rf "$DST/.barge/versions"
ln -s "$T/outside2" "$DST/.barge/versions"
echo new >"$SRC/deep/er/f"
age "$SRC/deep/er/f"
expect_exit 0 barge load
expect_exit 3 barge unload
grep -q "a symlink is in the way) '$DST/\.barge/versions/[^/]*'" "$T/out" ||
    fail "the planted .barge/versions symlink is not named: $(cat "$T/out")"
if grep -q "times in this run" "$T/out"; then fail "a misleading reason: $(cat "$T/out")"; fi
expect_eq old "$(cat "$DST/deep/er/f")" "the old file stays where it was"
[[ -z $(ls -A "$T/outside2") ]] || fail "something was written through .barge/versions: $(ls -RA "$T/outside2")"

# A name holding a '/' whose first part is a symlink barge itself delivered
# (the whole path looks safe, but barge works on the name within its parent,
# where the kernel would follow the link): refused, nothing written outside.
rm -rf "$DST/.barge/versions"
mkdir "$T/outside3"
ln -s "$T/outside3" "$SRC/lnk"
touch -h -d '2024-01-01 12:00:00' "$SRC/lnk"
expect_exit 0 barge load
barge unload >/dev/null 2>&1 || true
[[ -L $DST/lnk ]] || fail "the symlink lnk was not delivered"
echo planted >"$SRC/payload"
age "$SRC/payload"
expect_exit 0 barge load
sql_write "UPDATE entries SET name = CAST('lnk/planted' AS BLOB) WHERE name = CAST('payload' AS BLOB)"
expect_exit 3 barge unload
grep -q "refusing the catalog path 'lnk/planted': its name 'lnk/planted' holds a '/'" "$T/out" ||
    fail "a name holding a '/' was not refused: $(cat "$T/out")"
[[ -z $(ls -A "$T/outside3") ]] || fail "a file was placed through a delivered symlink: $(ls -A "$T/outside3")"
echo ok
