#!/usr/bin/env bash
# A stop while unload moves deletions to the trash, a page of 4096 at a time
# (docs/unload.md): the page in progress finishes and is committed, the next is
# not begun, the run says it was interrupted (exit 130), and the next unload
# moves the rest. SIGINT comes from strace, at the 50th rename of the run.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || skip "strace is not installed"
no_leak_check_under_strace
strace -f -qq -o /dev/null -e inject=getpid:error=EIO:when=1 true 2>/dev/null ||
    skip "strace cannot inject signals here (ptrace not permitted?)"

setup_pair --on-delete trash
files=4500
for d in 1 2 3; do
    mkdir "$SRC/d$d"
    (cd "$SRC/d$d" && for i in $(seq 1 $((files / 3))); do echo "$d $i" >"f$i"; done)
done
age "$SRC"/d*/* "$SRC"/d*
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "before the deletions"
rm -rf "${SRC:?}"/d*
expect_exit 0 barge scan --accept-mass-change

left() { find "$DST" -path "$DST/.barge" -prune -o -type f -print | wc -l; }
trashed() { find "$DST/.barge" -path '*trash*' -type f | wc -l; }
rc=0
strace -f -qq -o /dev/null -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:signal=INT:when=50 \
    "$BARGE" --json unload >"$T/out" 2>"$T/err" || rc=$?
expect_eq 130 "$rc" "the exit of an unload stopped among its deletions"
expect_eq true "$(json ".pairs[0].interrupted")" "the JSON document says interrupted"
# Deletions go children first, backwards in (directory, name) order: the first
# page is 4096 of the files, their directories wait.
expect_eq $((files - 4096)) "$(left)" "files left after one page"
expect_eq 4096 "$(trashed)" "files in the trash after one page"
expect_eq 4096 "$(json ".pairs[0].trashed")" "trashed, as the JSON document counts them"
expect_eq $((files - 4096 + 3)) "$(sql "SELECT count(*) FROM entries WHERE kind IS NULL")" \
    "deletions the catalog still holds (the rest of the files and the three directories)"
sqlite3 "$DRIVE/barge.db" "PRAGMA integrity_check" | grep -qx ok || fail "catalog damaged"

expect_exit 0 barge --json unload
expect_eq false "$(json ".pairs[0].interrupted")" "the next unload finishes"
expect_eq 0 "$(left)" "files left after the next unload"
expect_eq "$files" "$(trashed)" "every deleted file is in the trash"
[[ -z $(find "$DST" -path "$DST/.barge" -prune -o -mindepth 1 -print) ]] || fail "something is left: $(ls "$DST")"
expect_eq 0 "$(sql "SELECT count(*) FROM entries WHERE kind IS NULL")" "deletions the catalog still holds"
echo ok
