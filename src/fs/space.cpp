#include "barge/fs/space.hpp"

#include "barge/util/error.hpp"

#include <sys/statvfs.h>

namespace barge {

Space fs_space(const std::string& path) {
    struct statvfs sv{};
    if (::statvfs(path.c_str(), &sv) != 0) {
        throw_errno("statvfs", path);
    }
    // f_bavail, not f_bfree: root's reserved blocks are no room for barge.
    return {uint64_t{sv.f_blocks} * sv.f_frsize, uint64_t{sv.f_bavail} * sv.f_frsize};
}

} // namespace barge
