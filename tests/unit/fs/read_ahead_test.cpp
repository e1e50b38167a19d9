#include "../test_dir.hpp"
#include "barge/fs/durable.hpp"
#include "barge/fs/read_ahead.hpp"
#include "barge/util/fd.hpp"

#include <chrono>
#include <fcntl.h>
#include <functional>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <thread>
#include <unistd.h>

using namespace barge;

namespace {

// Waits up to five seconds for done(); the read-ahead works on its own threads.
bool eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 500; ++i) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

// Writes a file, syncs it and drops its pages from the cache.
void write_cold(const std::string& path, size_t size) {
    Fd fd = open_or_throw(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    std::string data(size, 'r');
    write_full(fd.get(), data.data(), data.size(), path);
    data_sync(fd.get(), path);
    evict(fd.get());
}

bool on_disk(const TestDir& dir) {
    struct statfs sf{};
    return ::statfs(dir.path().c_str(), &sf) == 0 && sf.f_type != 0x01021994 /* TMPFS */ &&
           sf.f_type != 0x858458f6 /* RAMFS */;
}

} // namespace

// The point of it: a file's bytes are in the page cache before the reader opens it.
TEST(ReadAhead, BringsTheNextFilesIntoTheCache) {
    TestDir dir;
    if (!on_disk(dir)) {
        GTEST_SKIP() << dir.path() << " is in memory (tmpfs): nothing to read ahead";
    }
    const size_t size = 256 << 10;
    for (int i = 0; i < 5; ++i) {
        write_cold(dir / ("f" + std::to_string(i)), size);
    }
    Fd root = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    Fd probe = open_or_throw(dir / "f3", O_RDONLY);
    ASSERT_EQ(resident_pages(probe.get(), size), 0u) << "evicted before the test";
    ReadAhead ahead(root.get());
    for (int i = 0; i < 5; ++i) {
        ahead.add("f" + std::to_string(i), static_cast<int64_t>(size));
    }
    uint64_t pages = size / static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    EXPECT_TRUE(eventually([&] { return resident_pages(probe.get(), size) == pages; }))
        << "f3 has " << resident_pages(probe.get(), size) << " of " << pages << " pages cached";
    EXPECT_TRUE(eventually([&] { return ahead.advised() == 5; })) << ahead.advised();
}

// It stays a window ahead of the reader: no further, and on again as the reader moves.
TEST(ReadAhead, StaysWithinItsWindow) {
    TestDir dir;
    for (int i = 0; i < 10; ++i) {
        write_cold(dir / ("f" + std::to_string(i)), 100);
    }
    Fd root = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    ReadAhead ahead(root.get(), ReadAhead::Window{3, 1 << 20, 1 << 20, 2});
    for (int i = 0; i < 10; ++i) {
        ahead.add("f" + std::to_string(i), 100);
    }
    ASSERT_TRUE(eventually([&] { return ahead.advised() == 3; })) << ahead.advised();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(ahead.advised(), 3u) << "three files ahead of a reader that has not started";
    ahead.next();
    ahead.next();
    EXPECT_TRUE(eventually([&] { return ahead.advised() == 5; })) << ahead.advised();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(ahead.advised(), 5u);
    for (size_t k = 6; k <= 10; ++k) {
        ahead.next();
        EXPECT_TRUE(eventually([&] { return ahead.advised() == k; })) << ahead.advised() << " not " << k;
    }
}

// The byte window counts too: one file of the window's size fills it.
TEST(ReadAhead, StaysWithinItsBytes) {
    TestDir dir;
    for (int i = 0; i < 4; ++i) {
        write_cold(dir / ("f" + std::to_string(i)), 1000);
    }
    Fd root = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    ReadAhead ahead(root.get(), ReadAhead::Window{100, 2000, 1 << 20, 1});
    for (int i = 0; i < 4; ++i) {
        ahead.add("f" + std::to_string(i), 1000);
    }
    ASSERT_TRUE(eventually([&] { return ahead.advised() == 2; })) << ahead.advised();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(ahead.advised(), 2u) << "2000 bytes ahead";
    ahead.next();
    EXPECT_TRUE(eventually([&] { return ahead.advised() == 3; })) << ahead.advised();
}

// It only reads, and only regular files below its root: a FIFO (which would block
// an ordinary open), a symlink, a missing file, an empty file and a file larger
// than the window's largest are passed over, the files after them still read.
TEST(ReadAhead, PassesOverWhatItMustNotOpen) {
    TestDir dir;
    ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0644), 0);
    write_cold(dir / "target", 100);
    ASSERT_EQ(::symlink("target", (dir / "link").c_str()), 0);
    write_cold(dir / "empty", 0);
    write_cold(dir / "large", 5000);
    write_cold(dir / "last", 100);
    ASSERT_EQ(::mkdir((dir / "sub").c_str(), 0755), 0);
    Fd root = open_or_throw(dir / "sub", O_RDONLY | O_DIRECTORY);
    ReadAhead ahead(root.get(), ReadAhead::Window{100, 1 << 20, 4096, 2});
    for (const char* name : {"../fifo", "../target"}) {
        ahead.add(name, 100); // outside the root: refused
    }
    Fd top = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    ReadAhead inside(top.get(), ReadAhead::Window{100, 1 << 20, 4096, 2});
    inside.add("fifo", 100);
    inside.add("link", 100);
    inside.add("missing", 100);
    inside.add("empty", 0);
    inside.add("large", 5000);
    inside.add("last", 100);
    EXPECT_TRUE(eventually([&] { return inside.advised() == 1; })) << inside.advised();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(inside.advised(), 1u) << "only 'last' is a regular file to read ahead";
    EXPECT_EQ(ahead.advised(), 0u) << "nothing outside the root";
    struct stat st{};
    ASSERT_EQ(::lstat((dir / "fifo").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

// Destroyed with files still queued and the reader gone: it stops where it is
// (the threads waiting for room are woken and joined, nothing more is read).
TEST(ReadAhead, StopsWithWorkLeft) {
    TestDir dir;
    write_cold(dir / "f", 100);
    Fd root = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    auto started = std::chrono::steady_clock::now();
    {
        ReadAhead ahead(root.get(), ReadAhead::Window{1, 1 << 20, 1 << 20, 2});
        for (int i = 0; i < 1000; ++i) {
            ahead.add("f", 100);
        }
        ASSERT_TRUE(eventually([&] { return ahead.advised() == 1; })) << ahead.advised();
        ahead.next();
        ASSERT_TRUE(eventually([&] { return ahead.advised() == 2; })) << ahead.advised();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}
