#!/usr/bin/env bash
# Another program writing in the destination during every unload (SPEC §7.5:
# user data at the destination is never unlinked). Each round, live_mutator.pl
# changes the source for a moment (new, rewritten, deleted, renamed and
# hard-linked files, directories made, moved and removed, kinds changed), the
# source settles, scan and load carry the changes, and while the unload
# delivers them dest_writer.pl puts files of its own, a unique line each, at
# the names of the files the round changed or made, without pause: where
# nothing stands yet (O_EXCL), and over what stands there (an editor's save).
# Where strace can slow system calls, each of barge's renames is held 3 ms, so
# that many of those files land inside barge's renames into place. After every
# unload: exit 0 with nothing on stderr, staging empty, and every file the
# writer put at a name (and did not replace itself) is still somewhere under
# DEST (at a name, or kept in .barge/versions or .barge/trash). At the end the
# writer's files are taken out of the tree (the test's own), verify-destination
# finds the names they had replaced, and the trips it queues make every file
# and symlink equal to the source's (directories' times are left out: the
# writer changed them). With the plain renames before rename_over, seeds 1 to
# 4 each lost a file by round 2.
#
# BARGE_DEST_SEED (default 1) seeds the changes and the writer's choices (not
# their timing against barge); BARGE_DEST_ROUNDS (default 6).
source "$(dirname "$0")/lib.sh"
command -v perl >/dev/null || skip "perl is not installed"
seed=${BARGE_DEST_SEED:-1}
rounds=${BARGE_DEST_ROUNDS:-6}
mutator=$(dirname "$0")/live_mutator.pl
writer=$(dirname "$0")/dest_writer.pl
# Where strace can slow system calls, every rename is held 3 ms, so that the
# writer's files land inside barge's renames into place, not only near them.
slow=()
if command -v strace >/dev/null &&
    strace -f -qq -o /dev/null -e inject=getpid:delay_enter=1 true 2>/dev/null; then
    no_leak_check_under_strace
    slow=(strace -f -qq -o /dev/null -e trace=renameat,renameat2 -e inject=renameat,renameat2:delay_enter=3000)
fi

mkdir -p "$SRC"
expect_exit 0 barge init "$DRIVE" --piece-size 1M
expect_exit 0 barge pair add p "$SRC" "$DST" --mass-change-limit 100 --on-delete trash --exclude '*.tmp'
: >"$T/states" # the mutator's log of contents (unused here)
: >"$T/foreign"
perl "$mutator" "$SRC" "$seed" "$T/stop" "$T/states" 150
settle
expect_exit 0 barge load
expect_exit 0 barge unload

# all_kept WHEN: fails unless every file the writer put at a name (and did not
# replace itself) is in a file under DEST.
all_kept() {
    find "$DST" -type f -size -64c -exec grep -h '^foreign ' {} + 2>/dev/null | sort -u >"$T/found" || true
    awk '/^-/ { gone[substr($0, 2)] = 1 } /^\+/ { put[substr($0, 2)] = 1 }
         END { for (l in put) if (!(l in gone)) print l }' "$T/foreign" | sort -u | comm -23 - "$T/found" >"$T/lost"
    [[ ! -s $T/lost ]] || fail "$1: $(wc -l <"$T/lost") of the writer's files are gone from DEST: $(head -3 "$T/lost")"
}

writes=0
for ((round = 1; round <= rounds; round++)); do
    beside "round $round: the mutator" "$T/stop" perl "$mutator" "$SRC" "$((seed * 1000 + round))" "$T/stop" "$T/states"
    sleep 0.3
    stop_beside
    # The files this round changed or made (settle sets their times back):
    # the names the unload delivers to, where the writer aims.
    (cd "$SRC" && find . -path ./.barge -prune -o -type f -not -name '*.tmp' -newermt 2024-06-01 -printf '%P\n') >"$T/paths"
    [[ -s $T/paths ]] || (cd "$SRC" && find . -path ./.barge -prune -o -type f -not -name '*.tmp' -printf '%P\n') >"$T/paths"
    settle
    for cmd in scan load; do
        rc=0
        "$BARGE" $cmd >"$T/out" 2>"$T/err" || rc=$?
        [[ $rc -eq 0 && ! -s $T/err ]] || fail "round $round: $cmd exited $rc: $(cat "$T/out" "$T/err")"
    done
    before=$(grep -c '^+' "$T/foreign" || true)
    beside "the writer" "$T/stop-writer" perl "$writer" "$DST" "$T/paths" "$((seed * 1000 + round))" "$T/stop-writer" "$T/foreign"
    sleep 0.05
    rc=0
    "${slow[@]}" "$BARGE" unload >"$T/out" 2>"$T/err" || rc=$?
    stop_beside
    [[ $rc -eq 0 && ! -s $T/err ]] || fail "round $round: unload exited $rc: $(cat "$T/out" "$T/err")"
    [[ -z $(find "$DST/.barge/staging" -mindepth 1) ]] ||
        fail "round $round: left in staging: $(find "$DST/.barge/staging" -mindepth 1)"
    all_kept "round $round"
    now=$(grep -c '^+' "$T/foreign" || true)
    echo "round $round: the writer put $((now - before)) files at names during the unload"
    writes=$((writes + now - before))
done
((writes > 0)) || fail "the writer never wrote during an unload"
kept=$(find "$DST/.barge/versions" -type f -exec grep -l '^foreign ' {} + 2>/dev/null | wc -l)
echo "$writes files written at names during unloads, $kept of them kept in versions/"

# The writer's files are the test's own: out of the tree, and the trips that
# verify-destination queues deliver what they had replaced.
{ find "$DST" -path "$DST/.barge" -prune -o -type f -size -64c -exec grep -l '^foreign ' {} + 2>/dev/null || true; } |
    xargs -r -d '\n' rm --
find "$DST" -path "$DST/.barge" -prune -o -name '.fw-*' -exec rm -f {} +
for ((trip = 1; ; trip++)); do
    rc=0
    "$BARGE" verify-destination >"$T/out" 2>"$T/err" || rc=$?
    [[ $rc -eq 0 ]] && break
    [[ $rc -eq 4 && $trip -le 3 ]] || fail "verify-destination exited $rc (trip $trip): $(cat "$T/out" "$T/err")"
    expect_exit 0 barge load
    expect_exit 0 barge unload
done
manifest "$SRC" | grep -v '|d|' >"$T/m.src"
manifest "$DST" | grep -v '|d|' >"$T/m.dst"
if ! cmp -s "$T/m.src" "$T/m.dst"; then
    diff "$T/m.src" "$T/m.dst" | head -20 >&2 || true
    fail "the files and symlinks differ from the source's after the repair"
fi
echo "ok: every file the writer put at a name was kept; the tree equals the source"
