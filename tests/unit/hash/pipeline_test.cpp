#include "barge/hash/pipeline.hpp"

#include <cstring>
#include <gtest/gtest.h>

using namespace barge;

// The pipeline must give exactly the digests of a plain streaming hash, whatever
// the block boundaries and however far the hashing thread lags.
TEST(HashPipeline, DigestsEqualPlainHashing) {
    std::string data(3'000'003, '\0');
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<char>((i * 131) % 251);
    }
    HashPipeline p(4096, 3);
    p.track_total(true);
    std::vector<Digest> pieces;
    size_t piece = 1'000'000;
    for (size_t off = 0; off < data.size(); off += piece) {
        size_t end = std::min(data.size(), off + piece);
        for (size_t pos = off; pos < end;) {
            char* b = p.acquire();
            size_t n = std::min(p.block_size(), end - pos);
            std::memcpy(b, data.data() + pos, n);
            p.submit(b, n);
            pos += n;
        }
        pieces.push_back(p.finish());
    }
    EXPECT_EQ(p.finish_total(), blake2b(data));
    ASSERT_EQ(pieces.size(), 4u);
    for (size_t k = 0; k < pieces.size(); ++k) {
        EXPECT_EQ(pieces[k], blake2b(std::string_view(data).substr(k * piece, piece))) << k;
    }
    char* b = p.acquire();
    p.release(b);
    p.reset();
    EXPECT_EQ(p.finish(), blake2b(""));
}

#include "../test_dir.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/util/fd.hpp"

#include <fcntl.h>

// The verify read (O_DIRECT where possible, whole aligned blocks, a short read at
// the end) must hash exactly the file's bytes, whatever its size.
TEST(HashForVerify, EqualsPlainHashForOddSizes) {
    TestDir dir;
    HashPipeline pipe(1 << 16, 3);
    for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{65536},
                        size_t{65537}, size_t{300001}}) {
        std::string data(size, '\0');
        for (size_t i = 0; i < size; ++i) {
            data[i] = static_cast<char>((i * 7 + size) % 256);
        }
        std::string name = "f" + std::to_string(size);
        {
            Fd fd = open_or_throw(dir / name, O_WRONLY | O_CREAT, 0644);
            write_full(fd.get(), data.data(), data.size(), name);
        }
        Fd d = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
        VerifyFd v = open_for_verify(d.get(), name, name);
        uint64_t n = 0;
        EXPECT_EQ(hash_for_verify(v, pipe, n, name), blake2b(data)) << size;
        EXPECT_EQ(n, size);
    }
}

// Small blocks are hashed on the caller's thread when the worker is idle, large
// ones on the worker: mixed in any order, the digests stay those of the bytes.
TEST(HashPipeline, SmallBlocksInlineAndLargeOnWorkerMix) {
    HashPipeline p(256 << 10, 2);
    p.track_total(true);
    std::string all;
    for (size_t round = 0; round < 40; ++round) {
        size_t n = (round % 3 == 0) ? (256 << 10) : (round * 37 % 1000 + 1);
        if (round % 7 == 0) {
            n = HashPipeline::inline_max; // the boundary
        }
        char* b = p.acquire();
        for (size_t i = 0; i < n; ++i) {
            b[i] = static_cast<char>((round * 7 + i) % 253);
        }
        all.append(b, n);
        p.submit(b, n);
    }
    EXPECT_EQ(p.finish(), blake2b(all));
    EXPECT_EQ(p.finish_total(), blake2b(all));
}
