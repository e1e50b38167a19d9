#!/usr/bin/env bash
# The first scan hashes new files while it still lists the tree (SPEC §8: it
# costs about what hashing the tree costs). Checked here: every file gets its own
# hash (two workers, results recorded by the walk); a rename found by a rescan
# is still a rename, not re-read; a first scan killed while hashing keeps what
# it had hashed (it commits every two seconds); and a rescan that finds new
# files and then a mass deletion records nothing at all, so that the next scan
# brakes too.
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-min 5
mkdir -p "$SRC/a" "$SRC/b/c"
for i in $(seq 1 400); do head -c $((i * 37 % 5000)) /dev/urandom >"$SRC/a/f$i"; done
for i in $(seq 1 50); do echo "b $i" >"$SRC/b/c/g$i"; done
echo top >"$SRC/top"
ln -s a/f1 "$SRC/link"
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00' {} +

# 1. Each file's recorded hash is its own.
expect_exit 0 barge scan --json
expect_eq 452 "$(json '.pairs[0].new')" "files found"
expect_eq 451 "$(json '.pairs[0].files_hashed')" "files hashed once each"
(cd "$SRC" && find . -path ./.barge -prune -o -type f -printf '%P\n' | sort | while IFS= read -r f; do
    printf '%s %s\n' "$f" "$(b2sum "$f" | cut -d' ' -f1)"
done) >"$T/expected"
sql "SELECT CASE WHEN e.parent = CAST('' AS BLOB) THEN e.name ELSE e.parent || '/' || e.name END, lower(hex(c.hash))
     FROM entries e JOIN contents c ON c.id = e.content_id WHERE e.kind = 1" | tr '|' ' ' | sort >"$T/recorded"
[[ -s "$T/expected" ]] || fail "no expected hashes"
diff "$T/expected" "$T/recorded" >/dev/null || fail "recorded hashes differ: $(diff "$T/expected" "$T/recorded" | head -5)"

# 2. A rename among new files is a rename: not hashed again.
mv "$SRC/a/f7" "$SRC/a/renamed7"
for i in $(seq 1 30); do echo "new $i" >"$SRC/a/n$i"; done
age "$SRC"/a/n*
expect_exit 0 barge scan --json
expect_eq 1 "$(json '.pairs[0].renamed')" "the rename is found"
expect_eq 30 "$(json '.pairs[0].new')" "the new files"
expect_eq 30 "$(json '.pairs[0].files_hashed')" "only the new files hashed"

# 3. A first scan killed while it hashes keeps what it recorded before.
setup_fresh() {
    rm -rf "$DRIVE" "$T/dst-q" "$SRC2/.barge"
    barge init "$DRIVE" >/dev/null
    barge pair add q "$SRC2" "$T/dst-q" --mass-change-min 5 >/dev/null
}
SRC2=$T/src2
mkdir -p "$SRC2/a"
# Two sparse files big enough to keep both workers busy for seconds, listed
# last: the small files are hashed first, then the walk waits for the big ones,
# committing every two seconds; it is killed after its first commit. Readers
# are locked out while it runs (locking_mode EXCLUSIVE), so the commit is seen
# on disk: barge.db has grown, and the journal's header has since been zeroed,
# which is the commit point. (barge.db grows before that: a kill between the
# two leaves a hot journal, and the next open rolls that commit back.)
truncate -s 6G "$SRC2/a/zbig1" "$SRC2/a/zbig2"
for i in $(seq 1 1500); do echo "small $i" >"$SRC2/a/s$i"; done
find "$SRC2" -exec touch -d '2024-01-01 10:00:00' {} +
setup_fresh
size0=$(stat -c %s "$DRIVE/barge.db")
"$BARGE" scan >/dev/null 2>&1 &
pid=$!
on_exit "kill -9 $pid 2>/dev/null"
committed() {
    (($(stat -c %s "$DRIVE/barge.db") > size0 + 100000)) && [[ -f $DRIVE/barge.db-journal ]] &&
        [[ -z $(head -c 28 "$DRIVE/barge.db-journal" | tr -d '\0') ]]
}
for _ in $(seq 1 1000); do
    committed && break
    sleep 0.02
done
kill -9 $pid 2>/dev/null || fail "the scan ended before it could be killed (hashing 12 GiB before its first commit?)"
wait $pid 2>/dev/null || true
# The kill may leave a hot journal, which a read-only sqlite3 cannot roll back:
# barge's next open of the catalog does.
expect_exit 0 barge log
# How many small files were hashed by the first commit depends on the machine's
# load; the big ones cannot have been.
kept=$(sql "SELECT count(*) FROM entries WHERE content_id IS NOT NULL")
((kept > 0 && kept <= 1500)) || fail "the killed scan kept $kept hashes (expected some of the 1500 small files)"
expect_exit 0 barge scan --json
expect_eq $((1502 - kept)) "$(json '.pairs[0].files_hashed')" "files hashed after the kill (only what the killed scan had not recorded)"
expect_eq 1502 "$(sql "SELECT count(*) FROM entries WHERE kind = 1 AND content_id IS NOT NULL")" "every file hashed in the end"

# 4. A rescan that finds new files (listed first, slow to hash) and then a mass
# deletion records nothing, not even the new files: they would count as known
# files to the next scan's brake.
setup_fresh
rm -rf "$SRC2/a"
mkdir -p "$SRC2/z"
for i in $(seq 1 20); do echo "z $i" >"$SRC2/z/f$i"; done
find "$SRC2" -exec touch -d '2024-01-01 10:00:00' {} +
expect_exit 0 barge scan
rm "$SRC2"/z/f*
mkdir -p "$SRC2/a"
truncate -s 2G "$SRC2/a/0big1" "$SRC2/a/0big2"
for i in $(seq 1 1500); do echo "small $i" >"$SRC2/a/s$i"; done
find "$SRC2/a" -exec touch -d '2024-01-01 10:00:00' {} +
cp "$DRIVE/barge.db" "$T/before.db"
expect_exit 2 barge scan
grep -q "nothing was recorded" "$T/err" || fail "the refusal does not say nothing was recorded: $(cat "$T/err")"
cmp -s "$DRIVE/barge.db" "$T/before.db" || fail "a braked scan changed the catalog"
expect_exit 2 barge scan # braked again: the new files did not dilute the deletions
expect_exit 0 barge scan --accept-mass-change --json
expect_eq 20 "$(json '.pairs[0].deleted')" "deleted once accepted"
expect_eq 1502 "$(sql "SELECT count(*) FROM entries WHERE parent = CAST('a' AS BLOB) AND kind = 1 AND content_id IS NOT NULL")" "the new files hashed"

# 5. A rescan that walks for more than the two seconds between a first scan's
# commits (every stat slowed down) neither hashes inline nor commits mid-walk:
# it finishes as any rescan does.
need_strace_delays "sections 1-4 passed"
echo "one more" >"$SRC2/a/late"
age "$SRC2/a/late"
start=$(date +%s)
rc=0
strace -f -qq -o /dev/null -e trace=newfstatat -e inject=newfstatat:delay_enter=2000 \
    "$BARGE" scan --json >"$T/out" 2>"$T/err" || rc=$?
elapsed=$(($(date +%s) - start))
((rc == 0)) || fail "a slow rescan failed (exit $rc): $(cat "$T/err")"
((elapsed >= 3)) || fail "the rescan took ${elapsed}s: too fast to pass a checkpoint's two seconds"
expect_eq 1 "$(json '.pairs[0].new')" "the slow rescan's new file"
expect_eq 1 "$(json '.pairs[0].files_hashed')" "the slow rescan hashed it (in the hash phase)"
echo ok
