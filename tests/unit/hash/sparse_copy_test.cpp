#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace barge;

namespace {

// Records what copy_through hands it: bytes written and holes left.
class RecordingSink : public ByteSink {
public:
    std::string content;
    std::vector<std::pair<int64_t, int64_t>> holes; // offset, length (merged)
    void write_at(const char* buf, size_t n, int64_t offset) override {
        grow(offset + static_cast<int64_t>(n));
        content.replace(static_cast<size_t>(offset), n, buf, n);
    }
    void hole_at(size_t n, int64_t offset) override {
        grow(offset + static_cast<int64_t>(n));
        if (!holes.empty() && holes.back().first + holes.back().second == offset) {
            holes.back().second += static_cast<int64_t>(n);
        } else {
            holes.emplace_back(offset, static_cast<int64_t>(n));
        }
    }

private:
    void grow(int64_t end) {
        if (static_cast<int64_t>(content.size()) < end) {
            content.resize(static_cast<size_t>(end), '\0');
        }
    }
};

struct TempPath {
    std::string path;
    TempPath() {
        char tmpl[] = "/tmp/barge-sparse-XXXXXX";
        int fd = ::mkstemp(tmpl);
        ::close(fd);
        path = tmpl;
    }
    ~TempPath() { ::unlink(path.c_str()); }
};

void write_at(int fd, const std::string& data, off_t at) {
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), at), static_cast<ssize_t>(data.size()));
}

} // namespace

// A sparse file is copied with its holes handed to the sink as holes (never as
// written zeros), and hashed as its full content.
TEST(SparseCopy, HolesReachTheSinkAsHolesAndAreHashedAsZeros) {
    TempPath tmp;
    int fd = ::open(tmp.path.c_str(), O_RDWR | O_TRUNC);
    ASSERT_GE(fd, 0);
    constexpr int64_t mib = 1 << 20;
    std::string a(3 * mib + 4096, 'a'), b(8192, 'b');
    write_at(fd, a, 2 * mib);      // data at [2 MiB, 5 MiB + 4 KiB)
    write_at(fd, b, 9 * mib);      // data at [9 MiB, 9 MiB + 8 KiB)
    ASSERT_EQ(::ftruncate(fd, 12 * mib), 0); // a hole to the end
    struct stat st{};
    ASSERT_EQ(::fstat(fd, &st), 0);
    if (st.st_blocks * 512 >= st.st_size) {
        ::close(fd);
        GTEST_SKIP() << "the file system of /tmp does not keep holes";
    }
    std::string full(12 * mib, '\0');
    full.replace(2 * mib, a.size(), a);
    full.replace(9 * mib, b.size(), b);

    HashPipeline pipe(1 << 20, 2);
    RecordingSink sink;
    uint64_t n = copy_through(pipe, fd, 0, 12 * mib, tmp.path, &sink, 0);
    EXPECT_EQ(n, static_cast<uint64_t>(12 * mib));
    EXPECT_EQ(pipe.finish(), blake2b(full));
    EXPECT_EQ(sink.content, full);
    std::vector<std::pair<int64_t, int64_t>> expected{
        {0, 2 * mib},
        {5 * mib + 4096, 4 * mib - 4096},
        {9 * mib + 8192, 3 * mib - 8192}};
    EXPECT_EQ(sink.holes, expected);

    // A range of the file (a piece), written at another offset of the sink.
    pipe.reset();
    RecordingSink piece;
    n = copy_through(pipe, fd, 4 * mib, 6 * mib, tmp.path, &piece, 100);
    EXPECT_EQ(n, static_cast<uint64_t>(6 * mib));
    EXPECT_EQ(pipe.finish(), blake2b(std::string_view(full).substr(4 * mib, 6 * mib)));
    // [4 MiB, 10 MiB): data to 5 MiB + 4 KiB, a hole to 9 MiB, 8 KiB of data, a hole.
    std::vector<std::pair<int64_t, int64_t>> piece_holes{{100 + mib + 4096, 4 * mib - 4096},
                                                         {100 + 5 * mib + 8192, mib - 8192}};
    EXPECT_EQ(piece.holes, piece_holes);
    ::close(fd);
}

// An ordinary file is copied with writes only, and its zeros stay written.
TEST(SparseCopy, AnOrdinaryFileHasNoHoles) {
    TempPath tmp;
    int fd = ::open(tmp.path.c_str(), O_RDWR | O_TRUNC);
    ASSERT_GE(fd, 0);
    std::string zeros(3 << 20, '\0');
    write_at(fd, zeros, 0);
    HashPipeline pipe(1 << 20, 2);
    RecordingSink sink;
    EXPECT_EQ(copy_through(pipe, fd, 0, 3 << 20, tmp.path, &sink, 0), 3u << 20);
    EXPECT_EQ(pipe.finish(), blake2b(zeros));
    EXPECT_TRUE(sink.holes.empty());
    EXPECT_EQ(sink.content, zeros);
    ::close(fd);
}
