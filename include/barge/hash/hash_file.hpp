#pragma once

#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace barge {

// Reads an open file from offset 0 to its end, hashing it; returns the digest and
// sets bytes_read. buf is the caller's reusable read buffer (not empty).
Digest hash_fd(int fd, std::vector<char>& buf, uint64_t& bytes_read, std::string_view path);

} // namespace barge
