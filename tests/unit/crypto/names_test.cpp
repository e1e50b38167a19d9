#include "barge/crypto/names.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

using namespace barge;

namespace {

std::array<uint8_t, 64> counting64() {
    std::array<uint8_t, 64> k{};
    for (size_t i = 0; i < k.size(); ++i) {
        k[i] = static_cast<uint8_t>(i);
    }
    return k;
}

} // namespace

// BLAKE2's published keyed test vectors (blake2b-kat, key 00..3f).
TEST(KeyedBlake2b, MatchesTheKeyedKnownAnswers) {
    auto key = counting64();
    EXPECT_EQ(digest_hex(keyed_blake2b(key, {})),
              "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
              "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568");
    std::array<uint8_t, 1> zero{0};
    EXPECT_EQ(digest_hex(keyed_blake2b(key, zero)),
              "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4"
              "187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd");
}

// With barge's 32-byte keys, libb2 agrees with libsodium's independent BLAKE2b.
TEST(KeyedBlake2b, AgreesWithLibsodiumFor32ByteKeys) {
    ASSERT_GE(sodium_init(), 0);
    SecretKey k = SecretKey::random();
    Digest input = blake2b("some piece");
    Digest expected{};
    crypto_generichash_blake2b(expected.data(), expected.size(), input.data(), input.size(),
                               k.data(), SecretKey::size);
    EXPECT_EQ(piece_name(k, input), expected);
}

TEST(PieceName, KeyedDeterministicAndNotTheDigest) {
    SecretKey k = SecretKey::random(), other = SecretKey::random();
    Digest d = blake2b("file content"), d2 = blake2b("file contenu");
    EXPECT_EQ(piece_name(k, d), piece_name(k, d));
    EXPECT_NE(piece_name(k, d), d);
    EXPECT_NE(piece_name(k, d), blake2b(digest_bytes(d)));
    EXPECT_NE(piece_name(k, d), piece_name(other, d));
    EXPECT_NE(piece_name(k, d), piece_name(k, d2));
}

TEST(KeyedBlake2b, RefusesBadKeySizes) {
    std::array<uint8_t, 65> long_key{};
    EXPECT_THROW(keyed_blake2b(long_key, {}), Error);
    EXPECT_THROW(keyed_blake2b({}, {}), Error);
}
