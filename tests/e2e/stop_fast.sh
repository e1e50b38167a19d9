#!/usr/bin/env bash
# Ctrl-C stops within a second at a safe point (SPEC §5 exit codes, issue 11): it
# used to finish the piece in progress (with 1 GiB pieces on a USB disk, a long
# wait), print a success summary, then "interrupted". Now the first signal says
# "stopping", the piece in progress is abandoned (its temporary file removed),
# what was verified before stays recorded, the exit code is 130 (143 for SIGTERM)
# and the run is logged with it; the next run finishes.
source "$(dirname "$0")/lib.sh"
need_strace_delays

PIECE_SIZE=512M setup_pair
head -c 1000 /dev/urandom >"$SRC/a-small"
head -c 250000000 /dev/urandom >"$SRC/big" # one piece of 238 MiB
age "$SRC"/*
expect_exit 0 barge scan

# Every write of the copy is slowed (1 MiB blocks, 20 ms each: the big file takes
# about 5 s), so the signal lands in the middle of the big piece.
strace -f -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:delay_enter=20000 \
    "$BARGE" load >"$T/out" 2>"$T/err" &
tracer=$!
for _ in $(seq 1 400); do
    [[ -n $(find "$DRIVE/cargo/tmp" -name '*.part' -size +20M 2>/dev/null) ]] && break
    sleep 0.05
done
[[ -n $(find "$DRIVE/cargo/tmp" -name '*.part' -size +20M) ]] || fail "the big piece was never being written"
pid=$(pgrep -P "$tracer" -x barge || pgrep -n -x barge)
start=$(date +%s.%N)
kill -INT "$pid"
rc=0
wait "$tracer" || rc=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "stopped after ${took}s, exit $rc" >&2
expect_eq 130 "$rc" "exit code after SIGINT"
(($(echo "$took < 1.5" | bc))) || fail "took ${took}s to stop (the piece was finished?)"
grep -q "stopping at a safe point" "$T/err" || fail "no 'stopping' on the first signal: $(cat "$T/err")"
grep -q "interrupted by SIGINT" "$T/err" || fail "no closing message: $(cat "$T/err")"
grep -q "interrupted by SIGINT before the end" "$T/out" || fail "the summary reads as a success: $(cat "$T/out")"
[[ -z $(ls "$DRIVE/cargo/tmp") ]] || fail "the abandoned piece was left in cargo/tmp"
expect_exit 0 barge log --json
expect_eq 130 "$(json '.runs[-1].exit_code')" "the run as logged"
expect_eq ok "$(sql 'PRAGMA integrity_check')" "the catalog after the stop"
expect_exit 0 barge verify-middle # what it recorded is true

# The next run carries what the stop abandoned: the big file (and the small one if
# its batch had not been verified yet).
expect_exit 0 barge load --json
(($(json '.pairs[0].carried.bytes') >= $(stat -c %s "$SRC/big"))) ||
    fail "the next run did not carry the big file: $(json '.pairs[0].carried')"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the interrupted load"
echo ok
