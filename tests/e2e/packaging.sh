#!/usr/bin/env bash
# `cmake --install` puts the binary, the man page, the docs and the examples in
# place, and CPack builds a .deb holding the same with its library dependencies.
source "$(dirname "$0")/lib.sh"
build=$(dirname "$BARGE")
[[ -f $build/cmake_install.cmake ]] || skip "BARGE is not in a CMake build directory"

cmake --install "$build" --prefix "$T/inst" >/dev/null
for f in bin/barge share/man/man1/barge.1 share/doc/barge/user-guide.md \
         share/doc/barge/json.md share/doc/barge/architecture.md \
         share/doc/barge/examples/crontab share/doc/barge/examples/two-pairs.sh \
         share/doc/barge/examples/barge-load.timer share/doc/barge/examples/99-barge.rules; do
    [[ -s $T/inst/$f ]] || fail "cmake --install did not install $f"
done
[[ -x $T/inst/share/doc/barge/examples/two-pairs.sh ]] || fail "example script lost its mode"
"$T/inst/bin/barge" --version | grep -q '^barge ' || fail "installed barge does not run"
if command -v man >/dev/null; then
    MANWIDTH=80 man -l "$T/inst/share/man/man1/barge.1" 2>"$T/manerr" | grep -q "install-binary" ||
        fail "man page does not render: $(cat "$T/manerr")"
fi

command -v cpack >/dev/null || skip "cpack is not installed"
command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed"
(cd "$build" && cpack -G DEB -B "$T/pkg" >/dev/null 2>"$T/cpack.err") || fail "cpack failed: $(cat "$T/cpack.err")"
deb=$(ls "$T"/pkg/barge_*.deb)
dpkg-deb -c "$deb" >"$T/contents"
for f in ./usr/bin/barge ./usr/share/man/man1/barge.1 ./usr/share/doc/barge/user-guide.md \
         ./usr/share/doc/barge/examples/barge-unload.service; do
    grep -q " $f\$" "$T/contents" || fail ".deb lacks $f"
done
dpkg-deb -f "$deb" Depends | grep -q libsqlite3 || fail ".deb does not depend on libsqlite3: $(dpkg-deb -f "$deb" Depends)"
echo ok
