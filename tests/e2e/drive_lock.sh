#!/usr/bin/env bash
# One barge per drive (SPEC §7.10): a second process gets exit 75 while the first
# works (status excepted: it shows what the first is doing, SPEC §5), and a lock
# left by a process killed with SIGKILL does not block the next run.
source "$(dirname "$0")/lib.sh"

setup_pair
# A sparse file large enough that hashing it takes a while.
truncate -s 3G "$SRC/big"
# Frozen once its record of what it is doing (the lock's second line) is there.
freeze_holder '"phase"' scan
first=$frozen

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
kill_frozen
expect_exit 0 barge scan --json
expect_eq 1 "$(json '.pairs[0].files_hashed')" "the next run does the work"
sqlite3 "$DRIVE/barge.db" "PRAGMA integrity_check" | grep -qx ok || fail "catalog damaged by the kill"
echo ok
