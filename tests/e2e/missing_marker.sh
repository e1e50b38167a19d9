#!/usr/bin/env bash
# A source whose marker has gone (an unmounted disk leaves an empty mount point)
# is refused with exit 2 and the catalog stays byte-identical (SPEC §4, §7.6).
source "$(dirname "$0")/lib.sh"

setup_pair
for i in 1 2 3 4; do echo "$i" >"$SRC/f$i"; done
expect_exit 0 barge scan
cp "$DRIVE/barge.db" "$T/before.db"

# The disk is "unmounted": the mount point is there, empty.
mv "$SRC" "$T/real"
mkdir "$SRC"
expect_exit 2 barge scan
grep -q "lacks its marker" "$T/err" || fail "the refusal does not say the marker is missing: $(cat "$T/err")"
grep -q "$SRC" "$T/err" || fail "the refusal does not name the source"
cmp "$DRIVE/barge.db" "$T/before.db" || fail "the catalog changed on a refused scan"

# Another tree with the same files but no marker: still refused.
cp -a "$T/real"/f* "$SRC/"
expect_exit 2 barge scan
cmp "$DRIVE/barge.db" "$T/before.db" || fail "the catalog changed on a refused scan (no marker)"

# A marker of another pair does not count.
mkdir "$SRC/.barge"
marker=$(basename "$T/real/.barge/"*.source)
sed 's/^pair .*/pair 00000000-0000-4000-8000-000000000000/' "$T/real/.barge/$marker" >"$SRC/.barge/$marker"
expect_exit 2 barge scan
cmp "$DRIVE/barge.db" "$T/before.db" || fail "the catalog changed (foreign marker)"

# The real disk is back: the scan runs and finds nothing changed.
rm -rf "$SRC"
mv "$T/real" "$SRC"
expect_exit 0 barge scan --json
expect_eq 4 "$(json '.pairs[0].unchanged')" "unchanged after the disk is back"

# --no-source-marker: an empty source is refused the same way.
mkdir "$T/ro"
echo x >"$T/ro/x"
barge pair add ro "$T/ro" "$T/ro-dst" --no-source-marker >/dev/null
[[ ! -e "$T/ro/.barge" ]] || fail "--no-source-marker wrote a marker"
expect_exit 0 barge scan ro
rm "$T/ro/x"
cp "$DRIVE/barge.db" "$T/before2.db"
expect_exit 2 barge scan ro
grep -q "is empty" "$T/err" || fail "no clear reason for the empty source: $(cat "$T/err")"
cmp "$DRIVE/barge.db" "$T/before2.db" || fail "the catalog changed on an empty source"
echo ok
