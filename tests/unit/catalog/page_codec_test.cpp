#include "barge/catalog/database.hpp"
#include "barge/catalog/page_codec.hpp"

#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace barge;

namespace {

std::vector<uint8_t> random_page(size_t size, uint32_t seed) {
    std::vector<uint8_t> p(size);
    std::mt19937 rng(seed);
    for (auto& b : p) {
        b = static_cast<uint8_t>(rng());
    }
    return p;
}

} // namespace

TEST(PageChecksum, BindsContentAndPageNumber) {
    auto page = random_page(4096, 1);
    put_page_checksum(page, 7);
    EXPECT_TRUE(page_checksum_ok(page, 7));
    EXPECT_FALSE(page_checksum_ok(page, 8));
    for (size_t at : {size_t{0}, size_t{2000}, size_t{4087}, size_t{4088}, size_t{4095}}) {
        auto bad = page;
        bad[at] ^= 0x10;
        EXPECT_FALSE(page_checksum_ok(bad, 7)) << at;
    }
    auto small = random_page(512, 2);
    put_page_checksum(small, 1);
    EXPECT_TRUE(page_checksum_ok(small, 1));
}

TEST(PageCipher, SealsAndOpensInPlace) {
    PageCipher c(SecretKey::random(), "drive-A");
    NonceSequence nonces;
    auto plain = random_page(4096, 3);
    std::vector<uint8_t> page(4096);
    c.seal(PageKind::database, 5, 0, plain.data(), page.data(), nonces);
    EXPECT_FALSE(std::equal(plain.begin(), plain.begin() + 4056, page.begin()));
    EXPECT_TRUE(c.open(PageKind::database, 5, 0, page.data()));
    EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + 4056, page.begin()));
    EXPECT_TRUE(std::all_of(page.begin() + 4056, page.end(), [](uint8_t b) { return b == 0; }));
    auto same = plain;
    c.seal(PageKind::database, 5, 0, same.data(), same.data(), nonces); // in place
    EXPECT_TRUE(c.open(PageKind::database, 5, 0, same.data()));
    EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + 4056, same.begin()));
}

TEST(PageCipher, EverythingBoundIsChecked) {
    SecretKey key = SecretKey::random();
    PageCipher c(SecretKey::from_bytes(key.bytes()), "drive-A");
    PageCipher other_drive(SecretKey::from_bytes(key.bytes()), "drive-B");
    PageCipher other_key(SecretKey::random(), "drive-A");
    NonceSequence nonces;
    auto plain = random_page(4096, 4);
    std::vector<uint8_t> sealed(4096);
    c.seal(PageKind::journal, 9, 4108, plain.data(), sealed.data(), nonces);
    auto try_open = [&](const PageCipher& with, PageKind kind, uint64_t pgno, uint64_t off) {
        auto copy = sealed;
        return with.open(kind, pgno, off, copy.data());
    };
    EXPECT_TRUE(try_open(c, PageKind::journal, 9, 4108));
    EXPECT_FALSE(try_open(c, PageKind::database, 9, 4108));
    EXPECT_FALSE(try_open(c, PageKind::journal, 10, 4108));
    EXPECT_FALSE(try_open(c, PageKind::journal, 9, 8212));
    EXPECT_FALSE(try_open(other_drive, PageKind::journal, 9, 4108));
    EXPECT_FALSE(try_open(other_key, PageKind::journal, 9, 4108));
    for (size_t at :
         {size_t{0}, size_t{4055}, size_t{4056}, size_t{4079}, size_t{4080}, size_t{4095}}) {
        auto bad = sealed;
        bad[at] ^= 1;
        EXPECT_FALSE(c.open(PageKind::journal, 9, 4108, bad.data())) << at;
        EXPECT_TRUE(std::all_of(bad.begin(), bad.end(), [](uint8_t b) { return b == 0; }))
            << "a refused page is zeroed";
    }
}

TEST(PageCipher, NoncesNeverRepeat) {
    NonceSequence a, b;
    auto a1 = a.next(), a2 = a.next(), b1 = b.next();
    EXPECT_NE(a1, a2);
    EXPECT_NE(a1, b1);
    EXPECT_TRUE(std::equal(a1.begin(), a1.begin() + 16, a2.begin())); // prefix, counter
}

TEST(PageCipher, ChecksumMaskDependsOnOffsetAndNonce) {
    PageCipher c(SecretKey::random(), "d");
    std::array<uint8_t, 24> n1{}, n2{};
    n2[0] = 1;
    EXPECT_EQ(c.checksum_mask(4100, n1), c.checksum_mask(4100, n1));
    EXPECT_NE(c.checksum_mask(4100, n1), c.checksum_mask(8204, n1));
    EXPECT_NE(c.checksum_mask(4100, n1), c.checksum_mask(4100, n2));
}

TEST(PageCipher, RefusesOverlongDatabaseIds) {
    EXPECT_THROW(PageCipher(SecretKey::random(), std::string(257, 'x')), Error);
}
