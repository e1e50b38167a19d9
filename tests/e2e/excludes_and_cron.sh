#!/usr/bin/env bash
# Excludes (gitignore-style), sockets skipped with a note, .barge never
# entered, the drive never scanned into itself; and quiet, non-interactive runs
# for cron: nothing on stderr but warnings, nothing at all with -q.
source "$(dirname "$0")/lib.sh"

mkdir -p "$SRC"/{keep,cache,web/node_modules/x,sub/.barge} 
echo k >"$SRC/keep/a.txt"
echo t >"$SRC/keep/a.tmp"
echo c >"$SRC/cache/c"
echo n >"$SRC/web/node_modules/x/n.js"
echo w >"$SRC/web/index.html"
echo b >"$SRC/sub/.barge/hidden"
mkfifo "$SRC/fifo" # carried (SPEC §6)
python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$SRC/socket"
# A source that contains the drive is refused (SPEC §5)...
barge init "$DRIVE" --piece-size 1M >/dev/null
expect_exit 2 barge -d "$DRIVE" pair add bad "$DRIVE/.." "$DST"
grep -q "contains the drive" "$T/err" || fail "a source containing the drive is not refused clearly: $(cat "$T/err")"
barge pair add p "$SRC" "$DST" --exclude '*.tmp' --exclude 'cache/' --exclude '**/node_modules' >/dev/null
# ... and a drive moved into the source later is still never carried inside itself.
mv "$DRIVE" "$SRC/drive"
DRIVE=$SRC/drive
export BARGE_DRIVE=$DRIVE

expect_exit 0 barge scan --json
got=$(sql "SELECT CASE WHEN parent = x'' THEN CAST(name AS TEXT) ELSE CAST(parent AS TEXT) || '/' || CAST(name AS TEXT) END FROM entries WHERE kind IS NOT NULL ORDER BY 1" | tr '\n' ' ')
expect_eq "fifo keep keep/a.txt sub web web/index.html " "$got" "entries after excludes"
expect_eq 1 "$(json '.pairs[0].special_skipped')" "the socket skipped"
expect_eq 1 "$(json '.pairs[0].notes | map(select(test("socket"))) | length')" "a note names the socket"
expect_eq 3 "$(json '.pairs[0].excluded')" "excluded entries"

# Cron: no terminal; stderr stays empty on success, -q silences stdout too.
expect_exit 0 barge scan </dev/null
[[ ! -s $T/err ]] || fail "stderr not empty for a quiet cron run: $(cat "$T/err")"
expect_exit 0 barge -q scan </dev/null
[[ ! -s $T/out && ! -s $T/err ]] || fail "-q printed something"
grep -q "scan p:" "$DRIVE/logs/barge.log" || fail "the run is not in the drive's log"

# A newly excluded file leaves the catalog like a deletion would (the drive back
# outside the source first: pair add refuses a source that contains it).
mv "$DRIVE" "$T/drive-out"
DRIVE=$T/drive-out
export BARGE_DRIVE=$DRIVE
barge pair remove p >/dev/null
barge pair add p "$SRC" "$DST" --exclude '*.txt' --mass-change-limit 100 >/dev/null
expect_exit 0 barge scan --json
expect_eq 0 "$(sql "SELECT count(*) FROM entries WHERE name = CAST('a.txt' AS BLOB) AND kind IS NOT NULL")" "newly excluded file"
echo ok
