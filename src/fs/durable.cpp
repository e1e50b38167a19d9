#include "barge/fs/durable.hpp"

#include "barge/util/error.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <vector>

namespace barge {

void data_sync(int fd, std::string_view path) {
    if (::fdatasync(fd) != 0) {
        throw_errno("fdatasync", path);
    }
}

void full_sync(int fd, std::string_view path) {
    if (::fsync(fd) != 0) {
        throw_errno("fsync", path);
    }
}

void sync_file_system(int fd, std::string_view path) {
    if (::syncfs(fd) != 0) {
        throw_errno("syncfs", path);
    }
}

void start_writeback(int fd) {
    // Advice for throughput only; errors surface at the barrier that follows.
    ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

void evict(int fd) {
    // Advice, not a promise: the verify read re-checks the bytes whatever happens,
    // and tests measure with resident_pages() that eviction really took place.
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

uint64_t resident_pages(int fd, uint64_t size) {
    if (size == 0) {
        return 0;
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        throw_errno("mmap", "(resident_pages)");
    }
    long page = ::sysconf(_SC_PAGESIZE);
    size_t pages = (size + static_cast<uint64_t>(page) - 1) / static_cast<uint64_t>(page);
    std::vector<unsigned char> vec(pages);
    int rc = ::mincore(map, size, vec.data());
    ::munmap(map, size);
    if (rc != 0) {
        throw_errno("mincore", "(resident_pages)");
    }
    uint64_t n = 0;
    for (unsigned char v : vec) {
        n += v & 1u;
    }
    return n;
}

bool on_fuse(int fd) {
    struct statfs sf{};
    constexpr long fuse_super_magic = 0x65735546;
    return ::fstatfs(fd, &sf) == 0 && sf.f_type == fuse_super_magic;
}

} // namespace barge
