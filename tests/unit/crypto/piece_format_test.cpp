#include "barge/crypto/piece_format.hpp"

#include <gtest/gtest.h>
#include <random>
#include <sodium.h>
#include <vector>

using namespace barge;

namespace {

using Bytes = std::vector<uint8_t>;
constexpr size_t seg = piece_segment_size;
constexpr size_t sealed = piece_sealed_segment_size;

Bytes pattern(size_t n, uint32_t seed) {
    Bytes b(n);
    std::mt19937 rng(seed);
    for (auto& c : b) {
        c = static_cast<uint8_t>(rng());
    }
    return b;
}

Digest name_of(uint8_t v) {
    Digest d{};
    d.fill(v);
    return d;
}

// Encrypts plain, fed in chunks whose sizes come from rng (1..max_chunk).
Bytes encrypt(const SecretKey& key, const Digest& name, const Bytes& plain, std::mt19937& rng,
              size_t max_chunk) {
    PieceEncryptor enc(key, name);
    Bytes out;
    Bytes buf;
    size_t pos = 0;
    while (pos < plain.size()) {
        size_t n = std::min<size_t>(plain.size() - pos, 1 + rng() % max_chunk);
        buf.resize(PieceEncryptor::max_update_output(n));
        size_t w = enc.update({plain.data() + pos, n}, buf);
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(w));
        pos += n;
    }
    buf.resize(PieceEncryptor::max_finish_output);
    size_t w = enc.finish(buf);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(w));
    EXPECT_EQ(enc.plaintext_bytes(), plain.size());
    return out;
}

Bytes encrypt(const SecretKey& key, const Digest& name, const Bytes& plain) {
    std::mt19937 rng(1);
    return encrypt(key, name, plain, rng, 1 << 20);
}

enum class KnownSize { no, yes };

// Decrypts cipher fed in random chunks; throws TamperedPiece like the decryptor.
Bytes decrypt(const SecretKey& key, const Digest& name, const Bytes& cipher, std::mt19937& rng,
              size_t max_chunk, KnownSize known = KnownSize::no) {
    std::optional<uint64_t> size;
    if (known == KnownSize::yes) {
        size = cipher.size();
    }
    PieceDecryptor dec(key, name, size);
    Bytes out, buf;
    size_t pos = 0;
    while (pos < cipher.size()) {
        size_t n = std::min<size_t>(cipher.size() - pos, 1 + rng() % max_chunk);
        buf.resize(PieceDecryptor::max_update_output(n));
        size_t w = dec.update({cipher.data() + pos, n}, buf);
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(w));
        pos += n;
    }
    buf.resize(PieceDecryptor::max_finish_output);
    size_t w = dec.finish(buf);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(w));
    EXPECT_TRUE(dec.done());
    EXPECT_EQ(dec.plaintext_bytes(), out.size());
    return out;
}

Bytes decrypt(const SecretKey& key, const Digest& name, const Bytes& cipher,
              KnownSize known = KnownSize::no) {
    std::mt19937 rng(2);
    return decrypt(key, name, cipher, rng, 1 << 20, known);
}

class PieceFormat : public ::testing::Test {
protected:
    SecretKey key = SecretKey::random();
    Digest name = name_of(0x5a);
};

} // namespace

TEST(PieceSizes, EncryptedSizeAndItsInverse) {
    EXPECT_EQ(encrypted_piece_size(0), 24u + 16u);
    EXPECT_EQ(encrypted_piece_size(1), 24u + 1u + 16u);
    EXPECT_EQ(encrypted_piece_size(seg), 24u + seg + 16u);
    EXPECT_EQ(encrypted_piece_size(seg + 1), 24u + seg + 1u + 32u);
    EXPECT_EQ(encrypted_piece_size(uint64_t{1} << 30), 24u + (uint64_t{1} << 30) + 16u * 16384u);
    for (uint64_t p : {0ull, 1ull, 15ull, 16ull, 65535ull, 65536ull, 65537ull, 131072ull, 196608ull,
                       196609ull, 1ull << 30, (1ull << 30) + 17}) {
        EXPECT_EQ(plaintext_piece_size(encrypted_piece_size(p)), p) << p;
    }
}

TEST(PieceSizes, ImpossibleEncryptedSizesHaveNoPlaintextSize) {
    EXPECT_EQ(plaintext_piece_size(0), std::nullopt);
    EXPECT_EQ(plaintext_piece_size(39), std::nullopt);               // less than a header and a tag
    EXPECT_EQ(plaintext_piece_size(24 + sealed + 5), std::nullopt);  // last segment < tag
    EXPECT_EQ(plaintext_piece_size(24 + sealed + 16), std::nullopt); // empty after full ones
    // Every size from 40 to three segments either has no inverse or round-trips.
    for (uint64_t e = 40; e < 24 + 3 * sealed + 40; ++e) {
        if (auto p = plaintext_piece_size(e)) {
            ASSERT_EQ(encrypted_piece_size(*p), e);
        }
    }
}

TEST(PieceSizes, SegmentCountAndOffsets) {
    EXPECT_EQ(piece_segment_count(0), 1u);
    EXPECT_EQ(piece_segment_count(1), 1u);
    EXPECT_EQ(piece_segment_count(seg), 1u);
    EXPECT_EQ(piece_segment_count(seg + 1), 2u);
    EXPECT_EQ(piece_segment_offset(0), 24u);
    EXPECT_EQ(piece_segment_offset(2), 24u + 2 * sealed);
}

// draft-irtf-cfrg-xchacha-03, appendix A.3.1, through the same libsodium call that seals
// segments and pages.
TEST(XChaCha20Poly1305, LibsodiumMatchesTheDraftVector) {
    ASSERT_GE(sodium_init(), 0);
    std::string plain = "Ladies and Gentlemen of the class of '99: If I could offer you only one "
                        "tip for the future, sunscreen would be it.";
    Bytes key(32), nonce(24),
        ad = {0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7};
    for (size_t i = 0; i < 32; ++i) {
        key[i] = static_cast<uint8_t>(0x80 + i);
    }
    for (size_t i = 0; i < 24; ++i) {
        nonce[i] = static_cast<uint8_t>(0x40 + i);
    }
    Bytes out(plain.size() + 16);
    unsigned long long n = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out.data(), &n, reinterpret_cast<const uint8_t*>(plain.data()), plain.size(), ad.data(),
        ad.size(), nullptr, nonce.data(), key.data());
    char hex[2 * 130 + 1];
    sodium_bin2hex(hex, sizeof hex, out.data(), out.size());
    EXPECT_EQ(std::string(hex), "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
                                "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
                                "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
                                "21f9664c97637da9768812f615c68b13b52e"
                                "c0875924c1c7987947deafd8780acf49");
}

// The segment sealer is exactly the specified AEAD: nonce = prefix + LE index, associated
// data = name + LE index + final flag.
TEST_F(PieceFormat, SegmentsAreSealedAsSpecified) {
    Bytes plain = pattern(seg + 100, 7);
    Bytes cipher = encrypt(key, name, plain);
    ASSERT_EQ(cipher.size(), encrypted_piece_size(plain.size()));
    EXPECT_EQ(std::string(cipher.begin(), cipher.begin() + 8), "BRGPIEC1");
    for (uint64_t i : {0u, 1u}) {
        Bytes nonce(cipher.begin() + 8, cipher.begin() + 24), ad(name.begin(), name.end());
        for (int b = 0; b < 8; ++b) {
            nonce.push_back(static_cast<uint8_t>(i >> (8 * b)));
            ad.push_back(static_cast<uint8_t>(i >> (8 * b)));
        }
        ad.push_back(i == 1 ? 1 : 0);
        size_t len = i == 0 ? sealed : 100 + 16;
        Bytes out(len - 16);
        unsigned long long n = 0;
        ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(
                      out.data(), &n, nullptr, cipher.data() + piece_segment_offset(i), len,
                      ad.data(), ad.size(), nonce.data(), key.data()),
                  0)
            << "segment " << i;
        EXPECT_TRUE(std::equal(out.begin(), out.end(), plain.begin() + static_cast<long>(i * seg)));
    }
}

TEST_F(PieceFormat, RoundTripsAtSegmentBoundariesInRandomChunks) {
    std::mt19937 rng(42);
    for (size_t size : {size_t{0}, size_t{1}, seg - 1, seg, seg + 1, 3 * seg, 3 * seg + 17}) {
        Bytes plain = pattern(size, static_cast<uint32_t>(size));
        for (size_t max_chunk : {size_t{1} << 20, size_t{7}, size_t{65551}, size_t{200000}}) {
            if (max_chunk < 100 && size > 2 * seg) {
                continue; // byte-sized chunks over megabytes: slow and adds nothing
            }
            Bytes cipher = encrypt(key, name, plain, rng, max_chunk);
            ASSERT_EQ(cipher.size(), encrypted_piece_size(size)) << size;
            EXPECT_EQ(decrypt(key, name, cipher, rng, max_chunk), plain)
                << size << " " << max_chunk;
            EXPECT_EQ(decrypt(key, name, cipher, rng, max_chunk, KnownSize::yes), plain) << size;
        }
    }
}

TEST_F(PieceFormat, RoundTripsRandomSizes) {
    std::mt19937 rng(7);
    for (int i = 0; i < 20; ++i) {
        size_t size = rng() % (5 * seg);
        Bytes plain = pattern(size, static_cast<uint32_t>(rng()));
        Bytes cipher = encrypt(key, name, plain, rng, 1 + rng() % (3 * seg));
        EXPECT_EQ(decrypt(key, name, cipher, rng, 1 + rng() % (3 * seg)), plain) << size;
    }
}

TEST_F(PieceFormat, SamePlaintextEncryptsDifferentlyEachTime) {
    Bytes plain = pattern(1000, 1);
    EXPECT_NE(encrypt(key, name, plain), encrypt(key, name, plain)); // fresh nonce prefix
}

TEST_F(PieceFormat, KnownSizeFinishesWithoutFinish) {
    Bytes plain = pattern(2 * seg, 3);
    Bytes cipher = encrypt(key, name, plain);
    PieceDecryptor dec(key, name, cipher.size());
    Bytes out(PieceDecryptor::max_update_output(cipher.size()));
    EXPECT_EQ(dec.update(cipher, out), plain.size());
    EXPECT_TRUE(dec.done()); // the last segment was opened as it arrived
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), out.begin()));
}

TEST_F(PieceFormat, EncryptorReuseStartsANewPiece) {
    PieceEncryptor enc(key, name);
    Bytes plain = pattern(seg + 5, 9), first(PieceEncryptor::max_update_output(plain.size()) +
                                             PieceEncryptor::max_finish_output);
    size_t n = enc.update(plain, first);
    n += enc.finish(std::span(first).subspan(n));
    first.resize(n);
    Digest other = name_of(1);
    enc.reset(other);
    Bytes second(PieceEncryptor::max_update_output(plain.size()) +
                 PieceEncryptor::max_finish_output);
    size_t m = enc.update(plain, second);
    m += enc.finish(std::span(second).subspan(m));
    second.resize(m);
    EXPECT_EQ(decrypt(key, name, first), plain);
    EXPECT_EQ(decrypt(key, other, second), plain);
    EXPECT_THROW(decrypt(key, name, second), TamperedPiece);
}

TEST_F(PieceFormat, TheKeyObjectMayMoveWhileInUse) {
    Bytes plain = pattern(seg + 10, 12);
    PieceEncryptor enc(key, name);
    SecretKey moved = std::move(key); // the bytes stay where they were
    Bytes out(PieceEncryptor::max_update_output(plain.size()) + PieceEncryptor::max_finish_output);
    size_t n = enc.update(plain, out);
    n += enc.finish(std::span(out).subspan(n));
    out.resize(n);
    EXPECT_EQ(decrypt(moved, name, out), plain);
}

class PieceTamper : public PieceFormat {
protected:
    Bytes plain = pattern(3 * seg + 1000, 11); // four segments
    Bytes cipher = encrypt(key, name, plain);

    void expect_corrupt(const Bytes& bad, const char* what) {
        for (auto known : {KnownSize::no, KnownSize::yes}) {
            std::mt19937 rng(5);
            EXPECT_THROW(decrypt(key, name, bad, rng, 100000, known), TamperedPiece)
                << what << (known == KnownSize::yes ? " (known size)" : "");
        }
    }
};

TEST_F(PieceTamper, FlippedBitsAnywhere) {
    for (size_t at : {size_t{0}, size_t{7}, size_t{8}, size_t{23},        // header
                      size_t{24}, size_t{24} + seg - 1, size_t{24} + seg, // segment 0, its tag
                      piece_segment_offset(2) + 500, cipher.size() - 17,  // last segment
                      cipher.size() - 1}) {                               // last tag
        Bytes bad = cipher;
        bad[at] ^= 0x01;
        expect_corrupt(bad, ("bit flipped at " + std::to_string(at)).c_str());
    }
}

TEST_F(PieceTamper, SwappedSegments) {
    Bytes bad = cipher;
    std::swap_ranges(bad.begin() + static_cast<long>(piece_segment_offset(0)),
                     bad.begin() + static_cast<long>(piece_segment_offset(1)),
                     bad.begin() + static_cast<long>(piece_segment_offset(1)));
    expect_corrupt(bad, "segments 0 and 1 swapped");
}

TEST_F(PieceTamper, SegmentFromAnotherPiece) {
    // Another piece under the same key: its segment 1 in place of ours.
    Bytes other = encrypt(key, name_of(0x77), plain);
    Bytes bad = cipher;
    std::copy(other.begin() + static_cast<long>(piece_segment_offset(1)),
              other.begin() + static_cast<long>(piece_segment_offset(2)),
              bad.begin() + static_cast<long>(piece_segment_offset(1)));
    expect_corrupt(bad, "segment 1 from another piece");
    // Even sealed with our very nonce prefix and index, another name does not open.
    SegmentSealer sealer(key, name_of(0x77), std::span<const uint8_t, 16>(cipher.data() + 8, 16));
    bad = cipher;
    sealer.seal(1, FinalSegment::no, {plain.data() + seg, seg},
                bad.data() + piece_segment_offset(1));
    expect_corrupt(bad, "segment 1 sealed for another name");
    // The same sealer with our name reproduces a segment that opens: the test can fail.
    SegmentSealer ours(key, name, std::span<const uint8_t, 16>(cipher.data() + 8, 16));
    Bytes good = cipher;
    ours.seal(1, FinalSegment::no, {plain.data() + seg, seg},
              good.data() + piece_segment_offset(1));
    EXPECT_EQ(decrypt(key, name, good), plain);
}

TEST_F(PieceTamper, TruncationAtASegmentBoundaryAndMidSegment) {
    for (size_t cut : {piece_segment_offset(3), piece_segment_offset(1), piece_segment_offset(0),
                       piece_segment_offset(2) + 1000, cipher.size() - 1, size_t{10}}) {
        Bytes bad(cipher.begin(), cipher.begin() + static_cast<long>(cut));
        expect_corrupt(bad, ("truncated to " + std::to_string(cut)).c_str());
    }
}

TEST_F(PieceTamper, AppendedBytes) {
    for (size_t extra : {size_t{1}, size_t{16}, sealed}) {
        Bytes bad = cipher;
        bad.insert(bad.end(), extra, 0);
        expect_corrupt(bad, ("appended " + std::to_string(extra)).c_str());
    }
    // A whole valid-looking segment appended after a full last segment.
    Bytes full = encrypt(key, name, pattern(2 * seg, 4));
    full.insert(full.end(), full.begin() + 24, full.begin() + 24 + static_cast<long>(sealed));
    expect_corrupt(full, "a segment appended");
}

TEST_F(PieceTamper, WrongKeyOrName) {
    SecretKey other = SecretKey::random();
    EXPECT_THROW(decrypt(other, name, cipher), TamperedPiece);
    EXPECT_THROW(decrypt(key, name_of(0), cipher), TamperedPiece);
}

TEST_F(PieceTamper, TamperedPieceIsAVerifyError) {
    Bytes bad = cipher;
    bad[100] ^= 0x80;
    try {
        decrypt(key, name, bad);
        FAIL() << "no error";
    } catch (const VerifyError& e) {
        EXPECT_EQ(e.code(), ExitCode::corrupt);
        EXPECT_NE(std::string(e.what()).find("segment 0"), std::string::npos) << e.what();
    }
}

TEST_F(PieceTamper, WrongEncryptedSizeIsRefusedUpFront) {
    EXPECT_THROW(PieceDecryptor(key, name, uint64_t{24 + sealed + 3}), TamperedPiece);
}

TEST_F(PieceTamper, RandomAccessToEachSegment) {
    std::span<const uint8_t> header(cipher.data(), 24);
    for (uint64_t i = 0; i < 4; ++i) {
        size_t len = i < 3 ? sealed : 1000 + 16;
        std::span<const uint8_t> segment(cipher.data() + piece_segment_offset(i), len);
        Bytes out(seg);
        size_t n = decrypt_piece_segment(
            key, name, header, i, i == 3 ? FinalSegment::yes : FinalSegment::no, segment, out);
        ASSERT_EQ(n, len - 16);
        EXPECT_TRUE(std::equal(out.begin(), out.begin() + static_cast<long>(n),
                               plain.begin() + static_cast<long>(i * seg)));
        // Wrong index or wrong final flag: refused.
        EXPECT_THROW(decrypt_piece_segment(key, name, header, i + 1,
                                           i == 3 ? FinalSegment::yes : FinalSegment::no, segment,
                                           out),
                     TamperedPiece);
        EXPECT_THROW(decrypt_piece_segment(key, name, header, i,
                                           i == 3 ? FinalSegment::no : FinalSegment::yes, segment,
                                           out),
                     TamperedPiece);
    }
    // In place: out may be the segment's own buffer.
    Bytes copy(cipher.begin() + 24, cipher.begin() + 24 + static_cast<long>(sealed));
    EXPECT_EQ(decrypt_piece_segment(key, name, header, 0, FinalSegment::no, copy, copy), seg);
    EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + static_cast<long>(seg), copy.begin()));
}
