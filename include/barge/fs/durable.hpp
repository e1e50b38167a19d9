#pragma once

#include <cstdint>
#include <string_view>

namespace barge {

// fdatasync(2), throwing SystemError naming the path. After a failure the data is
// in an unknown state: callers must rewrite it, never retry the sync and trust it.
void data_sync(int fd, std::string_view path);
// fsync(2): data and metadata (the inode's size, times, mode).
void full_sync(int fd, std::string_view path);
// syncfs(2) of the file system holding fd: one durability barrier for a batch.
// Since Linux 5.8 it reports writeback errors of any file on that file system.
void sync_file_system(int fd, std::string_view path);

// Starts writeback of the file's dirty pages without waiting (sync_file_range
// SYNC_FILE_RANGE_WRITE). Not a durability guarantee: a barrier must follow.
void start_writeback(int fd);
// Files at least this large start their writeback as soon as they are written
// (dirty memory stays bounded and the disk works while the next file is read).
inline constexpr int64_t start_writeback_from = 8ll << 20;

// Drops the file's clean pages from the page cache (POSIX_FADV_DONTNEED), so the
// next read comes from the medium. Dirty pages are not dropped: sync first.
void evict(int fd);

// How many of the file's pages are in the page cache (mincore over a mapping).
// For tests and benchmarks that prove a verify read reached the medium.
uint64_t resident_pages(int fd, uint64_t size);

// True when fd is on a FUSE file system (exfat-fuse): its eviction has limits,
// see docs/durability.md.
bool on_fuse(int fd);

} // namespace barge
