#include "barge/util/id_bits.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>
#include <vector>

namespace barge {
namespace {

TEST(IdBits, HoldsEachIdOnceAcrossBlocksAndSigns) {
    IdBits bits;
    // Block edges, both signs, and the extremes a hostile catalog could hold.
    const int64_t ids[] = {1, 63, 64, 4095, 4096, 4097, 1'000'000, 0, -1, -4096, -4097,
                           std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
    for (int64_t id : ids) {
        EXPECT_FALSE(bits.contains(id)) << id;
        EXPECT_TRUE(bits.insert(id)) << id;
        EXPECT_FALSE(bits.insert(id)) << id;
        EXPECT_TRUE(bits.contains(id)) << id;
    }
    EXPECT_EQ(bits.size(), static_cast<int64_t>(std::size(ids)));
    std::vector<int64_t> listed;
    bits.each([&](int64_t id) { listed.push_back(id); });
    std::set<int64_t> sorted(std::begin(ids), std::end(ids));
    EXPECT_EQ(listed, std::vector<int64_t>(sorted.begin(), sorted.end())) << "each id once, ascending";
    for (int64_t near : {2, 62, 65, 4094, 4098, 999'999, 1'000'001, -2, -4095, -4098}) {
        EXPECT_FALSE(bits.contains(near)) << near;
    }
}

TEST(IdBits, AgreesWithASetOnDenseRuns) {
    IdBits bits;
    std::set<int64_t> ref;
    uint64_t x = 88172645463325252ull; // xorshift: a fixed pseudo-random sequence
    for (int i = 0; i < 50'000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t id = static_cast<int64_t>(x % 30'000) - 100;
        EXPECT_EQ(bits.insert(id), ref.insert(id).second) << id;
    }
    EXPECT_EQ(bits.size(), static_cast<int64_t>(ref.size()));
    for (int64_t id = -200; id < 30'100; ++id) {
        ASSERT_EQ(bits.contains(id), ref.contains(id)) << id;
    }
    std::vector<int64_t> listed;
    bits.each([&](int64_t id) { listed.push_back(id); });
    EXPECT_EQ(listed, std::vector<int64_t>(ref.begin(), ref.end()));
}

} // namespace
} // namespace barge
