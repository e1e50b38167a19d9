#!/usr/bin/env bash
# Life under cron (issue 5, 12): no terminal and a minimal environment; SIGTERM
# or SIGHUP in the middle of a run (delivered at a chosen syscall with strace,
# so the test does not depend on timing) stops at a safe point with exit
# 128 + the signal (143, 129: as a shell reports it), a message and a log entry
# (the run recorded with the same exit code), and the next run finishes the work. (Two barges at once and a lock left by a killed
# one: tests/e2e/drive_lock.sh.)
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || skip "strace is not installed"
no_leak_check_under_strace

PIECE_SIZE=256K setup_pair --mass-change-limit 100
for i in $(seq 1 30); do head -c 600000 /dev/urandom >"$SRC/f$i"; done
age "$SRC"/f*

# cron_barge ARGS...: barge as cron runs it: no terminal, stdin closed, only PATH
# (and the sanitizer options of CI's build: without them LeakSanitizer, which
# cannot run under strace, would end the process with its own exit code 1).
sanitizer_env=(${ASAN_OPTIONS:+"ASAN_OPTIONS=$ASAN_OPTIONS"} ${UBSAN_OPTIONS:+"UBSAN_OPTIONS=$UBSAN_OPTIONS"})
cron_barge() { env -i PATH=/usr/bin:/bin "${sanitizer_env[@]}" "$BARGE" -d "$DRIVE" "$@" </dev/null; }

# A signal in the middle of load: at the first durability barrier (strace counts per thread, and each batch is verified on its own thread).
declare -A code=([TERM]=143 [HUP]=129)
for sig in TERM HUP; do
    for i in $(seq 1 10); do head -c 600000 /dev/urandom >"$SRC/$sig-$i"; done # work for this run
    age "$SRC/$sig"-*
    rc=0
    strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:signal=$sig:when=1 \
        env -i PATH=/usr/bin:/bin "${sanitizer_env[@]}" "$BARGE" -d "$DRIVE" load </dev/null >"$T/out" 2>"$T/err" || rc=$?
    expect_eq "${code[$sig]}" "$rc" "exit code of a load stopped by SIG$sig"
    grep -q "interrupted by SIG$sig: stopped at a safe point" "$T/err" || fail "no message after SIG$sig: $(cat "$T/err")"
    grep -q "interrupted" "$DRIVE/logs/barge.log" || fail "no log entry after SIG$sig"
    expect_eq ok "$(sql 'PRAGMA integrity_check')" "catalog after SIG$sig"
    expect_exit 0 barge verify-middle # what it recorded is true
    expect_exit 0 barge log --json
    expect_eq "${code[$sig]}" "$(json '[.runs[] | select(.command == "load")][-1].exit_code')" "the run is logged with its exit code after SIG$sig"
done

# Then cron's next run finishes: quiet on stderr, a summary on stdout.
expect_exit 0 cron_barge load
[[ ! -s $T/err ]] || fail "a cron load wrote to stderr: $(cat "$T/err")"
grep -q "nothing else waits" "$T/out" || fail "no summary on stdout: $(cat "$T/out")"

# The same at the destination: SIGHUP mid-unload, then a calm run.
rc=0
strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:signal=HUP:when=1 \
    env -i PATH=/usr/bin:/bin "${sanitizer_env[@]}" "$BARGE" -d "$DRIVE" unload </dev/null >"$T/out" 2>"$T/err" || rc=$?
expect_eq 129 "$rc" "exit code of an unload stopped by SIGHUP"
grep -q "interrupted" "$T/err" || fail "no message after SIGHUP in unload"
[[ -z $(find "$DST" -path "$DST/.barge" -prune -o -name 'tmp-*' -print) ]] || fail "a temporary file at a final name"

expect_exit 0 cron_barge unload
expect_same_tree "$SRC" "$DST" "after the interrupted cron runs"
echo ok
