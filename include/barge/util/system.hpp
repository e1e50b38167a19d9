#pragma once

#include <cstddef>
#include <string>

namespace barge {

// The host name, for run records and the lock file ("unknown" if it cannot be read).
std::string host_name();

// This machine's identity for "where was this endpoint last seen" (SPEC §4):
// /etc/machine-id (systemd), else /var/lib/dbus/machine-id, else "host:" + the
// host name.
std::string machine_id();

// n random bytes from getrandom(2). Throws SystemError.
std::string random_bytes(size_t n);
// n random bytes as lower-case hex (2n characters): names of temporary files.
std::string random_hex(size_t n);

} // namespace barge
