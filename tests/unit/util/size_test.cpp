#include "barge/util/error.hpp"
#include "barge/util/size.hpp"

#include <gtest/gtest.h>

using namespace barge;

TEST(Size, PlainAndBinaryUnits) {
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("500M"), 500ull << 20);
    EXPECT_EQ(parse_size("500MiB"), 500ull << 20);
    EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
    EXPECT_EQ(parse_size("2g"), 2ull << 30);
    EXPECT_EQ(parse_size("1T"), 1ull << 40);
    EXPECT_EQ(parse_size("1.5K"), 1536u);
    EXPECT_EQ(parse_size("64K"), 65536u);
}

TEST(Size, DecimalUnits) {
    EXPECT_EQ(parse_size("2GB"), 2'000'000'000u);
    EXPECT_EQ(parse_size("500MB"), 500'000'000u);
    EXPECT_EQ(parse_size("1kb"), 1000u);
}

TEST(Size, Rejects) {
    for (const char* bad : {"", "M", "12X", "-5", "1.2.3G", "GiB5", "1e9"}) {
        EXPECT_THROW(parse_size(bad), Refusal) << bad;
    }
}

TEST(Size, Percent) {
    SizeSpec s = parse_size_spec("5%");
    ASSERT_TRUE(s.is_percent());
    EXPECT_EQ(s.resolve(1000), 50u);
    EXPECT_EQ(parse_size_spec(s.to_string()).resolve(2000), 100u);
    EXPECT_THROW(parse_size_spec("150%"), Refusal);
    EXPECT_THROW(parse_size_spec("x%"), Refusal);
    SizeSpec b = parse_size_spec("1GiB");
    EXPECT_FALSE(b.is_percent());
    EXPECT_EQ(b.resolve(12345), 1ull << 30);
    EXPECT_EQ(parse_size_spec(b.to_string()).bytes, 1ull << 30);
    // A reserve is subtracted from free bytes as a signed number: one above
    // INT64_MAX came out negative, no reserve at all.
    EXPECT_EQ(parse_size_spec("4194304T").bytes, max_size_spec);
    EXPECT_THROW(parse_size_spec("4194305T"), Refusal);
    EXPECT_THROW(parse_size_spec("16000000T"), Refusal);
}

TEST(Size, Format) {
    EXPECT_EQ(format_size(0), "0 B");
    EXPECT_EQ(format_size(1023), "1023 B");
    EXPECT_EQ(format_size(1536), "1.5 KiB");
    EXPECT_EQ(format_size(3ull << 30), "3.0 GiB");
}

TEST(Duration, Parse) {
    EXPECT_DOUBLE_EQ(parse_duration("90"), 90);
    EXPECT_DOUBLE_EQ(parse_duration("30s"), 30);
    EXPECT_DOUBLE_EQ(parse_duration("10m"), 600);
    EXPECT_DOUBLE_EQ(parse_duration("2h"), 7200);
    EXPECT_DOUBLE_EQ(parse_duration("1d"), 86400);
    EXPECT_DOUBLE_EQ(parse_duration("1h30m"), 5400);
    EXPECT_DOUBLE_EQ(parse_duration("0.5s"), 0.5);
    for (const char* bad : {"", "h", "5x", "10 20"}) {
        EXPECT_THROW(parse_duration(bad), Refusal) << bad;
    }
}
