#!/usr/bin/env bash
# Bad input is refused with the path and the reason, and leaves nothing behind
# (SPEC §5, issue 11): init with a bad piece size or a dynamic binary, a failed
# init in a directory holding the user's own folders (left as they were), install-
# binary of a static program that is not barge, pair add of '/', of a source
# containing or inside the drive, of a destination inside the source; pair
# remove with failed files still on the cargo, and what it leaves at endpoints.
source "$(dirname "$0")/lib.sh"

expect_exit 2 barge init "$T/x" --piece-size 0
grep -q "piece size 0 is too small" "$T/err" || fail "no reason for piece size 0: $(cat "$T/err")"
[[ ! -e $T/x ]] || fail "a refused init left $T/x behind"
expect_exit 2 barge init "$T/x" --install-binary --from "$BARGE"
grep -q "dynamically linked" "$T/err" || fail "no reason for a dynamic binary: $(cat "$T/err")"
[[ ! -e $T/x ]] || fail "init --install-binary with a dynamic binary left $T/x behind"
mkdir "$T/existing"
expect_exit 2 barge init "$T/existing" --install-binary --from "$BARGE"
[[ -z $(ls -A "$T/existing") ]] || fail "a refused init left files in an existing directory: $(ls -A "$T/existing")"
# A disk's root already holding the user's own bin/, logs/ and cargo/ (and a
# barge.lock another program holds): the failed init leaves them as they were
# (it once removed them whole), and removes only what it made.
mkdir -p "$T/usb/bin" "$T/usb/logs" "$T/usb/cargo"
echo "my script" >"$T/usb/bin/helper.sh"
echo "years of logs" >"$T/usb/logs/2019.log"
echo "a manifest" >"$T/usb/cargo/manifest.txt"
touch "$T/usb/barge.lock"
manifest "$T/usb" >"$T/usb.before"
flock "$T/usb/barge.lock" sleep 30 &
holder=$!
for _ in $(seq 100); do
    flock -n "$T/usb/barge.lock" true || break
    sleep 0.05
done
expect_exit 75 barge init "$T/usb"
kill "$holder"
wait "$holder" 2>/dev/null || true
manifest "$T/usb" | cmp -s "$T/usb.before" - || fail "a failed init changed the user's folders: $(find "$T/usb")"

setup_pair
# A static program that is not barge (glibc's ldconfig is one): refused, named.
static=
for candidate in /sbin/ldconfig /usr/sbin/ldconfig /bin/busybox; do
    [[ -f $candidate ]] || continue
    expect_exit 2 barge install-binary --from "$candidate"
    grep -q "dynamically linked" "$T/err" && continue
    grep -q "not barge" "$T/err" || fail "$candidate accepted or refused for another reason: $(cat "$T/err")"
    static=$candidate
    break
done
[[ -n $static ]] || echo "note: no static non-barge program here to offer install-binary" >&2
[[ ! -e $DRIVE/bin/barge ]] || fail "a program that is not barge was installed as barge"

# Roots pair add refuses.
mkdir -p "$T/inside-src/sub"
expect_exit 2 barge pair add root / "$DST"
grep -q "cannot be '/'" "$T/err" || fail "'/' as a source: $(cat "$T/err")"
expect_exit 2 barge pair add rootdest "$SRC" /
grep -q "cannot be '/'" "$T/err" || fail "'/' as a destination: $(cat "$T/err")"
[[ ! -e /.barge ]] || fail "pair add wrote /.barge"
mkdir "$DRIVE/inside"
expect_exit 2 barge pair add inside "$DRIVE/inside" "$DST"
grep -q "lies inside the drive" "$T/err" || fail "a source inside the drive: $(cat "$T/err")"
expect_exit 2 barge pair add around "$T" "$DST"
grep -q "contains the drive" "$T/err" || fail "a source containing the drive: $(cat "$T/err")"
expect_exit 2 barge pair add nested "$T/inside-src" "$T/inside-src/sub/backup"
grep -q "lies inside the source" "$T/err" || fail "a destination inside the source: $(cat "$T/err")"
expect_eq 1 "$(sql 'SELECT count(*) FROM pairs')" "pairs after the refusals"

# pair remove counts a failed file still on the cargo as undelivered cargo.
echo victim >"$SRC/victim"
age "$SRC/victim"
expect_exit 0 barge load
mkdir -p "$DST"
expect_exit 0 barge unload # claims the destination
echo again >"$SRC/victim"
age "$SRC/victim"
expect_exit 0 barge load
sql_write "UPDATE entries SET fail_reason = 'x', fail_count = 1 WHERE name = CAST('victim' AS BLOB)"
expect_exit 2 barge pair remove p
grep -q "still has 1 file" "$T/err" || fail "a failed file on the cargo does not stop pair remove: $(cat "$T/err")"
ls "$SRC/.barge"/catalog-*.db >/dev/null || fail "no catalog copy at the source to begin with"
expect_exit 0 barge pair remove p --yes
[[ -z $(ls "$SRC/.barge" 2>/dev/null) ]] || fail "pair remove left files in the source's .barge: $(ls "$SRC/.barge")"
[[ -z $(ls "$DST/.barge"/*.dest "$DST/.barge"/catalog-* 2>/dev/null) ]] || fail "pair remove left the destination's marker or copy"
echo ok
