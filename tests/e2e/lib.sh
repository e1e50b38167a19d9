# Shared helpers for the end-to-end scenarios. Each scenario sources this file,
# gets a fresh temporary directory in $T with $SRC, $DRIVE and $DST inside, and
# runs the binary named by $BARGE (set by ctest).
set -euo pipefail

: "${BARGE:?BARGE must name the barge binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/barge-e2e.XXXXXX")
SRC=$T/src
DRIVE=$T/drive
DST=$T/dst
export LC_ALL=C
export BARGE_DRIVE=$DRIVE
CLEANUPS=()
cleanup() {
    local i
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUPS[i]}" || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
on_exit() { CLEANUPS+=("$1"); }

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

barge() { "$BARGE" "$@"; }

# expect_exit CODE COMMAND...: runs COMMAND and fails unless it exits with CODE.
# Its stdout is left in $T/out and its stderr in $T/err.
expect_exit() {
    local want=$1
    shift
    local got=0
    "$@" >"$T/out" 2>"$T/err" || got=$?
    if [[ $got -ne $want ]]; then
        echo "--- stdout" >&2
        cat "$T/out" >&2
        echo "--- stderr" >&2
        cat "$T/err" >&2
        fail "'$*' exited $got, expected $want"
    fi
}

# expect_eq WANT GOT WHAT
expect_eq() {
    [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

# The JSON value at a jq path in $T/out.
json() { jq -r "$1" <"$T/out"; }

# Sets an old mtime so files are not "racy" (too recent to trust their stat).
age() { touch -d '2024-01-01 12:00:00' "$@"; }

# A fresh source with a marker-bearing pair "p" on a fresh drive.
# Extra arguments go to `pair add`.
setup_pair() {
    mkdir -p "$SRC"
    barge init "$DRIVE" --piece-size "${PIECE_SIZE:-1M}" >/dev/null
    barge pair add p "$SRC" "$DST" "$@" >/dev/null
}

# Runs a read-only SQL query against the catalog.
sql() { sqlite3 -readonly "$DRIVE/barge.db" "$1"; }

need_root() { [[ $(id -u) -eq 0 ]] || skip "needs root ($1)"; }
