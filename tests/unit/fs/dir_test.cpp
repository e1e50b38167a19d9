#include "../test_dir.hpp"
#include "barge/fs/dir.hpp"
#include "barge/util/fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <ctime>
#include <unistd.h>

using namespace barge;

namespace {

struct stat lstat_of(const std::string& path) {
    struct stat st{};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st;
}

struct stat fstat_of(int fd) {
    struct stat st{};
    EXPECT_EQ(::fstat(fd, &st), 0);
    return st;
}

// The file's birth time, or -1 when the file system keeps none.
int64_t born_ns(const std::string& path) {
    struct statx sx{};
    if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) != 0 ||
        (sx.stx_mask & STATX_BTIME) == 0) {
        return -1;
    }
    return static_cast<int64_t>(sx.stx_btime.tv_sec) * 1'000'000'000 + sx.stx_btime.tv_nsec;
}

} // namespace

// Each parent is opened once while it stays the same, beneath the root and never
// through a symlink.
TEST(ParentDirs, OpensEachParentOnceAndNeverThroughASymlink) {
    TestDir dir;
    ASSERT_EQ(::mkdir((dir / "sub").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir / "sub/deeper").c_str(), 0755), 0);
    ASSERT_EQ(::symlink("sub", (dir / "link").c_str()), 0);
    Fd root = open_or_throw(dir.path(), O_PATH | O_DIRECTORY);
    ParentDirs parents(root.get(), O_PATH | O_DIRECTORY | O_NOFOLLOW);

    int top = parents.at("");
    ASSERT_GE(top, 0);
    EXPECT_EQ(fstat_of(top).st_ino, lstat_of(dir.path()).st_ino) << "\"\" is the root";
    int sub = parents.at("sub");
    ASSERT_GE(sub, 0);
    EXPECT_EQ(fstat_of(sub).st_ino, lstat_of(dir / "sub").st_ino);
    EXPECT_EQ(parents.at("sub"), sub) << "the same parent again: not opened again";
    int deeper = parents.at("sub/deeper");
    ASSERT_GE(deeper, 0);
    EXPECT_EQ(fstat_of(deeper).st_ino, lstat_of(dir / "sub/deeper").st_ino);
    EXPECT_EQ(parents.at("link"), -1) << "a symlink is not followed";
    EXPECT_EQ(parents.at("link/deeper"), -1) << "nor one on the way";
    EXPECT_EQ(parents.at("missing"), -1);
    EXPECT_EQ(parents.at(".."), -1) << "nothing above the root";
    sub = parents.at("sub");
    ASSERT_GE(sub, 0) << "after a failure, a parent that exists opens again";
    EXPECT_EQ(fstat_of(sub).st_ino, lstat_of(dir / "sub").st_ino);
}

// The rename rule's proof: the same inode, born no later than the old entry's
// ctime, under one name in the parent (docs/scan.md).
TEST(SameInodeLife, TheSameFileBornBeforeTheCtimeUnderOneName) {
    TestDir dir;
    ASSERT_EQ(::mkdir((dir / "sub").c_str(), 0755), 0);
    std::string f = dir / "sub/f";
    { Fd fd = open_or_throw(f, O_WRONLY | O_CREAT, 0644); }
    int64_t born = born_ns(f);
    if (born < 0) {
        GTEST_SKIP() << dir.path() << ": the file system keeps no birth time";
    }
    ASSERT_EQ(::symlink("f", (dir / "sub/s").c_str()), 0);
    struct stat st = lstat_of(f);
    auto ino = static_cast<uint64_t>(st.st_ino);
    auto dev = static_cast<uint64_t>(st.st_dev);
    int64_t ctime = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
    Fd root = open_or_throw(dir.path(), O_PATH | O_DIRECTORY);
    ParentDirs parents(root.get(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
    int sub = parents.at("sub");
    ASSERT_GE(sub, 0);

    EXPECT_TRUE(same_inode_life(sub, "f", ino, dev, ctime));
    EXPECT_TRUE(same_inode_life(sub, "f", ino, dev, born)) << "born at the ctime itself";
    EXPECT_FALSE(same_inode_life(sub, "f", ino, dev, born - 1)) << "born after the old entry's ctime";
    EXPECT_FALSE(same_inode_life(sub, "f", ino + 1, dev, ctime)) << "another inode";
    EXPECT_FALSE(same_inode_life(sub, "f", ino, dev + 1, ctime)) << "another device";
    EXPECT_FALSE(same_inode_life(sub, "s", ino, dev, ctime)) << "a symlink to it is not followed";
    EXPECT_FALSE(same_inode_life(sub, "missing", ino, dev, ctime));
    EXPECT_FALSE(same_inode_life(-1, "f", ino, dev, ctime)) << "no parent";
    // Names that are not one entry of the directory, each given what statx would
    // find there, so that only the name's check can fail them.
    EXPECT_FALSE(same_inode_life(root.get(), "sub/f", ino, dev, ctime)) << "not one component";
    auto now = static_cast<int64_t>(::time(nullptr) + 60) * 1'000'000'000;
    struct stat sub_st = lstat_of(dir / "sub");
    EXPECT_FALSE(same_inode_life(sub, ".", static_cast<uint64_t>(sub_st.st_ino), dev, now)) << "the directory itself";
    struct stat top_st = lstat_of(dir.path());
    EXPECT_FALSE(same_inode_life(sub, "..", static_cast<uint64_t>(top_st.st_ino), dev, now)) << "its parent";
    EXPECT_FALSE(same_inode_life(sub, "", static_cast<uint64_t>(sub_st.st_ino), dev, now)) << "no name";
}
