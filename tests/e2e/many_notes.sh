#!/usr/bin/env bash
# A run with more notes than it holds in memory (Notes::held, 1,000): one per
# file is possible (a file renamed at the source whose old copy is gone from
# the destination, here; a file that changed while being read, in life). The
# rest go to a temporary file, and every one is still listed, once, in the
# text and in the JSON, while the run's recorded summary keeps the first
# thousand.
source "$(dirname "$0")/lib.sh"
n=1200
setup_pair --mass-change-limit 100
mkdir "$SRC/d" && (cd "$SRC/d" && for i in $(seq 1 $n); do echo "file $i" >"f$i"; done)
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the first trip"

# rename_all FROM TO: each file renamed at the source, and its copy under the
# old name removed from the destination by hand.
rename_all() {
    (cd "$SRC/d" && for i in $(seq 1 $n); do mv "$1$i" "$2$i"; done)
    rm "$DST"/d/"$1"*
}

# Text: each on one "note:" line, once.
rename_all f g
expect_exit 0 barge load
expect_exit 0 barge unload
cp "$T/out" "$T/text"
expect_eq "$n" "$(grep -c '^  note: ' "$T/text")" "note lines"
expect_eq "$n" "$(grep '^  note: ' "$T/text" | grep -o "d/f[0-9]*'" | sort -u | wc -l)" "distinct old names in the notes"
grep -q "^  note: .*d/f$n'" "$T/text" || fail "the last note is not listed: $(tail -2 "$T/text")"
sql "SELECT summary FROM runs ORDER BY id DESC LIMIT 1" >"$T/summary"
expect_eq 1000 "$(jq '.pairs[0].notes | length' "$T/summary")" "notes kept in the recorded summary"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "once the renamed files were carried again"

# JSON: all of them, read back from the temporary file as it is printed.
rename_all g h
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq "$n" "$(json '.pairs[0].notes | length')" "notes in the JSON document"
expect_eq "$n" "$(json '.pairs[0].notes[]' | grep -o "d/g[0-9]*'" | sort -u | wc -l)" "distinct old names in the JSON notes"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "once the renamed files were carried again"
