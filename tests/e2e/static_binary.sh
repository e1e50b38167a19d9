#!/usr/bin/env bash
# The static barge copied onto a drive (install-binary) runs a full unload on a
# machine without barge or its libraries: here, inside a chroot that holds
# nothing but the drive. A dynamically linked barge is refused as the binary to
# install. scripts/test builds the static barge (scripts/build-static) and
# passes it in BARGE_STATIC_BINARY.
source "$(dirname "$0")/lib.sh"
[[ -n ${BARGE_STATIC_BINARY:-} && -x ${BARGE_STATIC_BINARY:-} ]] ||
    skip "no static barge (BARGE_STATIC_BINARY; scripts/test builds one with scripts/build-static)"
need_root "chroot, to show the binary needs nothing from the system"

# The chroot holds the drive at /drive and receives the destination at /dst:
# the pair is recorded with the destination path as seen inside it.
ROOT=$T/root
DRIVE=$ROOT/drive
export BARGE_DRIVE=$DRIVE
mkdir -p "$ROOT" "$SRC"
make_varied_tree "$SRC"
barge init "$DRIVE" --piece-size 1M >/dev/null
barge pair add p "$SRC" /dst >/dev/null
expect_exit 0 barge load

# A dynamic barge would not run there: refused, nothing installed.
expect_exit 2 barge install-binary --from "$BARGE"
grep -q "dynamically linked" "$T/err" || fail "no reason given for refusing a dynamic binary"
[[ ! -e $DRIVE/bin/barge ]] || fail "a dynamic binary was installed"

expect_exit 0 barge --json install-binary --from "$BARGE_STATIC_BINARY"
expect_eq "$(b2sum "$BARGE_STATIC_BINARY" | cut -c1-128)" "$(json .binary.blake2b)" "hash of the installed binary"
cmp -s "$BARGE_STATIC_BINARY" "$DRIVE/bin/barge" || fail "installed binary differs from the static build"
[[ -x $DRIVE/bin/barge ]] || fail "installed binary is not executable"

# No /lib, no /usr, no /proc, no /etc in there: only what is on the drive.
expect_exit 0 chroot "$ROOT" /drive/bin/barge -d /drive unload
expect_same_tree "$SRC" "$ROOT/dst"
expect_exit 0 chroot "$ROOT" /drive/bin/barge -d /drive verify-destination
# The catalog written by the static barge is read by the installed one.
expect_exit 0 barge --json status
expect_eq 0 "$(json '.pairs[0].pending.files + .pairs[0].on_cargo.files')" "nothing left to deliver"
echo ok
