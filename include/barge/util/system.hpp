#pragma once

#include <cstddef>
#include <string>

namespace barge {

// The host name, for run records and the lock file ("unknown" if it cannot be read).
std::string host_name();

// n random bytes from getrandom(2). Throws SystemError.
std::string random_bytes(size_t n);
// n random bytes as lower-case hex (2n characters): names of temporary files.
std::string random_hex(size_t n);

} // namespace barge
