#pragma once

#include <cstdint>
#include <string>

namespace barge {

// Capacity and space available to an unprivileged writer, from statvfs.
struct Space {
    uint64_t capacity = 0;
    uint64_t available = 0;
};

// Throws SystemError naming the path.
Space fs_space(const std::string& path);

} // namespace barge
