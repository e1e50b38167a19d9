#pragma once

#include <cstdint>
#include <string>

namespace barge {

// What an entry is. Values are stored in the catalog: never renumber.
// fifo, chardev and blockdev are special files (SPEC §6), recreated with mknod.
enum class Kind : int { file = 1, dir = 2, symlink = 3, fifo = 4, chardev = 5, blockdev = 6 };

inline bool is_device(Kind k) {
    return k == Kind::chardev || k == Kind::blockdev;
}

// The metadata barge records and carries for one entry of a tree.
struct FileStat {
    Kind kind = Kind::file;
    uint32_t mode = 0; // permission bits only (07777)
    uint32_t uid = 0;
    uint32_t gid = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    uint64_t ino = 0;
    uint64_t dev = 0;
    std::string target; // symlink target, verbatim
    uint64_t rdev = 0;  // a device node's number
    // Extended attributes, as encode_xattrs writes them ("" when none): read by
    // the scan when the entry is new or its ctime changed.
    std::string xattrs;
};

// Same file, unchanged: size, mtime, ctime and inode all equal. A file whose
// stat passes this check before and after a read was not changed under it
// (SPEC §7.7), and one that passes it against the catalog needs no re-hash.
inline bool same_file_stat(const FileStat& a, const FileStat& b) {
    return a.size == b.size && a.mtime_ns == b.mtime_ns && a.ctime_ns == b.ctime_ns &&
           a.ino == b.ino;
}

// File-system timestamps can lag the clock by a tick (and by up to 2 s on FAT):
// a file whose mtime is within this margin of the moment it was read may still
// change without its stat changing, so its hash is re-checked on the next scan.
constexpr int64_t racy_margin_ns = 2'000'000'000;

} // namespace barge
