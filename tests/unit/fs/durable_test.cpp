#include "../test_dir.hpp"
#include "barge/fs/durable.hpp"
#include "barge/util/fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/vfs.h>
#include <unistd.h>

using namespace barge;

// The verify read of SPEC §7.1 must come from the medium: after the durability
// barrier, evict() must leave none of the file's pages in the page cache.
TEST(Durable, EvictDropsEveryPageOfASyncedFile) {
    TestDir dir;
    struct statfs sf{};
    ASSERT_EQ(::statfs(dir.path().c_str(), &sf), 0);
    if (sf.f_type == 0x01021994 /* TMPFS_MAGIC */ || sf.f_type == 0x858458f6 /* RAMFS */) {
        GTEST_SKIP() << dir.path() << " is in memory (tmpfs): its pages cannot be evicted";
    }
    std::string path = dir / "piece";
    Fd fd = open_or_throw(path, O_RDWR | O_CREAT, 0644);
    std::string data(8 << 20, 'x');
    write_full(fd.get(), data.data(), data.size(), path);
    uint64_t pages = data.size() / static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    EXPECT_EQ(resident_pages(fd.get(), data.size()), pages) << "just written: all cached";
    data_sync(fd.get(), path);
    evict(fd.get());
    EXPECT_EQ(resident_pages(fd.get(), data.size()), 0u) << "synced and evicted: nothing cached";
    std::string back(data.size(), '\0');
    ASSERT_EQ(pread_full(fd.get(), back.data(), back.size(), 0, path), back.size());
    EXPECT_EQ(back, data);
    EXPECT_EQ(resident_pages(fd.get(), data.size()), pages) << "the re-read came from the disk";
}
