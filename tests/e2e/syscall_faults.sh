#!/usr/bin/env bash
# Failing system calls (issue 5, 2): with strace fault injection, pwrite64, fsync,
# fdatasync, syncfs, rename and close fail with EIO or ENOSPC at chosen points of
# load and of unload. barge never reports success for what failed: it exits
# non-zero naming a path, and whatever the catalog records afterwards is true
# (every piece it puts on the cargo verifies, every file it calls delivered
# verifies at the destination). A failed fsync is never retried and trusted:
# what it covered is written again by a later run. Then normal runs converge.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || skip "strace is not installed"
no_leak_check_under_strace
strace -f -qq -o /dev/null -e inject=getpid:error=EIO:when=1 true 2>/dev/null ||
    skip "strace cannot inject faults here (ptrace not permitted?)"

PIECE_SIZE=256K setup_pair --mass-change-limit 100
mkdir -p "$SRC/a" "$SRC/b"
for i in $(seq 1 40); do echo "small file $i" >"$SRC/a/s$i"; done
for i in 1 2; do head -c 700000 /dev/urandom >"$SRC/b/big$i"; done
age "$SRC"/a/* "$SRC"/b/*

fired=0
# fault SYSCALL ERRNO N COMMAND...: barge COMMAND with the Nth SYSCALL failing.
fault() {
    local sc=$1 err=$2 n=$3 rc=0
    shift 3
    strace -f -qq -y -o "$T/strace" -e trace="$sc" -e inject="$sc":error="$err":when="$n" \
        "$BARGE" "$@" >"$T/out" 2>"$T/err" || rc=$?
    if ! grep -q "= -1 $err (.*) (INJECTED)" "$T/strace"; then
        echo "note: $sc #$n was not reached by '$*'" >&2
        return 0
    fi
    fired=$((fired + 1))
    # The log file and the endpoints' notes of the drive (docs/recovery.md) are
    # advice: a failure there is a warning naming the file, not a failed run.
    # (A failed close of the .barge directory itself, only listed, is harmless:
    # nothing to warn of. Which call is the Nth close moves as the code does.)
    local hit advice=(-e "logs/barge.log" -e "/.barge/drive-" -e "/.barge/catalog-")
    [[ $sc == close ]] || advice+=(-e "/.barge>")
    hit=$(grep "(INJECTED)" "$T/strace")
    if [[ $rc -eq 0 ]] && grep -q "${advice[@]}" <<<"$hit"; then
        grep -q -e "LOG ERROR" -e "warning" "$T/err" || fail "no warning after $sc #$n failed: $hit"
        return 0
    fi
    # strace counts calls per thread, and close(2) of a file only read (a source
    # file, a verify read) failing is harmless: for close, what matters is that
    # the catalog stays true (checked by the caller) — a close of a piece barge
    # wrote is checked before the piece is renamed into place.
    if [[ $sc == close && $rc -eq 0 ]]; then
        return 0
    fi
    [[ $rc -ne 0 ]] || fail "'$*' exited 0 although $sc #$n failed with $err"
    [[ $rc -eq 1 || $rc -eq 3 ]] || fail "'$*' exited $rc after $sc #$n failed ($err): expected 1 or 3"
    grep -q -e "$DRIVE" -e "$DST" -e "$SRC" -e "catalog" "$T/err" "$T/out" ||
        fail "no path named after $sc #$n failed: $(cat "$T/err")"
}

# consistent: the catalog is intact and says only true things.
consistent() {
    expect_eq ok "$(sql 'PRAGMA integrity_check')" "catalog integrity after $1"
    expect_exit 0 barge verify-middle
    if [[ -d $DST/.barge ]]; then
        expect_exit 0 barge verify-destination
    fi
}

# Each case starts with everything still to do: a fresh drive (and destination).
fresh() {
    rm -rf "$DRIVE" "$DST" "$SRC/.barge"
    barge init "$DRIVE" --piece-size 256K >/dev/null
    barge pair add p "$SRC" "$DST" --mass-change-limit 100 >/dev/null
}

# (Plain write(2) is only the log's, and under AddressSanitizer the sanitizer's
# own pipe: data goes through pwrite64.)
for spec in "pwrite64 EIO 3" "pwrite64 ENOSPC 20" "pwrite64 EIO 60" "syncfs EIO 1" "syncfs EIO 2" \
            "fdatasync EIO 1" "fdatasync EIO 3" "renameat EIO 5" "rename EIO 1" "close EIO 30" \
            "fsync EIO 1"; do
    fresh
    fault $spec load
    consistent "load with $spec"
    expect_exit 0 barge load # a normal run afterwards completes what failed
    consistent "the load after $spec"
done

for spec in "pwrite64 EIO 5" "pwrite64 ENOSPC 30" "syncfs EIO 1" "syncfs EIO 2" "fdatasync EIO 1" \
            "renameat2 EIO 3" "renameat2 EIO 12" "close EIO 40" "mkdirat EIO 2" "fsync EIO 1"; do
    fresh
    expect_exit 0 barge load
    fault $spec unload
    consistent "unload with $spec"
    expect_exit 0 barge unload
    expect_same_tree "$SRC" "$DST" "after unload with $spec, then a normal one"
done
((fired >= 14)) || fail "only $fired injected faults fired: the test lost its teeth"
echo "ok ($fired faults injected)"
