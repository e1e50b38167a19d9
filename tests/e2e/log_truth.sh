#!/usr/bin/env bash
# Everything barge records is true (SPEC §7.11, issue 11): after a mass-change
# refusal `barge log` said e.g. "0 files, 1.6 GiB, 32 failed, exit 2", values
# that changed from run to run. A refused, an interrupted and an ordinary run are
# each recorded with what they did, in the text and in --json; status's last
# load and unload count a `barge run`.
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-min 1
printf 'one\n' >"$SRC/a"
printf 'two\n' >"$SRC/b"
printf 'three\n' >"$SRC/c"
age "$SRC"/*
expect_exit 0 barge load
printf 'one, edited\n' >"$SRC/a" # 1 of 3 files: 33%, more than 25%, and at least 1
for attempt in 1 2 3; do
    expect_exit 2 barge load
    expect_exit 0 barge log --json
    expect_eq "load 2 0 0 0" "$(json '.runs[-1] | "\(.command) \(.exit_code) \(.files) \(.bytes) \(.failed)"')" \
        "the refused load as recorded (attempt $attempt)"
    expect_exit 0 barge log
    tail -1 "$T/out" | grep -q "0 files, 0 B, 0 failed, exit 2" || fail "log text: $(tail -1 "$T/out")"
done

# An ordinary load: what it carried.
expect_exit 0 barge load --accept-mass-change
expect_exit 0 barge log --json
expect_eq "load 0 1 12 0" "$(json '.runs[-1] | "\(.command) \(.exit_code) \(.files) \(.bytes) \(.failed)"')" \
    "the accepted load as recorded"

# A run that loaded counts as the last load of its pair, one that unloaded as the
# last unload (status and --json), and the run's side says which.
printf 'four\n' >"$SRC/d"
age "$SRC/d"
mv "$DST" "$T/dst-away" 2>/dev/null || true # not claimed yet: the source side
expect_exit 0 barge run
expect_exit 0 barge status --json
expect_eq run "$(json '.pairs[0].last_load.command')" "the last load of p is the run"
expect_eq 0 "$(json '.pairs[0].last_load.exit_code')" "its exit code"
expect_eq run "$(json '.last_runs.load.command')" "the drive's last load is the run"
expect_exit 0 barge log --json
expect_eq source "$(json '.runs[-1].side')" "the run's side"
echo ok
