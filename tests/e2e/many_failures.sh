#!/usr/bin/env bash
# A run with more failures than it holds in memory (Problems::held, 1,000): the
# rest go to a temporary file, and every one is still listed (SPEC §4, exit 3)
# once, in the text, with -q and in the JSON, while the run's recorded summary
# keeps the first thousand and the runs table counts them all. Where the
# temporary file cannot be made, they stay in memory: none is left out.
source "$(dirname "$0")/lib.sh"
need_user
n=1200
mkdir -p "$SRC/locked" "$SRC/open" "$DRIVE" "$DST"
(cd "$SRC/locked" && for i in $(seq 1 $n); do echo "$i" >"f$i"; done)
echo "readable" >"$SRC/open/a"
mkdir "$SRC/shut" # a directory the scan cannot list: the scan's own problem
chmod 000 "$SRC"/locked/f* "$SRC/shut"
chown -R 65534:65534 "$SRC" "$DRIVE" "$DST"
rmdir "$DRIVE" "$DST"
chown 65534:65534 "$T"
expect_exit 0 as_user "$BARGE" init "$DRIVE" --piece-size 1M
expect_exit 0 as_user "$BARGE" pair add p "$SRC" "$DST" --mass-change-limit 100

# Text: each unreadable file on one "failed:" line, once, and the directory
# the scan could not list once (in the scan's lines, not again with the load's).
rc=0
as_user "$BARGE" load >"$T/text" 2>&1 || rc=$?
expect_eq 3 "$rc" "the exit of a load with unreadable files"
expect_eq "$((n + 1))" "$(grep -c '^  failed: ' "$T/text")" "failed lines"
expect_eq "$((n + 1))" "$(grep '^  failed: ' "$T/text" | sed 's/^  failed: //; s/: .*//' | sort -u | wc -l)" \
    "distinct paths named"
expect_eq 1 "$(grep -c "^  failed: $SRC/shut: " "$T/text")" "lines for the directory the scan could not list"
grep -q "^  failed: $SRC/locked/f$n: .*Permission denied" "$T/text" ||
    fail "the last failure is not listed with its reason: $(tail -3 "$T/text")"
expect_eq "$((n + 1))" "$(sql "SELECT failed FROM runs ORDER BY id DESC LIMIT 1")" "failures counted in the runs table"
sql "SELECT summary FROM runs ORDER BY id DESC LIMIT 1" >"$T/summary"
expect_eq 1000 "$(jq '.pairs[0].problems | length' "$T/summary")" "the load's problems kept in the recorded summary"
expect_eq 1 "$(jq '.pairs[0].scan.problems | length' "$T/summary")" "the scan's problems in the recorded summary"

# Text that cannot be written as it streams out: exit 3 stays 3, the cause said.
rc=0
as_user "$BARGE" load >/dev/full 2>"$T/err" || rc=$?
expect_eq 3 "$rc" "the exit of a load with unreadable files, its text to /dev/full"
grep -q "writing the output to stdout: No space left on device" "$T/err" ||
    fail "the failed write of the problems' lines is not said: $(grep -v 'Permission denied' "$T/err" | head -3)"

# JSON: all of them, read back from the temporary file as it is printed.
rc=0
as_user "$BARGE" load --json >"$T/out" 2>"$T/err" || rc=$?
expect_eq 3 "$rc" "the exit of a load --json with unreadable files"
expect_eq "$n" "$(json '.pairs[0].problems | length')" "the load's problems in the JSON document"
for i in $(seq 1 $n); do echo "$SRC/locked/f$i"; done | sort >"$T/want"
json '.pairs[0].problems[].path' | sort >"$T/got"
cmp -s "$T/want" "$T/got" || fail "the JSON document's problems are not each locked file once: $(diff "$T/want" "$T/got" | head -5)"
expect_eq "$SRC/shut" "$(json '.pairs[0].scan.problems[0].path')" "the scan's problem in the JSON document"

# -q: each one said on stderr.
rc=0
as_user "$BARGE" -q load >"$T/text" 2>"$T/err" || rc=$?
expect_eq 3 "$rc" "the exit of a quiet load"
expect_eq "$((n + 1))" "$(grep -c "Permission denied" "$T/err")" "failures said on stderr with -q"

# No temporary file: all of them still listed, from memory.
rc=0
TMPDIR=$T/no-such-dir as_user "$BARGE" load >"$T/text" 2>&1 || rc=$?
expect_eq 3 "$rc" "the exit of a load without a temporary directory"
expect_eq "$((n + 1))" "$(grep -c '^  failed: ' "$T/text")" "failed lines without a temporary file"
grep -q "no-such-dir.*kept in memory" "$T/text" ||
    fail "the temporary file that could not be made is not said: $(grep -v '^  failed' "$T/text")"

# The readable file travelled all the same.
chmod 644 "$SRC"/locked/f*
chmod 755 "$SRC/shut"
expect_exit 0 as_user "$BARGE" load
expect_exit 0 as_user "$BARGE" unload
expect_same_tree "$SRC" "$DST" "once the files could be read"
