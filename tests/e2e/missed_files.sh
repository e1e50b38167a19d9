#!/usr/bin/env bash
# A file that changes at every try is told, not forgotten (SPEC §7.7, §7.11;
# schema 11; docs/catalog.md, "Files that keep changing"). A file that changed
# while a scan or a load read it waits for a later run, exit 0 and a note. One
# that never holds still would wait forever in silence: status lists it with the
# time of its first miss and its tries, status --check fails once that is older
# than --max-age, --metrics counts it. Carrying it (a copy, or its content found
# on the cargo or at the destination), another drive's delivery of a new
# version, or its leaving the source, clears it; a file created at its path
# later starts afresh. A verification of the destination's older copy does not.
# A dry run records nothing.
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
# pause (its ctime at every call): every read of it sees it change. It returns
# once the toucher runs (a busy machine once started it after the load).
touching() {
    rm -f "$T/touching"
    beside "the toucher of $1" "$T/stop-touching" perl -e '
        my ($f, $stop, $going) = @ARGV;
        utime(undef, undef, $f) or die "utime $f: $!\n";
        open(my $h, ">", $going) or die "$going: $!\n";
        until (-e $stop) { utime(undef, undef, $f) or die "utime $f: $!\n" }' "$SRC/$1" "$T/stop-touching" "$T/touching"
    local i
    for ((i = 0; i < 600; i++)); do
        [[ -e $T/touching ]] && return 0
        sleep 0.05
    done
    fail "the toucher of $1 did not start in 30 s"
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
expect_eq 1 "$first_tries" "tries after one load"
# Younger than --max-age: not a problem yet.
expect_exit 0 barge status --check
expect_exit 0 barge status
grep -q "missed:    1 file not carried since a read found it changing" "$T/out" || fail "status does not tell the missed file: $(cat "$T/out")"
grep -q "    busy: since $since (1 read found it changing)" "$T/out" || fail "status does not name busy with its time: $(cat "$T/out")"

# A scan that finds it changing counts a try; the first miss is kept, through a
# verify-destination too, which reads the older version the destination holds
# (a miss once ended when the destination's copy was verified after it: a file
# that never holds still was then never told, verify-destination running as
# often as --check asks).
expect_exit 0 barge scan
expect_exit 0 barge verify-destination
expect_exit 0 barge load
expect_eq "$since" "$(missed '.pairs[0].missed[0].since')" "the first miss's time, after more tries"
tries=$(json '.pairs[0].missed[0].tries')
((tries >= first_tries + 2)) || fail "a scan and a load added $((tries - first_tries)) tries, not 2 or more"

# Older than --max-age: status --check fails and names it; --metrics counts it.
sleep 1.2
expect_exit 1 barge status --check --max-age 1s
grep -qF "p: 1 file not carried for longer than 1 second since a read found it changing (the longest since $since: 'busy'; see 'barge status p')" "$T/out" ||
    fail "--check does not tell the missed file: $(cat "$T/out")"
# The other problems --max-age 1s finds are the runs' ages.
grep -qF "p: the last load is older than 1 second" "$T/out" || fail "--check --max-age 1s: $(cat "$T/out")"
[[ $(grep -c "busy" "$T/out") == 1 ]] || fail "--check names busy more than once: $(cat "$T/out")"
expect_exit 0 barge status --metrics
grep -qxF 'barge_pair_missed_files{pair="p"} 1' "$T/out" || fail "metrics lack the missed file: $(cat "$T/out")"
grep -qx "barge_pair_missed_since_timestamp_seconds{pair=\"p\"} $since_s" "$T/out" ||
    fail "metrics lack the time of the first miss ($since_s): $(cat "$T/out")"

# Once it holds still, the next load carries it and it is no longer missed: here
# a scan hashes it first, so the load finds its content already at the
# destination (only its times changed) and copies nothing.
stop_beside
expect_exit 0 barge scan
expect_exit 0 barge load --json
expect_eq "0 1" "$(json '"\(.pairs[0].carried.files) \(.pairs[0].at_destination)"')" \
    "files copied and found at the destination once busy held still"
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files once carried"
expect_eq 0 "$(json '.pairs[0].missed | length')" "missed list once carried"
expect_exit 0 barge status --metrics
grep -qxF 'barge_pair_missed_files{pair="p"} 0' "$T/out" || fail "metrics still count a missed file"
if grep -q "^barge_pair_missed_since" "$T/out"; then fail "metrics keep a missed time: $(cat "$T/out")"; fi
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the missed file held still"

# The same where its content is on the cargo: a copy of a file loaded and not
# yet delivered.
rnd "$SRC/x" 100K
age "$SRC/x"
expect_exit 0 barge load
cp "$SRC/x" "$SRC/dup"
touching dup
expect_exit 0 barge load
expect_eq dup "$(missed '.pairs[0].missed[0].path')" "the missed copy"
stop_beside
expect_exit 0 barge scan
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.files')" "files copied once dup held still (x's content on the cargo)"
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files once dup's content was found on the cargo"

# A dry run records no miss. A missed file whose directory leaves the source is
# no longer missed, and a file created at its path later starts afresh.
rnd "$SRC/dir/temp" 1M
touching dir/temp
expect_exit 0 barge load --dry-run
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files after a dry run"
expect_exit 0 barge load
expect_eq 1 "$(missed '.pairs[0].missed_files')" "missed files with dir/temp changing"
expect_eq dir/temp "$(json '.pairs[0].missed[0].path')" "the missed file"
old_since=$(json '.pairs[0].missed[0].since')
stop_beside
rm -r "$SRC/dir"
expect_exit 0 barge load
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files once dir is gone"
[[ $(sql "SELECT count(*) FROM entries WHERE fail_ns IS NOT NULL") == 0 ]] ||
    fail "a gone file keeps its misses in the catalog"
sleep 1.1
rnd "$SRC/dir/temp" 1M
touching dir/temp
expect_exit 0 barge load
new_since=$(missed '.pairs[0].missed[0].since')
[[ $(date -u -d "$new_since" +%s) -gt $(date -u -d "$old_since" +%s) ]] ||
    fail "the new dir/temp inherited the old one's first miss ($old_since, now $new_since)"
expect_eq 1 "$(json '.pairs[0].missed[0].tries')" "tries of the new dir/temp"
stop_beside
# A missed file that became a directory is not a missed file.
rm "$SRC/dir/temp"
mkdir "$SRC/dir/temp"
expect_exit 0 barge load
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files once dir/temp is a directory"
# And a file again at that path starts afresh.
rmdir "$SRC/dir/temp"
echo again >"$SRC/dir/temp"
expect_exit 0 barge scan
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files once dir/temp is a file again"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the missed files"

# A file found damaged at the destination and read right again: its failure is
# over, and an ordinary edit of it later is not a miss (its failure's time and
# count were once left behind and read as a miss since then).
mv "$DST/keep" "$T/keep"
expect_exit 4 barge verify-destination
mv "$T/keep" "$DST/keep"
expect_exit 0 barge verify-destination
echo edit >>"$SRC/keep"
expect_exit 0 barge scan
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files after a repaired damage and an edit"

# Two drives: A misses busy; B carries and delivers it; A learns of that
# delivery. A miss from before it is not told after the next edit either.
B=$T/drive-b
declare -A ID
mkdrive "$B"
expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
touching busy
expect_exit 0 barge load
expect_eq 1 "$(missed '.pairs[0].missed_files')" "A's missed files with busy changing"
stop_beside
rnd "$SRC/busy" 100K
age "$SRC/busy"
expect_exit 0 barge -d "$B" load
expect_exit 0 barge -d "$B" unload
expect_exit 0 barge load
expect_eq 0 "$(missed '.pairs[0].missed_files')" "A's missed files once B delivered busy"
sleep 1.1
echo edit >>"$SRC/busy"
expect_exit 0 barge scan
expect_eq 0 "$(missed '.pairs[0].missed_files')" "A's missed files after an edit of what B delivered"

# A miss is timed at the read that found the file changing, not when the load
# writes its misses down (in batches, the last at its end): strace holds the
# load's read of the next file, zz, 3 s.
if command -v strace >/dev/null; then
    no_leak_check_under_strace
    echo fresh >"$SRC/zz"
    touching busy
    strace -f -qq -o /dev/null -P "$SRC/zz" -e trace=pread64 -e inject=pread64:delay_enter=3000000:when=1 \
        "$BARGE" load >"$T/out" 2>"$T/err" || fail "the held load failed: $(cat "$T/err")"
    ended=$(date -u +%s)
    stop_beside
    expect_eq busy "$(missed '.pairs[0].missed[0].path')" "the file missed by the held load"
    since=$(json '.pairs[0].missed[0].since')
    (($(date -u -d "$since" +%s) <= ended - 2)) || fail "busy's miss is timed $since, at the end of the load ($ended), not at its read"
    # The same for a scan, which writes its misses with each batch of files it
    # hashed: strace holds its reads of slow, hashed in busy2's batch.
    head -c 8M /dev/urandom >"$SRC/busy2"
    echo slow >"$SRC/slow"
    touching busy2
    strace -f -qq -o /dev/null -P "$SRC/slow" -e trace=read -e inject=read:delay_enter=3000000 \
        "$BARGE" scan >"$T/out" 2>"$T/err" || fail "the held scan failed: $(cat "$T/err")"
    ended=$(date -u +%s)
    stop_beside
    since=$(missed '.pairs[0].missed[] | select(.path == "busy2") | .since')
    [[ -n $since ]] || fail "the held scan did not miss busy2: $(cat "$T/out")"
    (($(date -u -d "$since" +%s) <= ended - 2)) || fail "busy2's miss is timed $since, at the end of the scan ($ended), not at its read"
else
    echo "the time of a miss not checked: strace is not installed" >&2
fi
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "at the end"
expect_eq 0 "$(missed '.pairs[0].missed_files')" "missed files at the end"
echo ok
