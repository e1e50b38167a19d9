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
