#include "../test_dir.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/trailing.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"

#include <chrono>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <thread>
#include <unistd.h>

using namespace barge;

namespace {

constexpr size_t block = 64 << 10;

std::string pattern(size_t size, size_t seed) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) {
        data[i] = static_cast<char>((i * 131 + seed) % 251);
    }
    return data;
}

// A file being written in dir, followed by a TrailingVerifier.
struct Written {
    Fd fd;
    Fd dir;
    Trail trail;
};

Written start(TestDir& dir, TrailingVerifier& tv, const std::string& name) {
    Written w;
    w.fd = open_or_throw(dir / name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    w.dir = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    w.trail = tv.follow(w.dir.get(), name, name);
    return w;
}

void put(Written& w, const std::string& data, size_t from, size_t to) {
    ASSERT_EQ(::pwrite(w.fd.get(), data.data() + from, to - from, static_cast<off_t>(from)),
              static_cast<ssize_t>(to - from));
}

} // namespace

// Written in uneven chunks and followed a block behind, every size gives exactly
// the digest of the file's bytes, and the bytes read are the file's size.
TEST(TrailingVerifier, DigestEqualsPlainHashWhateverTheChunks) {
    TestDir dir;
    TrailingVerifier tv(block);
    // 65 MiB + 7: past the 64 MiB step at which the verifier also fdatasyncs.
    for (size_t size : {size_t{1}, block - 1, block, block + 1, 3 * block + 4095, 5 * block,
                        size_t{1'000'003}, (size_t{65} << 20) + 7}) {
        std::string data = pattern(size, size);
        std::string name = "f" + std::to_string(size);
        Written w = start(dir, tv, name);
        if (!w.trail) {
            GTEST_SKIP() << "this file system refuses O_DIRECT (" << dir.path() << ")";
        }
        size_t pos = 0, chunk = 1000;
        while (pos < size) {
            size_t end = std::min(size, pos + chunk);
            put(w, data, pos, end);
            w.trail.written(static_cast<int64_t>(end));
            pos = end;
            chunk = chunk * 3 % 1'500'001 + 1; // uneven, sometimes several blocks
        }
        w.trail.close();
        uint64_t n = 0;
        EXPECT_EQ(w.trail.digest(n), blake2b(data)) << size;
        EXPECT_EQ(n, size);
    }
}

// The verifier never reads past what the writer reported: bytes written to the
// file but not yet reported are rewritten later, and the digest is still that of
// the final content. (Reading ahead would hash the first version of block 2.)
TEST(TrailingVerifier, NeverReadsAheadOfTheWriter) {
    TestDir dir;
    TrailingVerifier tv(block);
    std::string first = pattern(3 * block, 1);
    std::string final = first;
    std::fill(final.begin() + static_cast<long>(block), final.end(), 'z');
    Written w = start(dir, tv, "f");
    if (!w.trail) {
        GTEST_SKIP() << "this file system refuses O_DIRECT (" << dir.path() << ")";
    }
    put(w, first, 0, first.size());
    w.trail.written(static_cast<int64_t>(block)); // only block 0 is final
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    put(w, final, block, final.size());
    w.trail.written(static_cast<int64_t>(final.size()));
    w.trail.close();
    uint64_t n = 0;
    EXPECT_EQ(w.trail.digest(n), blake2b(final));
}

// A file that ends before what the writer reported fails its verification, with
// the file's name; it does not hang.
TEST(TrailingVerifier, ShorterThanReportedFails) {
    TestDir dir;
    TrailingVerifier tv(block);
    std::string data = pattern(block, 2);
    Written w = start(dir, tv, "short");
    if (!w.trail) {
        GTEST_SKIP() << "this file system refuses O_DIRECT (" << dir.path() << ")";
    }
    put(w, data, 0, data.size());
    w.trail.written(static_cast<int64_t>(3 * block));
    w.trail.close();
    uint64_t n = 0;
    try {
        w.trail.digest(n);
        FAIL() << "a short file passed";
    } catch (const VerifyError& e) {
        EXPECT_NE(std::string(e.what()).find("short"), std::string::npos) << e.what();
    }
}

// A follow abandoned halfway (the file is discarded) lets the next file through.
TEST(TrailingVerifier, AbandonedFollowDoesNotBlockTheNext) {
    TestDir dir;
    TrailingVerifier tv(block);
    std::string data = pattern(2 * block + 10, 3);
    {
        Written a = start(dir, tv, "a");
        if (!a.trail) {
            GTEST_SKIP() << "this file system refuses O_DIRECT (" << dir.path() << ")";
        }
        put(a, data, 0, block / 2);
        a.trail.written(static_cast<int64_t>(block / 2));
    } // destroyed unclosed: abandoned
    Written b = start(dir, tv, "b");
    put(b, data, 0, data.size());
    b.trail.written(static_cast<int64_t>(data.size()));
    b.trail.close();
    uint64_t n = 0;
    EXPECT_EQ(b.trail.digest(n), blake2b(data));
}

// A verifier destroyed while a file is still being written gives that file an
// error, not a hang.
TEST(TrailingVerifier, DestroyedVerifierFailsOpenFollows) {
    TestDir dir;
    std::string data = pattern(block, 4);
    Written w;
    {
        TrailingVerifier tv(block);
        w = start(dir, tv, "f");
        if (!w.trail) {
            GTEST_SKIP() << "this file system refuses O_DIRECT (" << dir.path() << ")";
        }
        put(w, data, 0, block / 2);
        w.trail.written(static_cast<int64_t>(block / 2));
    }
    w.trail.close();
    uint64_t n = 0;
    EXPECT_THROW(w.trail.digest(n), Error);
}

// O_DIRECT reads ask for whole pages up to the end of the file, never a whole
// block past it (the kernel would zero-fill the rest of the buffer).
TEST(DirectReadLength, WholePagesUpToTheEnd) {
    EXPECT_EQ(direct_read_length(100, 0, 1 << 20), 4096u);
    EXPECT_EQ(direct_read_length(4096, 0, 1 << 20), 4096u);
    EXPECT_EQ(direct_read_length(4097, 0, 1 << 20), 8192u);
    EXPECT_EQ(direct_read_length(10 << 20, 0, 1 << 20), size_t{1} << 20);
    EXPECT_EQ(direct_read_length((1 << 20) + 5, 1 << 20, 1 << 20), 4096u);
    // At the end (or past it: the file grew), one page, to see whether there is more.
    EXPECT_EQ(direct_read_length(8192, 8192, 1 << 20), 4096u);
    EXPECT_EQ(direct_read_length(8192, 12288, 1 << 20), 4096u);
}
