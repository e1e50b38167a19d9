#!/usr/bin/env bash
# SIGTERM (cron's kill) or SIGINT mid-load stops at a safe point: what was
# committed stays, the exit code is 143 (128 + SIGTERM) with a message, and the
# next run finishes.
source "$(dirname "$0")/lib.sh"

PIECE_SIZE=1M setup_pair
for i in $(seq 1 40); do head -c 2000000 /dev/urandom >"$SRC/f$i"; done
age "$SRC"/f*
expect_exit 0 barge scan

"$BARGE" load >"$T/load.out" 2>"$T/load.err" &
pid=$!
# Wait until some pieces exist, then ask it to stop.
for _ in $(seq 1 200); do
    [[ $(find "$DRIVE/cargo" -mindepth 2 -type f | wc -l) -ge 2 ]] && break
    sleep 0.02
done
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
echo "load exit code after SIGTERM: $rc" >&2
if [[ $rc -eq 0 ]]; then
    # It may have finished before the signal landed; then nothing is to check.
    grep -q "nothing else waits" "$T/load.out" || fail "exit 0 but not finished"
else
    expect_eq 143 "$rc" "exit code of an interrupted load"
    grep -q "interrupted" "$T/load.err" || fail "no message about the interruption: $(cat "$T/load.err")"
fi
sqlite3 "$DRIVE/barge.db" "PRAGMA integrity_check" | grep -qx ok || fail "catalog damaged"
expect_exit 0 barge load --json
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after an interrupted load"
echo ok
