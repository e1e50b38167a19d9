#!/usr/bin/env bash
# Names are bytes: newlines, invalid UTF-8, 255-byte names and a leading dash are
# scanned, stored exactly, printed escaped, and escaped reversibly in JSON.
source "$(dirname "$0")/lib.sh"

setup_pair
long=$(printf 'n%.0s' $(seq 1 255))
nl=$'line1\nline2'
bad=$'bad\xff\xfe'
dash='-rf'
colon='a:b?c*d<e>f|g"h'
for n in "$long" "$nl" "$bad" "$dash" "$colon"; do
    printf '%s' "$n" >"$SRC/$n"
done
mkdir "$SRC/$bad.dir"
echo inner >"$SRC/$bad.dir/$nl"
age "$SRC"/*

expect_exit 0 barge scan --json
expect_eq 6 "$(json '.pairs[0].new')" "all odd names found"
expect_eq 6 "$(json '.pairs[0].files_hashed')" "all odd names hashed"

# Stored byte for byte (compare hex of the names in the catalog with the real bytes).
for n in "$long" "$nl" "$bad" "$dash" "$colon"; do
    want=$(printf '%s' "$n" | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F)
    sql "SELECT hex(name) FROM entries WHERE parent = x''" | grep -qx "$want" || fail "name not stored exactly: $want"
    # Each hash is the file's own content's.
    got=$(sql "SELECT lower(hex(c.hash)) FROM entries e JOIN contents c ON c.id = e.content_id WHERE hex(e.name) = '$want' AND e.parent = x''")
    expect_eq "$(b2sum <"$SRC/$n" | cut -d' ' -f1)" "$got" "hash of an odd name"
done
parent_hex=$(printf '%s' "$bad.dir" | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F)
expect_eq 1 "$(sql "SELECT count(*) FROM entries WHERE hex(parent) = '$parent_hex'")" "file inside an invalid-UTF-8 directory"

# A rescan sees every one of them as unchanged (the merge by raw bytes holds).
expect_exit 0 barge scan --json
expect_eq 6 "$(json '.pairs[0].unchanged')" "odd names unchanged on rescan"

# A source path that is itself odd, shown escaped in text and reversibly in JSON.
odd_src="$T/src"$'\xff'
mkdir "$odd_src"
echo x >"$odd_src/x"
barge pair add odd "$odd_src" "$T/dst2" >/dev/null
expect_exit 0 barge pair list --json
jq -e '.pairs[] | select(.name == "odd") | .source | endswith("src\udcff")' <"$T/out" >/dev/null ||
    fail "JSON does not escape invalid UTF-8 reversibly: $(cat "$T/out")"
expect_exit 0 barge pair list
grep -q 'src\\xff' "$T/out" || fail "text output does not escape the invalid byte"
echo ok
