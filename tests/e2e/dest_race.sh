#!/usr/bin/env bash
# Another program writes at the destination while unload delivers (SPEC §7.5:
# user data is never unlinked). Each unload runs under strace, which holds
# every rename into DEST/race for a second; as barge sits in that rename,
# another program (this script) puts its own file at the very name barge is
# renaming to. That file must be kept in DEST/.barge/versions/, whatever the
# rename was:
#   1. a changed file delivered over the old one (the old one kept too);
#   2. a new file at a name where nothing stood when barge looked;
#   3. a file renamed at the source, over a name the destination holds
#      (delivered as a rename of the destination's copy);
#   4. a new hard link at the source (delivered as a link to the first name).
# Before renameat2's RENAME_EXCHANGE and RENAME_NOREPLACE, barge's plain
# rename replaced that file, and it was lost. Every tree ends equal to the
# source.
source "$(dirname "$0")/lib.sh"
need_strace_delays "to hold barge in a rename"
case $(uname -m) in
x86_64) renames="264 316" ;; # renameat, renameat2
aarch64) renames="38 276" ;;
*) skip "the rename system call numbers of $(uname -m) are not listed here" ;;
esac

setup_pair
mkdir -p "$SRC/race"
echo "f v1" >"$SRC/race/f"
echo "a" >"$SRC/race/a"
echo "b" >"$SRC/race/b"
echo "x1" >"$SRC/race/x1"
age "$SRC/race"/* "$SRC/race"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "first trip"
RACE=$(realpath "$DST/race")

# in_rename TRACER: waits (up to 60 s) until the process strace TRACER runs
# sits in a rename for 50 ms (held by strace: only those into DEST/race are);
# returns 1 if it never does.
in_rename() {
    local tracer=$1 pid s nr line i
    for ((i = 0; i < 6000; i++)); do
        pid=$(pgrep -P "$tracer" | head -1) || true
        for s in /proc/${pid:-none}/task/*/syscall; do
            line=$(cat "$s" 2>/dev/null) || continue
            nr=${line%% *}
            [[ " $renames " == *" $nr "* ]] || continue
            sleep 0.05
            [[ $(cat "$s" 2>/dev/null) == "$line" ]] && return 0
        done
        sleep 0.01
    done
    return 1
}

# race NAME CONTENT KEPT: unloads under strace and, as barge sits in its rename
# into DEST/race, puts a file holding CONTENT at DEST/race/NAME (written aside,
# then renamed over the name, as an editor saves); then checks the file was
# kept, and that the unload says it kept KEPT files.
race() {
    local name=$1 content=$2 kept=$3 tracer rc=0
    strace -f -qq -o /dev/null -P "$RACE" -e trace=renameat,renameat2 \
        -e inject=renameat,renameat2:delay_enter=1000000 \
        "$BARGE" unload >"$T/out" 2>"$T/err" &
    tracer=$!
    if in_rename "$tracer"; then
        echo "$content" >"$T/foreign"
        mv "$T/foreign" "$RACE/$name"
    else
        kill "$tracer" 2>/dev/null || true
    fi
    wait "$tracer" || rc=$?
    [[ -e $T/foreign ]] && fail "$name: barge never sat in a rename into $RACE: $(cat "$T/out" "$T/err")"
    [[ $rc -eq 0 ]] || fail "$name: unload exited $rc: $(cat "$T/out" "$T/err")"
    [[ -s $T/err ]] && fail "$name: unload wrote to stderr: $(cat "$T/err")"
    expect_same_tree "$SRC" "$DST" "$name: after the race"
    grep -q "$kept replaced files\? kept in .barge/versions" "$T/out" ||
        fail "$name: not $kept files kept: $(cat "$T/out")"
    grep -rqx -- "$content" "$DST/.barge/versions" ||
        fail "$name: the file put there during the rename was not kept: $(find "$DST/.barge/versions" -type f)"
    # No second name of a kept file left in staging.
    [[ -z $(find "$DST/.barge/staging" -type f) ]] ||
        fail "$name: left in staging: $(find "$DST/.barge/staging" -type f)"
}

# 1. A changed file: its old version and the file put there are both kept.
echo "f v2" >"$SRC/race/f"
age "$SRC/race/f"
expect_exit 0 barge load
race f "foreign over f" 2
grep -rqx "f v1" "$DST/.barge/versions" || fail "f: its old version was not kept"

# 2. A new file, where nothing stood when barge looked.
echo "g" >"$SRC/race/g"
age "$SRC/race/g" "$SRC/race"
expect_exit 0 barge load
race g "foreign at g" 1

# 3. a renamed over b at the source: the destination's a is renamed to b.
mv "$SRC/race/a" "$SRC/race/b"
age "$SRC/race"
expect_exit 0 barge load
race b "foreign over b" 2
grep -rqx "b" "$DST/.barge/versions" || fail "b: its old version was not kept"

# 4. A hard link made at the source: linked at the destination.
ln "$SRC/race/x1" "$SRC/race/x2"
age "$SRC/race"
expect_exit 0 barge load
race x2 "foreign at x2" 1
[[ $(stat -c %i "$DST/race/x1") == $(stat -c %i "$DST/race/x2") ]] || fail "x2 is not a link of x1"

echo "ok: four files put at a name during barge's rename there were all kept"
