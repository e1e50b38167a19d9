#!/usr/bin/env bash
# Messages and output (SPEC §5, issue 11): "did you mean", help, global options in
# each command's help, --sample 5%, plurals, -v listing every file acted on,
# --progress/--no-progress, sentences that read right, a failed delivery said
# once, hints for a drive without pairs and for a damaged catalog, and a file
# known bad still failing the next verify-destination.
source "$(dirname "$0")/lib.sh"

expect_exit 2 barge lod
grep -q "unknown command 'lod'; did you mean 'load'?" "$T/err" || fail "lod: $(cat "$T/err")"
expect_exit 2 barge pair lst
grep -q "unknown command 'pair lst'; did you mean 'pair list'?" "$T/err" || fail "pair lst: $(cat "$T/err")"
expect_exit 0 barge help
grep -q "Subcommands:" "$T/out" || fail "barge help: $(head -5 "$T/out")"
expect_exit 0 barge help load
grep -q -- "--max-bytes" "$T/out" || fail "barge help load: $(head -5 "$T/out")"
expect_exit 0 barge unload --help
grep -q "Global options (before or after the command): -d, --drive DIR; --json" "$T/out" ||
    fail "a command's help does not list the global options"
expect_exit 0 barge pair set --help

barge init "$DRIVE" >/dev/null
expect_exit 0 barge status
grep -q "no pairs yet: add one with 'barge pair add NAME SOURCE DEST'" "$T/out" || fail "no hint without pairs"

mkdir -p "$SRC/d"
echo one >"$SRC/d/one"
ln -s one "$SRC/d/link"
age "$SRC/d/one"
barge pair add p "$SRC" "$DST" >/dev/null
expect_exit 0 barge -v load
grep -q "^carried   d/one$" "$T/out" || fail "-v does not list the carried file: $(cat "$T/out")"
grep -q "carried 1 file (4 B) in 1 piece" "$T/out" || fail "singulars: $(cat "$T/out")"
expect_exit 0 barge -v unload
for want in "^delivered d/one$" "^symlink   d/link$" "^directory d$" "delivered 1 file (4 B), 1 symlink, 1 directory"; do
    grep -q "$want" "$T/out" || fail "unload -v lacks '$want': $(cat "$T/out")"
done
# The progress line goes to stderr only when asked (no terminal here), and never with --no-progress.
expect_exit 0 barge --progress verify-destination
grep -q $'\r\033\\[Kverify: ' "$T/err" || fail "--progress drew nothing: $(cat -v "$T/err")"
expect_exit 0 barge --no-progress verify-destination
[[ ! -s $T/err ]] || fail "--no-progress: $(cat -v "$T/err")"
expect_exit 0 barge verify-destination --sample 5%
expect_exit 2 barge verify-destination --sample 0%
grep -q "invalid --sample '0%'" "$T/err" || fail "--sample 0%: $(cat "$T/err")"

# A damaged delivered file: the reason reads as a sentence, and a second
# verify-destination before the repair still exits 4.
echo "ONE" >"$DST/d/one"
expect_exit 4 barge verify-destination
grep -q "BAD: $DST/d/one: does not match its BLAKE2b-512 (corrupt); queued to be carried again" "$T/out" ||
    fail "verify reason: $(cat "$T/out")"
expect_exit 4 barge verify-destination
grep -q "d/one" "$T/out" || fail "the second verify does not name the damaged file: $(cat "$T/out")"

# A failed delivery is said once: in the summary (stdout), not on stderr too.
expect_exit 0 barge load
mv "$DST/d" "$DST/d.real" # a symlink in the way: the file cannot be put in place
ln -s d.real "$DST/d"
expect_exit 3 barge unload
grep -q "failed: $DST/d/one" "$T/out" || fail "the failure is not in the summary: $(cat "$T/out")"
! grep -q "d/one" "$T/err" || fail "the failure is said twice (stdout and stderr): $(cat "$T/err")"
expect_exit 3 barge -q unload
[[ ! -s $T/out ]] || fail "-q printed a summary"
grep -q "d/one" "$T/err" || fail "with -q the failure is not said at all"
rm "$DST/d"
mv "$DST/d.real" "$DST/d"
expect_exit 0 barge unload
expect_exit 0 barge verify-destination

# A damaged catalog: the error says how to rebuild it (verify-middle reads every
# page; other commands find damage in the pages they read).
cp "$DRIVE/barge.db" "$T/good.db"
printf 'garbage' | dd of="$DRIVE/barge.db" bs=1 seek=4096 count=7 conv=notrunc status=none
printf 'garbage' | dd of="$DRIVE/barge.db" bs=1 seek=9000 count=7 conv=notrunc status=none
expect_exit 1 barge verify-middle
grep -q "barge -d $DRIVE recover ROOT" "$T/err" || fail "no pointer to barge recover: $(cat "$T/err")"
echo ok
