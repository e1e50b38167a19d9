#include "barge/hash/blake2b.hpp"

#include <blake2.h>
#include <gtest/gtest.h>
#include <string>

using namespace barge;

namespace {

// 1 MiB of the pattern i % 251: not a power of two, so block boundaries never align.
std::string pattern_mib() {
    std::string s(1 << 20, '\0');
    for (size_t i = 0; i < s.size(); ++i) {
        s[i] = static_cast<char>(i % 251);
    }
    return s;
}

} // namespace

// Reference digests printed by coreutils' `b2sum` for the same inputs.
TEST(Blake2b, EmptyInputMatchesB2sum) {
    EXPECT_EQ(digest_hex(blake2b("")),
              "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee5853"
              "13896444934eb04b903a685b1448b755d56f701afe9be2ce");
}

TEST(Blake2b, AbcMatchesB2sum) {
    EXPECT_EQ(digest_hex(blake2b("abc")),
              "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792d"
              "c252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
}

TEST(Blake2b, OneMebibytePatternMatchesB2sum) {
    EXPECT_EQ(digest_hex(blake2b(pattern_mib())),
              "797c6241704933d0c62cea0793db1dd5c65ffd258f8340d394d2cd26b7bf537046ebb5914fb1fae7"
              "635ce1f379fb819abc57ad509c015bb4dba4bc981bb1c446");
}

TEST(Blake2b, StreamingInUnevenChunksEqualsOneShot) {
    std::string data = pattern_mib();
    Blake2b h;
    size_t pos = 0, step = 1;
    while (pos < data.size()) {
        size_t n = std::min(step, data.size() - pos);
        h.update(data.data() + pos, n);
        pos += n;
        step = step * 3 + 7;
    }
    EXPECT_EQ(h.final(), blake2b(data));
}

TEST(Blake2b, FinalStartsOver) {
    Blake2b h;
    h.update("abc");
    Digest first = h.final();
    h.update("abc");
    EXPECT_EQ(h.final(), first);
    EXPECT_NE(first, blake2b("abd"));
}

TEST(Blake2b, DigestBytesRoundTrip) {
    Digest d = blake2b("x");
    EXPECT_EQ(digest_from_bytes(digest_bytes(d)), d);
    EXPECT_THROW(digest_from_bytes("short"), std::exception);
}

// barge's own BLAKE2b against libb2's, an implementation written by BLAKE2's
// authors: every length across the first eight block boundaries, every digest
// size, fed whole and in uneven pieces (so the last block is sometimes full,
// sometimes empty in the buffer when final() comes).
TEST(Blake2b, AgreesWithLibb2ForEveryLengthAndDigestSize) {
    std::string data = pattern_mib();
    size_t checked = 0;
    for (size_t digest_size = 1; digest_size <= Blake2b::max_digest_size; ++digest_size) {
        for (size_t len = 0; len <= 8 * Blake2b::block_size + 1; ++len) {
            std::array<uint8_t, 64> want{};
            ASSERT_EQ(::blake2b(want.data(), data.data(), nullptr, digest_size, len, 0), 0);
            std::array<uint8_t, 64> whole{}, pieces{};
            Blake2b h(digest_size);
            h.update(data.data(), len);
            h.final(std::span(whole.data(), digest_size));
            size_t pos = 0, step = digest_size % 7;
            while (pos < len) {
                size_t n = std::min(step, len - pos);
                h.update(data.data() + pos, n);
                pos += n;
                step = (step * 5 + 3) % 300;
            }
            h.final(std::span(pieces.data(), digest_size));
            ASSERT_EQ(whole, want) << "digest size " << digest_size << ", length " << len;
            ASSERT_EQ(pieces, want) << "digest size " << digest_size << ", length " << len;
            ++checked;
        }
    }
    EXPECT_EQ(checked, 64u * (8 * Blake2b::block_size + 2));
}

TEST(Blake2b, AgreesWithLibb2OnLargeInputsFedInBlocks) {
    std::string data = pattern_mib();
    for (size_t len : {size_t{65536}, size_t{65536 + 1}, size_t{1 << 20}}) {
        Digest want{};
        ASSERT_EQ(::blake2b(want.data(), data.data(), nullptr, want.size(), len, 0), 0);
        Blake2b h;
        for (size_t pos = 0; pos < len; pos += 4096) {
            h.update(data.data() + pos, std::min<size_t>(4096, len - pos));
        }
        EXPECT_EQ(h.final(), want) << len;
    }
}

TEST(Blake2b, RefusesDigestSizesBeyondTheParameterSet) {
    EXPECT_THROW(Blake2b(0), std::exception);
    EXPECT_THROW(Blake2b(65), std::exception);
    Blake2b h(8);
    std::array<uint8_t, 64> out{};
    EXPECT_THROW(h.final(out), std::exception);
}
