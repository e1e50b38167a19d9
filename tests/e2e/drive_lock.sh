#!/usr/bin/env bash
# One barge per drive (SPEC §7.10): a second process gets exit 75 while the first
# works (status excepted: it shows what the first is doing, SPEC §5), and a lock
# left by a process killed with SIGKILL does not block the next run.
source "$(dirname "$0")/lib.sh"

setup_pair
# A sparse file large enough that hashing it takes a while.
truncate -s 3G "$SRC/big"
"$BARGE" scan >/dev/null 2>&1 &
first=$!
on_exit "kill -9 $first 2>/dev/null"
# Wait until the first barge holds the lock (it then writes its pid into the lock
# file; probing with flock(1) would take the lock itself for a moment), then
# freeze it there.
# The second line, its record of what it is doing, comes once its work began.
for _ in $(seq 1 400); do
    grep -q "pid $first " "$DRIVE/barge.lock" 2>/dev/null && grep -q '"phase"' "$DRIVE/barge.lock" && break
    sleep 0.025
done
kill -STOP "$first" || fail "the first barge ended before it could be frozen"
grep -q "pid $first " "$DRIVE/barge.lock" || fail "the first barge never took the lock"

expect_exit 75 barge scan
grep -q "another barge holds the drive" "$T/err" || fail "no clear message: $(cat "$T/err")"
grep -q "pid $first" "$T/err" || fail "the message does not name the holder: $(cat "$T/err")"
expect_exit 75 barge log
# status never waits for, nor fails on, a running barge.
expect_exit 0 barge status
grep -q "running now: scan (pid $first" "$T/out" || fail "status does not show the running scan: $(cat "$T/out")"
expect_exit 0 barge status --json
expect_eq scan "$(json .running.command)" "the running command in status --json"
expect_eq p "$(json '.pairs[0].name')" "the pairs as the running scan began"

# The holder dies without any chance to clean up.
kill -9 "$first"
kill -CONT "$first" 2>/dev/null || true
wait "$first" 2>/dev/null || true
expect_exit 0 barge scan --json
expect_eq 1 "$(json '.pairs[0].files_hashed')" "the next run does the work"
sqlite3 "$DRIVE/barge.db" "PRAGMA integrity_check" | grep -qx ok || fail "catalog damaged by the kill"
echo ok
