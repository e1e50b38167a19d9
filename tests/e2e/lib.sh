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
# Saved keys of encrypted drives are listed here, never in the machine's own list.
export BARGE_STATE_DIR=$T/state
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

# flip_byte FILE OFFSET: inverts one byte in place (a change whatever it held).
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [[ -n $b ]] || fail "flip_byte: $1 has no byte at $2"
    printf "\\$(printf '%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# freeze_holder RECORD_PATTERN ARGS...: starts barge ARGS in the background and
# freezes it (SIGSTOP) once it holds the drive lock (it then writes its pid into
# the lock file; probing with flock(1) would take the lock itself for a moment)
# and the lock's record of what it is doing matches RECORD_PATTERN (grep -E).
# Its pid is in $frozen; kill_frozen ends it without a chance to clean up.
freeze_holder() {
    local pattern=$1
    shift
    "$BARGE" "$@" >/dev/null 2>&1 &
    frozen=$!
    on_exit "kill -9 $frozen 2>/dev/null"
    for _ in $(seq 1 400); do
        grep -q "pid $frozen " "$DRIVE/barge.lock" 2>/dev/null && grep -Eq "$pattern" "$DRIVE/barge.lock" && break
        sleep 0.025
    done
    kill -STOP "$frozen" || fail "barge $* ended before it could be frozen"
    grep -q "pid $frozen " "$DRIVE/barge.lock" || fail "barge $* never took the lock"
}
kill_frozen() {
    kill -9 "$frozen"
    kill -CONT "$frozen" 2>/dev/null || true
    wait "$frozen" 2>/dev/null || true
}

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
# catalog_sql DB SQL: an edit of a catalog as a hostile or careless hand would make
# it, through the page checksum shim (sqlite3 would leave pages barge refuses).
: "${BARGE_CATALOG_SQL:=$(dirname "$BARGE")/tests/barge-catalog-sql}"
catalog_sql() { "$BARGE_CATALOG_SQL" "$1" "$2"; }
# sql_write SQL: the same on the drive's catalog.
sql_write() { catalog_sql "$DRIVE/barge.db" "$1"; }

# LeakSanitizer cannot run under ptrace: scenarios that run barge under strace
# call this first (the others, and the unit tests, keep leak checking).
no_leak_check_under_strace() { export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"; }
# wait_traced_open TRACER PATH [POS]: waits (up to 60 s) until the process that
# strace TRACER runs holds PATH open, with its position past POS when given
# (it has read from it); returns 1 if it never does.
wait_traced_open() {
    local tracer=$1 path=$2 min=${3:-} pid fd pos i
    for ((i = 0; i < 6000; i++)); do
        pid=$(pgrep -P "$tracer" | head -1) || true
        for fd in /proc/${pid:-none}/fd/*; do
            [[ $(readlink "$fd" 2>/dev/null) == "$path" ]] || continue
            [[ -z $min ]] && return 0
            pos=$(awk '/^pos:/ {print $2}' "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null) || true
            ((${pos:-0} > min)) && return 0
        done
        sleep 0.01
    done
    return 1
}
# need_strace_kills: skips unless strace can kill barge at a chosen system
# call here; then turns leak checking off.
need_strace_kills() {
    command -v strace >/dev/null || skip "strace is not installed"
    strace -f -qq -o /dev/null -e inject=getpid:error=EIO:when=1 true 2>/dev/null ||
        skip "strace cannot inject signals here (ptrace not permitted?)"
    no_leak_check_under_strace
}
# need_user: as root, runs as_user CMD... as uid 65534 (setpriv); skips where
# that cannot be done or that user cannot run $BARGE.
need_user() {
    need_root "switching to an unprivileged user with setpriv"
    command -v setpriv >/dev/null || skip "setpriv is not installed"
    as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
    chmod 755 "$T"
    as_user test -x "$BARGE" || skip "the unprivileged user cannot run $BARGE"
}
# Random histories (random_history.sh, random_rotation.sh). history_kills:
# kills=yes when strace can kill barge at a chosen system call here (leak
# checking then off), else kills=no (every unload then runs to its end).
history_kills() {
    kills=yes
    if ! command -v strace >/dev/null || ! strace -f -qq -o /dev/null -e inject=getpid:error=EIO:when=1 true 2>/dev/null; then
        kills=no
    else
        no_leak_check_under_strace
    fi
}
# history_failed WHAT: prints the whole history ($T/history), copies the trees
# and the drives to $BARGE_HISTORY_KEEP if set, and fails round $round.
history_failed() {
    local x
    for x in "$SRC" "$DST"; do # hidden by random_rotation.sh's apart mode
        [[ ! -e $x.away ]] || mv "$x.away" "$x"
    done
    cat "$T/history" >&2
    [[ -z ${BARGE_HISTORY_KEEP:-} ]] || { rm -rf "$BARGE_HISTORY_KEEP"; cp -a "$T" "$BARGE_HISTORY_KEEP"; }
    fail "round $round (seed $seed): $1"
}
# history_killed_unload LABEL [ARG...]: `barge ARG... unload` killed at one of
# the first six calls of a random renameat, renameat2, mkdirat or syncfs (it
# may end before); logged in the history; fails unless it exited 0 or 137.
history_killed_unload() {
    local label=$1 call rc=0
    shift
    call=$(printf '%s\n' renameat renameat2 mkdirat syncfs | sed -n "$((RANDOM % 4 + 1))p")
    { strace -f -qq -o /dev/null -e trace="$call" -e inject="$call:signal=KILL:when=$((RANDOM % 6 + 1))" \
        "$BARGE" "$@" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
    echo "$label, killed at a $call: exit $rc" >>"$T/history"
    [[ $rc == 0 || $rc == 137 ]] || history_failed "$label, to be killed at a $call, exited $rc"
}

# A program that runs beside barge until its stop file exists (live_mutator.pl,
# dest_writer.pl), one at a time. beside WHAT STOPFILE CMD...: starts CMD in
# the background; stop_beside: creates the stop file and waits for it, failing
# the test (naming WHAT) if it failed. Also run at exit: it never outlives the
# test.
BESIDE_PID= BESIDE_STOP= BESIDE_WHAT= BESIDE_AT_EXIT=
beside() {
    BESIDE_WHAT=$1 BESIDE_STOP=$2
    shift 2
    rm -f "$BESIDE_STOP"
    "$@" &
    BESIDE_PID=$!
    [[ -n $BESIDE_AT_EXIT ]] || { on_exit stop_beside; BESIDE_AT_EXIT=1; }
}
stop_beside() {
    [[ -n $BESIDE_PID ]] || return 0
    local pid=$BESIDE_PID
    BESIDE_PID=
    touch "$BESIDE_STOP"
    wait "$pid" || fail "$BESIDE_WHAT failed"
}

# need_strace_delays [NOTE]: skips (NOTE added to the reason) unless strace can
# slow barge's system calls here; then turns leak checking off.
need_strace_delays() {
    command -v strace >/dev/null || skip "strace is not installed${1:+ ($1)}"
    strace -f -qq -o /dev/null -e inject=getpid:delay_enter=1 true 2>/dev/null ||
        skip "strace cannot inject delays here${1:+ ($1)}"
    no_leak_check_under_strace
}

# exfat_mount NAME: a 64 MiB exFAT file system (exfat-fuse on a loop device) at
# $T/NAME, unmounted and detached at exit; skips with the reason when it cannot.
exfat_mount() {
    local name=$1 loop
    need_root "mounting a FUSE file system"
    command -v mount.exfat-fuse >/dev/null || skip "exfat-fuse is not installed"
    command -v mkfs.exfat >/dev/null || skip "mkfs.exfat is not installed (exfatprogs)"
    [[ -e /dev/fuse ]] || skip "no /dev/fuse"
    truncate -s 64M "$T/$name.img"
    mkfs.exfat "$T/$name.img" >/dev/null
    mkdir "$T/$name"
    # exfat-fuse wants a block device, not an image file.
    loop=$(losetup -f --show "$T/$name.img" 2>/dev/null) || skip "no loop device available"
    on_exit "losetup -d $loop"
    mount.exfat-fuse "$loop" "$T/$name" >/dev/null 2>&1 || skip "cannot mount exfat-fuse here"
    on_exit "umount '$T/$name'"
    [[ $(stat -f -c %T "$T/$name") == fuseblk ]] || fail "$T/$name is not the exFAT mount"
}

# Where a file's data and holes lie: "DATA 0 HOLE 65536 DATA 819200 ..." by
# SEEK_DATA/SEEK_HOLE (data_maps, for one file). Two files with the same map
# have the same holes, whatever blocks the file system spent on its own
# bookkeeping (an ext4 extent-tree block counts in stat %b and depends on how the
# allocator split the data, not on the holes).
data_map() {
    printf '%s\0' "$1" | data_maps | tr '\0' '\n' | sed -n 2p
}

need_root() { [[ $(id -u) -eq 0 ]] || skip "needs root ($1)"; }

# A manifest of a tree for byte-for-byte comparison: one line per entry (but the
# root and .barge), with type, mode, owner, mtime in ns, size, and the BLAKE2b of
# a file's bytes or a symlink's target. Names are printed as they are (both sides
# are printed the same way). MANIFEST_BLOCKS=1 adds each file's data map (where
# its data and its holes lie, by SEEK_DATA/SEEK_HOLE: data_maps).
# The files are hashed by one b2sum per 5,000 files (--zero: names unescaped),
# their data maps found by one perl, and the lines put together by another: not
# one process per file, nor a shell loop per entry (slow at tens of thousands).
# A step that fails prints a line no other manifest has ("~manifest: ..."), so
# the comparison fails saying why, whether errexit is on (expect_same_tree) or
# off (inside $(...)).
manifest() {
    local root=$1 hashes maps=
    # Made before the cd, and absolute: the steps below run inside the tree.
    hashes=$(realpath -- "$(mktemp "$T/manifest.XXXXXX")")
    [[ -z ${MANIFEST_BLOCKS:-} ]] || maps=$(realpath -- "$(mktemp "$T/manifest.XXXXXX")")
    (
        cd "$root"
        find . -mindepth 1 -path ./.barge -prune -o -type f -print0 |
            xargs -0 -r -n 5000 b2sum --zero >"$hashes" ||
            echo "~manifest: hashing the files failed ($SRANDOM$SRANDOM)"
        if [[ -n $maps ]]; then
            find . -mindepth 1 -path ./.barge -prune -o -type f -print0 | data_maps >"$maps" ||
                echo "~manifest: the data maps failed ($SRANDOM$SRANDOM)"
        fi
        # Each entry: its name and its line so far, each ended by a NUL; printed
        # with the first 32 hex digits of its hash (a file), and its data map
        # after a '|' (MANIFEST_BLOCKS, a file that is not a symlink).
        find . -mindepth 1 -path ./.barge -prune -o \( \
            -type f -printf '%p\0%P|%y|%m|%u:%g|%T@|%s|\0' -o \
            -type l -printf '%p\0%P|%y|%m|%u:%g|%T@|%l\0' -o \
            -printf '%p\0%P|%y|%m|%u:%g|%T@|dir\0' \) |
            perl -0 -e '
                my ($hashes, $maps) = @ARGV;
                my (%hash, %map);
                open(my $h, "<", $hashes) or die "$hashes: $!\n";
                while (my $l = <$h>) { chomp $l; $hash{substr($l, 130)} = substr($l, 0, 32) }
                if ($maps ne "") {
                    open(my $m, "<", $maps) or die "$maps: $!\n";
                    while (defined(my $p = <$m>)) { my $v = <$m>; chomp $p; chomp $v; $map{$p} = $v }
                }
                while (defined(my $p = <STDIN>)) {
                    my $meta = <STDIN>;
                    chomp $p;
                    chomp $meta;
                    my $line = $meta . ($hash{$p} // "");
                    $line .= "|" . ($map{$p} // "") if $maps ne "" && -f $p && !-l $p;
                    print "$line\n";
                }' "$hashes" "$maps" | LC_ALL=C sort ||
            echo "~manifest: listing the entries failed ($SRANDOM$SRANDOM)"
        rm -f "$hashes" ${maps:+"$maps"}
        # MANIFEST_XATTRS=1: a line for each extended attribute of each entry
        # (getfattr, every namespace it can read), each line of its ACL (getfacl,
        # not of a symlink) and a device's number. Both tools run over many
        # paths at once and name each entry as they print it ("# file: ./a",
        # escaped the same way in both trees). Either tool exits 1 for a path it
        # cannot read, which xargs reports as 123 (as it does any status from 1
        # to 125); dying (xargs: 124, 125) or missing (127) prints a line no
        # other manifest has, so the comparison fails saying why.
        [[ -n ${MANIFEST_XATTRS:-} ]] || return 0
        all_of() {
            local rc=0
            xargs -0 -r "$@" 2>/dev/null || rc=$?
            ((rc == 0 || rc == 123)) || echo "~manifest: $1 exited $rc ($SRANDOM$SRANDOM)"
        }
        {
            find . -mindepth 1 -path ./.barge -prune -o -print0 |
                all_of getfattr -h -d -m - -e hex --absolute-names -- |
                awk '/^~manifest: / { print; next } /^# file: / { f = substr($0, 9); next } /./ { print f "|xattr|" $0 }'
            find . -mindepth 1 -path ./.barge -prune -o -print0 |
                all_of getfacl -pEP -- |
                awk '/^~manifest: / { print; next } /^# file: / { f = substr($0, 9); next } /./ { print f "|acl|" $0 }'
            find . -mindepth 1 -path ./.barge -prune -o \( -type b -o -type c \) -printf '%p|rdev|' \
                -exec stat -c '%t:%T' -- {} \;
        } | LC_ALL=C sort
    )
}

# data_maps: for each NUL-ended file name read, the name and its data map
# ("DATA 0 HOLE 65536 DATA 131072", the holes and data from offset 0 on, found
# by SEEK_DATA (3) and SEEK_HOLE (4)), each ended by a NUL.
data_maps() {
    perl -0 -e '
        while (defined(my $p = <STDIN>)) {
            chomp $p;
            open(my $f, "<", $p) or die "$p: $!\n";
            my ($pos, $size, @map) = (0, -s $f);
            while ($pos < $size) {
                my $data = sysseek($f, $pos, 3);
                if (!defined $data) { # ENXIO: a hole to the end
                    $!{ENXIO} or die "$p: $!\n";
                    push @map, "HOLE $pos";
                    last;
                }
                push @map, "HOLE $pos" if $data > $pos;
                push @map, "DATA " . ($data + 0);
                my $hole = sysseek($f, $data, 4);
                defined $hole or die "$p: SEEK_HOLE: $!\n";
                $pos = $hole + 0;
            }
            print "$p\0", join(" ", @map), "\0";
        }'
}

# Fails unless the destination tree equals the source tree, byte for byte.
# The manifest with link groups: each file's inode number replaced by the
# first name (in byte order) that shares it, within its tree
# (names with a newline are not expected).
link_groups() {
    (cd "$1" && find . -path ./.barge -prune -o -type f -printf '%i %P\n' | LC_ALL=C sort -k2 |
        awk '{ if (!($1 in first)) first[$1] = $2; print $2 " -> " first[$1] }' | LC_ALL=C sort)
}
# same_links A B: whether trees A and B have the same link groups; what
# differs goes to stderr.
same_links() {
    link_groups "$1" >"$T/links.a" && link_groups "$2" >"$T/links.b"
    cmp -s "$T/links.a" "$T/links.b" && return 0
    diff "$T/links.a" "$T/links.b" >&2 || true
    return 1
}

expect_same_tree() {
    manifest "$1" >"$T/manifest.src"
    manifest "$2" >"$T/manifest.dst"
    if ! cmp -s "$T/manifest.src" "$T/manifest.dst"; then
        # Not "diff | head" under pipefail: diff's exit 1 would end the script
        # before fail says what differs.
        diff "$T/manifest.src" "$T/manifest.dst" >"$T/manifest.diff" || true
        head -20 "$T/manifest.diff" >&2
        fail "${3:-trees differ}: $1 vs $2"
    fi
    [[ -s $T/manifest.src ]] || fail "empty manifest for $1"
}

# Several drives in one scenario (rotation.sh, rotation_faults.sh).
declare -A ID # drive directory -> drive id

# init_encrypted DIR: an encrypted drive at DIR (passphrase from
# $BARGE_PASSPHRASE_FILE; the key derivation kept cheap for tests).
init_encrypted() {
    expect_exit 0 barge init "$1" --encrypt --kdf-memory 8KiB --kdf-passes 1 --piece-size 1M
    [[ -f $1/barge.key ]] || fail "$1 is not encrypted: no barge.key"
}
# all_copies_read: returns 1 (printing its output) unless the run just made
# ($T/out, $T/err) read every other drive's catalog copy it found (a sealed one
# needs the key saved at the endpoint: an unread copy is only a note).
all_copies_read() {
    ! grep -q "could not be read from" "$T/out" "$T/err" || { cat "$T/out" "$T/err" >&2; return 1; }
}

# mkdrive DIR: a fresh drive; its id in ID[DIR].
mkdrive() {
    expect_exit 0 barge --json init "$1" --piece-size 1M
    ID[$1]=$(json .drive_id)
    [[ -n ${ID[$1]} && ${ID[$1]} != null ]] || fail "init $1 gave no drive id"
}

# settle: gives every entry of $SRC changed since the last settle an old mtime,
# distinct per round (a new version never shares its predecessor's mtime), so
# that no hash is racy and every drive can share it. Reset ROUND=0 with a new source.
ROUND=0
settle() {
    ROUND=$((ROUND + 1))
    find "$SRC" -mindepth 1 -path "$SRC/.barge" -prune -o -newermt '2024-06-01' \
        -exec touch -h -d "@$((1704067200 + ROUND * 60))" {} +
}

# rnd FILE SIZE: FILE gets SIZE random bytes.
rnd() {
    mkdir -p "$(dirname "$1")"
    head -c "$2" /dev/urandom >"$1"
}

# A varied source tree: odd names, modes, empty dirs and files, symlinks,
# duplicates, and a file of several pieces (with PIECE_SIZE=1M).
make_varied_tree() {
    local s=$1
    mkdir -p "$s/photos/2024" "$s/empty/nested-empty" "$s/docs"
    head -c 2500000 /dev/urandom >"$s/photos/2024/big.raw" # 3 pieces of 1 MiB
    head -c 70000 /dev/urandom >"$s/photos/2024/a.jpg"
    cp "$s/photos/2024/a.jpg" "$s/photos/dup-of-a.jpg"
    printf 'hello\n' >"$s/docs/readme.txt"
    chmod 600 "$s/docs/readme.txt"
    printf '#!/bin/sh\necho hi\n' >"$s/docs/run.sh"
    chmod 755 "$s/docs/run.sh"
    : >"$s/empty-file"
    printf 'nl' >"$s/docs/"$'new\nline'
    printf 'bad' >"$s/docs/"$'bad\xff'
    printf 'dash' >"$s/docs/-rf"
    printf 'long' >"$s/docs/$(printf 'L%.0s' $(seq 1 255))"
    ln -s photos/2024/a.jpg "$s/link-to-a"
    ln -s /nonexistent/target "$s/docs/dangling"
    chmod 700 "$s/docs"
    touch -h -d '2023-05-06 07:08:09.123456789' "$s/link-to-a"
    find "$s" -mindepth 1 -not -type l -exec touch -d '2024-02-03 04:05:06.987654321' {} +
}
