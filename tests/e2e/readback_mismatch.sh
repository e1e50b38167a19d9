#!/usr/bin/env bash
# A drive that gives back other bytes than were written (SPEC §7.1, §7.8): the
# verify re-read must catch it on both paths (a large piece re-read behind its
# writer, small pieces re-read after the batch's barrier), delete the piece, try
# again (5 attempts), then report the file failed (exit 3, named) while the run
# goes on; nothing unverified is recorded. The same for unload's staged files. The bad medium is simulated: the
# re-reads are slowed with strace while a loop overwrites bytes of every
# temporary piece on the drive. (That this re-read comes from the device and not
# the page cache is shown elsewhere: O_DIRECT, durable_test's mincore check, and
# bench-load's block-device counters; see docs/durability.md.)
source "$(dirname "$0")/lib.sh"
need_strace_delays

PIECE_SIZE=4M setup_pair
head -c 3000000 /dev/urandom >"$SRC/large.bin" # one piece of 3 MB: re-read behind its writer
head -c 5000 /dev/urandom >"$SRC/small.bin"    # re-read after the batch's syncfs
age "$SRC"/*.bin

# corrupter DIR: overwrites 16 bytes at offset 100 of every file in DIR, until killed.
corrupter() {
    while :; do
        for f in "$1"/*; do
            [[ -f $f ]] && printf 'CORRUPTED-BYTES!' | dd of="$f" bs=1 seek=100 conv=nocreat,notrunc status=none 2>/dev/null || true
        done
        sleep 0.01
    done
}

# corrupted_run DIR COMMAND...: barge COMMAND --json with every re-read slowed
# (the trailing verifier's io_submit, and the batch's syncfs before the others
# are re-read, wait 0.2 s: long after the corrupter's next pass) while the
# corrupter works on DIR. Leaves the exit code in $rc.
corrupted_run() {
    local dir=$1 pid
    shift
    corrupter "$dir" &
    pid=$!
    on_exit "kill $pid 2>/dev/null"
    rc=0
    strace -f -qq -o "$T/strace" -e trace=io_submit,syncfs \
        -e inject=io_submit:delay_enter=200000 -e inject=syncfs:delay_enter=200000 \
        "$BARGE" "$@" --json >"$T/out" 2>"$T/err" || rc=$?
    kill $pid 2>/dev/null || fail "the corrupter stopped early"
    wait $pid 2>/dev/null || true
}

corrupted_run "$DRIVE/cargo/tmp" load
grep -q "io_submit(" "$T/strace" ||
    skip "no Linux AIO here: the trailing verifier read with pread (not slowed by this scenario)"

expect_eq 3 "$rc" "load's exit code when pieces read back wrong"
expect_eq 2 "$(json '.pairs[0].problems | length')" "files reported failed"
for name in large.bin small.bin; do
    reason=$(json ".pairs[0].problems[] | select(.path | endswith(\"$name\")) | .reason")
    [[ $reason == *"does not match what was written"* ]] || fail "$name: reason is '$reason'"
done
expect_eq 4 "$(grep -c "large.bin.*attempt" "$T/err" || true)" "retries announced for large.bin"
grep -q "large.bin.*attempt 4 of 5" "$T/err" || fail "no fourth attempt announced for large.bin"
expect_eq 0 "$(sql 'SELECT count(*) FROM pieces WHERE on_cargo')" "pieces recorded on the cargo"
[[ -z $(ls "$DRIVE/cargo/tmp") ]] || fail "temporary pieces left on the drive"
[[ -z $(find "$DRIVE/cargo" -mindepth 2 -type f) ]] || fail "a piece reached its final name"

# A healthy drive again: both are carried.
expect_exit 0 barge load

# The same at the destination: staged files read back wrong are never put in place.
mkdir -p "$DST/.barge/staging"
corrupted_run "$DST/.barge/staging" unload
expect_eq 3 "$rc" "unload's exit code when staged files read back wrong"
expect_eq 2 "$(json '.pairs[0].problems | length')" "files reported failed at unload"
for name in large.bin small.bin; do
    reason=$(json ".pairs[0].problems[] | select(.path | endswith(\"$name\")) | .reason")
    [[ $reason == *"read back different"* ]] || fail "unload $name: reason is '$reason'"
    [[ ! -e $DST/$name ]] || fail "$name was put in place"
done
[[ -z $(ls "$DST/.barge/staging") ]] || fail "staged files left at the destination"

# A healthy destination: both delivered exactly.
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST"
echo "ok"
