#!/usr/bin/env bash
# Another program writes at the destination while unload delivers (SPEC §7.5:
# user data is never unlinked). Each unload runs under strace, which holds
# every rename into or out of DEST/race for a second; as barge sits in it,
# another program (this script) puts its own file at the very name barge is
# renaming to. That file must be kept in DEST/.barge/versions/, whatever the
# rename was:
#   1. a changed file delivered over the old one (the old one kept too);
#   2. a new file at a name where nothing stood when barge looked;
#   3. a file renamed at the source, over a name the destination holds
#      (delivered as a rename of the destination's copy);
#   4. a new hard link at the source (delivered as a link to the first name);
#   5. a new symlink at the source.
# Before renameat2's RENAME_EXCHANGE and RENAME_NOREPLACE, barge's plain
# rename replaced that file, and it was lost in 1 to 4. Every tree ends equal
# to the source. Then the unload is killed right after the exchange, before
# what came out of the name is dealt with (it waits in staging under a swap-
# name): 6. another program's file, which the next unload keeps in versions/;
# 7. the old version's second name, which the next unload removes, the version
# being in versions/ once; and before the exchange: 8. the new entry's second
# name, removed, nothing of it kept.
source "$(dirname "$0")/lib.sh"
need_strace_delays "to hold barge in a rename"
case $(uname -m) in
x86_64) renames="264 316" ;; # renameat, renameat2
aarch64) renames="38 276" ;;
*) skip "the rename system call numbers of $(uname -m) are not listed here" ;;
esac
sleep 5 &
probe=$!
cat "/proc/$probe/syscall" >/dev/null 2>&1 || skip "cannot read another process's /proc/PID/syscall here (ptrace restrictions)"
kill "$probe"
wait "$probe" 2>/dev/null || true

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
# sits in a rename for 50 ms (held by strace: only those into or out of
# DEST/race are);
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

# racing_unload NAME CONTENT [STRACE ARG...]: unloads under strace (holding
# each rename into DEST/race for a second: a renameat only with ON_RENAMEAT
# unset, else that is strace's injection for it; the ARGs added) and, as
# barge sits in its rename there, puts a file holding CONTENT at
# DEST/race/NAME (written aside, then renamed over the name, as an editor
# saves); sets rc.
racing_unload() {
    local name=$1 content=$2 tracer raced=no
    shift 2
    rc=0
    strace -f -qq -o /dev/null -P "$RACE" "$@" -e trace=renameat,renameat2 \
        -e inject=renameat2:delay_enter=1000000 -e inject=renameat:"${ON_RENAMEAT:-delay_enter=1000000}" \
        "$BARGE" unload >"$T/out" 2>"$T/err" &
    tracer=$!
    if in_rename "$tracer"; then
        echo "$content" >"$T/foreign"
        mv "$T/foreign" "$RACE/$name"
        raced=yes
    else
        kill "$tracer" 2>/dev/null || true
    fi
    { wait "$tracer"; } 2>/dev/null || rc=$? # no "Killed" from bash
    [[ $raced == yes ]] || fail "$name: barge never sat in a rename into $RACE: $(cat "$T/out" "$T/err")"
}

# race NAME CONTENT KEPT: racing_unload, then checks the file put there was
# kept, and that the unload says it kept KEPT files.
race() {
    local name=$1 content=$2 kept=$3
    racing_unload "$name" "$content"
    [[ $rc -eq 0 ]] || fail "$name: unload exited $rc: $(cat "$T/out" "$T/err")"
    [[ -s $T/err ]] && fail "$name: unload wrote to stderr: $(cat "$T/err")"
    expect_same_tree "$SRC" "$DST" "$name: after the race"
    grep -Eq "(^|[^0-9])$kept replaced files? kept in .barge/versions" "$T/out" ||
        fail "$name: not $kept files kept: $(cat "$T/out")"
    grep -rqx -- "$content" "$DST/.barge/versions" ||
        fail "$name: the file put there during the rename was not kept: $(find "$DST/.barge/versions" -type f)"
    # Nothing left in staging (what came out of the name, a second name).
    [[ -z $(find "$DST/.barge/staging" -mindepth 1) ]] ||
        fail "$name: left in staging: $(find "$DST/.barge/staging" -mindepth 1)"
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

# 3. a renamed over b at the source: the destination's a is renamed to b
#    (held first as a goes to its swap- name in staging, then in the exchange).
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

# 5. A new symlink.
ln -s x1 "$SRC/race/s"
age "$SRC/race"
expect_exit 0 barge load
race s "foreign at s" 1

# 6. Killed after the exchange, before another program's file that came out of
# f's name is kept: as its swap- name in staging is renamed to versions/ (the
# first renameat on staging or DEST/race: the new f got its swap- name by a
# hard link), and the next unload keeps it.
STAGING=$(realpath "$DST/.barge/staging")
echo "f v3" >"$SRC/race/f"
age "$SRC/race/f"
expect_exit 0 barge load
ON_RENAMEAT=signal=KILL:when=1 racing_unload f "foreign in the crash" -P "$STAGING"
[[ $rc -eq 137 ]] || fail "6: the unload was not killed (exit $rc): $(cat "$T/out" "$T/err")"
[[ $(cat "$STAGING"/swap-* 2>/dev/null) == "foreign in the crash" ]] ||
    fail "6: not killed with the other program's file in staging: $(ls -la "$STAGING")"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "6: after the next unload"
grep -rqx "foreign in the crash" "$DST/.barge/versions" || fail "6: the other program's file was not kept"
[[ -z $(find "$STAGING" -mindepth 1) ]] || fail "6: left in staging: $(find "$STAGING" -mindepth 1)"

# killed LABEL VERSION DIR SYSCALL WANT: f becomes VERSION at the source and is
# loaded; its unload is killed at the first SYSCALL on DIR (strace -P), which
# must leave WANT in staging under a swap- name with a second name; the next
# unload must leave staging empty and the tree exact.
killed() {
    local label=$1 version=$2 on=$3 call=$4 want=$5 rc=0
    echo "$version" >"$SRC/race/f"
    age "$SRC/race/f"
    expect_exit 0 barge load
    { strace -f -qq -o /dev/null -P "$on" -e trace="$call" -e inject="$call":signal=KILL:when=1 \
        "$BARGE" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
    [[ $rc -eq 137 ]] || fail "$label: the unload was not killed (exit $rc)"
    [[ $(cat "$STAGING"/swap-* 2>/dev/null) == "$want" && $(stat -c %h "$STAGING"/swap-*) == 2 ]] ||
        fail "$label: not killed with '$want' under two names in staging: $(ls -la "$STAGING")"
    expect_exit 0 barge unload
    expect_same_tree "$SRC" "$DST" "$label: after the next unload"
    [[ -z $(find "$STAGING" -mindepth 1) ]] || fail "$label: left in staging: $(find "$STAGING" -mindepth 1)"
}

# 7. Killed after the exchange, nobody else writing (as the new f's tmp- name
# goes, the first unlinkat on staging): the old version is in versions/, its
# second name in staging; the next unload removes that name.
killed 7 "f v4" "$STAGING" unlinkat "f v3"
[[ $(grep -rlx "f v3" "$DST/.barge/versions" | wc -l) == 1 ]] ||
    fail "7: f v3 is not in versions/ once: $(grep -rlx "f v3" "$DST/.barge/versions")"

# 8. Killed before the exchange (its renameat2 into DEST/race): the new f is
# under its tmp- and its swap- names; the next unload removes both and
# delivers it, nothing of it in versions/ (6's file is the one swap- name
# there).
killed 8 "f v5" "$RACE" renameat2 "f v5"
[[ $(find "$DST/.barge/versions" -name 'swap-*' | wc -l) == 1 && -z $(grep -rlx "f v5" "$DST/.barge/versions") ]] ||
    fail "8: the new f was kept in versions/: $(find "$DST/.barge/versions" -name 'swap-*')"

echo "ok: five files put at a name during barge's rename there, and one during a crash after it, were all kept"
