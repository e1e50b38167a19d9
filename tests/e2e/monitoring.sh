#!/usr/bin/env bash
# Monitoring (SPEC §5, issue 11): status --check exits 0 only when every pair's
# last load, unload and verify-destination succeeded and are younger than
# --max-age, one line per problem otherwise; status --metrics prints the same
# facts in Prometheus' text format; the shipped metrics timer's command works.
source "$(dirname "$0")/lib.sh"

setup_pair
echo one >"$SRC/one"
age "$SRC/one"
expect_exit 1 barge status --check
for want in "p: no load yet" "p: no unload yet" "p: no verify-destination yet"; do
    grep -qx "$want" "$T/out" || fail "--check lacks '$want': $(cat "$T/out")"
done
expect_exit 0 barge load
expect_exit 0 barge unload
expect_exit 1 barge status --check
expect_eq "p: no verify-destination yet" "$(cat "$T/out")" "the one problem left"
expect_exit 0 barge verify-destination
expect_exit 0 barge status --check
[[ ! -s $T/out ]] || fail "a healthy --check printed: $(cat "$T/out")"
# Too old: a run counts only while it is younger than --max-age.
sleep 1.1
expect_exit 1 barge status --check --max-age 1s
grep -q "p: the last load is older than" "$T/out" || fail "--max-age: $(cat "$T/out")"
expect_exit 0 barge status --check --json
expect_eq 0 "$(json '.check | length')" "no problem in --json"

# A failed verify is a problem until a delivery repairs it.
echo damaged >"$DST/one"
expect_exit 4 barge verify-destination
expect_exit 1 barge status --check
grep -q "p: the last verify-destination (.*) exited 4" "$T/out" || fail "a failed verify: $(cat "$T/out")"

expect_exit 0 barge status --metrics
metrics=$T/out
for want in 'barge_pair_files{pair="p",state="delivered"} 0' 'barge_pair_files{pair="p",state="failed"} 1' \
            'barge_last_run_exit_code{pair="p",run="verify"} 4' 'barge_last_run_exit_code{pair="p",run="load"} 0' \
            'barge_check_ok 0' 'barge_running 0'; do
    grep -qxF "$want" "$metrics" || fail "metrics lack '$want': $(cat "$metrics")"
done
# Every line is a comment or "name{labels} value" (the text format).
if grep -vE '^(# (HELP|TYPE) barge_[a-z_]+ .+|barge_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9]+)$' "$metrics"; then
    fail "lines above are not in the Prometheus text format"
fi
grep -q "barge_last_run_timestamp_seconds{pair=\"p\",run=\"load\"} [0-9]\{10\}$" "$metrics" ||
    fail "no load timestamp in seconds"

# The example service writes the metrics file atomically with this command.
examples=$(cd "$(dirname "$0")/../../examples" && pwd)
line=$(grep '^ExecStart=' "$examples/barge-metrics.service")
[[ $line == *"status --metrics"* ]] || fail "the example service does not run status --metrics: $line"
grep -q 'OnCalendar=' "$examples/barge-metrics.timer" || fail "the example timer has no schedule"
echo ok
