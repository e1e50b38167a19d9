#!/usr/bin/env bash
# A file that changes at every try is told, not forgotten (SPEC §7.7, §7.11;
# schema 11; docs/catalog.md, "Files that keep changing"). A file that changed
# while a scan or a load read it waits for a later run, exit 0 and a note. One
# that never holds still would wait forever in silence: status lists it with the
# time of its first miss and its tries, status --check fails once that is older
# than --max-age, --metrics counts it. Carrying it, or its leaving the source,
# clears it; a file created at its path later starts afresh.
source "$(dirname "$0")/lib.sh"
command -v perl >/dev/null || skip "perl is not installed"

setup_pair
echo keep >"$SRC/keep"
head -c 4M /dev/urandom >"$SRC/busy"
age "$SRC/keep" "$SRC/busy"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_exit 0 barge verify-destination
expect_exit 0 barge status --check

# touching NAME: from now until stop_beside, NAME's times change without a
# pause (its ctime at every call): every read of it sees it change.
touching() {
    beside "the toucher of $1" "$T/stop-touching" perl -e '
        my ($f, $stop) = @ARGV;
        until (-e $stop) { utime(undef, undef, $f) or die "utime $f: $!\n" }' "$SRC/$1" "$T/stop-touching"
}

# missed FILTER: FILTER of status --json (left in $T/out).
missed() { expect_exit 0 barge status --json; json "$1"; }

touching busy
before=$(date -u +%s)
expect_exit 0 barge load --json
jq -r '.pairs[0].notes[]?, .notes[]?' "$T/out" | grep -q "busy" || fail "the load has no note of busy: $(cat "$T/out")"
expect_eq 1 "$(missed '.pairs[0].missed_files')" "missed files after the first load"
expect_eq busy "$(json '.pairs[0].missed[0].path')" "the missed file"
first_tries=$(json '.pairs[0].missed[0].tries')
since=$(json '.pairs[0].missed[0].since')
since_s=$(date -u -d "$since" +%s)
((since_s >= before - 1 && since_s <= $(date -u +%s))) || fail "missed since $since, not since this load"
((first_tries >= 1)) || fail "tries: $first_tries"
# Younger than --max-age: not a problem yet.
expect_exit 0 barge status --check
expect_exit 0 barge status
grep -q "missed:    1 file, changed while barge read them at every try" "$T/out" || fail "status does not tell the missed file: $(cat "$T/out")"
grep -q "    busy: since $since" "$T/out" || fail "status does not name busy with its time: $(cat "$T/out")"

# A scan that finds it changing counts a try; the first miss is kept.
expect_exit 0 barge scan
expect_exit 0 barge load
expect_eq "$since" "$(missed '.pairs[0].missed[0].since')" "the first miss's time, after more tries"
tries=$(json '.pairs[0].missed[0].tries')
((tries >= first_tries + 2)) || fail "a scan and a load added $((tries - first_tries)) tries, not 2 or more"

# Older than --max-age: status --check fails and names it; --metrics counts it.
sleep 1.2
expect_exit 1 barge status --check --max-age 1s
grep -qF "p: 1 file not carried for longer than 1 second: each changed while barge read it, at every try (the first since $since: 'busy'; see 'barge status p')" "$T/out" ||
    fail "--check does not tell the missed file: $(cat "$T/out")"
expect_exit 0 barge status --metrics
grep -qxF 'barge_pair_missed_files{pair="p"} 1' "$T/out" || fail "metrics lack the missed file: $(cat "$T/out")"
grep -qx "barge_pair_missed_since_timestamp_seconds{pair=\"p\"} $since_s" "$T/out" ||
    fail "metrics lack the time of the first miss ($since_s): $(cat "$T/out")"
# The other problems --max-age 1s finds are the runs' ages, none about busy.
expect_exit 0 barge status --check

# Once it holds still, the next load carries it and it is no longer missed.
stop_beside
expect_exit 0 barge load --json
# (Only its times changed: its content is still on the cargo, counted deduplicated.)
expect_eq 1 "$(json '.pairs[0].carried.files + .pairs[0].deduplicated')" "files carried once busy held still"
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files once carried"
expect_eq 0 "$(json '.pairs[0].missed | length')" "missed list once carried"
expect_exit 0 barge status --metrics
grep -qxF 'barge_pair_missed_files{pair="p"} 0' "$T/out" || fail "metrics still count a missed file"
if grep -q "^barge_pair_missed_since" "$T/out"; then fail "metrics keep a missed time: $(cat "$T/out")"; fi
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the missed file held still"

# A missed file that leaves the source is no longer missed, and a file created at
# its path later starts afresh.
head -c 1M /dev/urandom >"$SRC/temp"
touching temp
expect_exit 0 barge load
expect_eq 1 "$(missed '.pairs[0].missed_files')" "missed files with temp changing"
old_since=$(json '.pairs[0].missed[0].since')
stop_beside
rm "$SRC/temp"
expect_exit 0 barge load
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files once temp is gone"
[[ $(sql "SELECT count(*) FROM entries WHERE fail_ns IS NOT NULL") == 0 ]] ||
    fail "a gone file keeps its misses in the catalog"
sleep 1.1
head -c 1M /dev/urandom >"$SRC/temp"
touching temp
expect_exit 0 barge load
new_since=$(missed '.pairs[0].missed[0].since')
[[ $(date -u -d "$new_since" +%s) -gt $(date -u -d "$old_since" +%s) ]] ||
    fail "the new temp inherited the old one's first miss ($old_since, now $new_since)"
expect_eq 1 "$(json '.pairs[0].missed[0].tries')" "tries of the new temp"
stop_beside
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "at the end"
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files at the end"
echo ok
