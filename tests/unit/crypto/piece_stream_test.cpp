#include "barge/crypto/piece_stream.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/hash/pipeline.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

using namespace barge;

namespace {

std::string random_text(size_t n, uint32_t seed) {
    std::string s(n, '\0');
    std::mt19937 rng(seed);
    for (auto& c : s) {
        c = static_cast<char>(rng());
    }
    return s;
}

// A ByteSink collecting what it is given, at the offsets given.
class Collect : public ByteSink {
public:
    void write_at(const char* buf, size_t n, int64_t offset) override {
        if (bytes.size() < static_cast<size_t>(offset) + n) {
            bytes.resize(static_cast<size_t>(offset) + n);
        }
        std::memcpy(bytes.data() + offset, buf, n);
    }
    std::string bytes;
};

// Encrypts plain through an EncryptingSink, fed in blocks of `block` bytes.
std::string encrypt(EncryptingSink& sink, const std::string& plain, size_t block) {
    Collect out;
    sink.begin(out);
    for (size_t pos = 0; pos < plain.size(); pos += block) {
        size_t n = std::min(block, plain.size() - pos);
        sink.write_at(plain.data() + pos, n, static_cast<int64_t>(pos));
    }
    int64_t size = sink.finish();
    EXPECT_EQ(static_cast<size_t>(size), out.bytes.size());
    return out.bytes;
}

// The pipeline's digest of bytes submitted in blocks of `block`.
Digest hash_through(HashPipeline& pipe, const std::string& bytes, size_t block) {
    pipe.reset();
    for (size_t pos = 0; pos < bytes.size(); pos += block) {
        size_t n = std::min(block, bytes.size() - pos);
        char* b = pipe.acquire();
        std::memcpy(b, bytes.data() + pos, n);
        pipe.submit(b, n);
    }
    return pipe.finish();
}

} // namespace

// Pieces written through the sink read back, through the pipeline's filter, as the
// digest of their plaintext, whatever the sizes and the block boundaries.
TEST(PieceStream, SinkAndFilterRoundTrip) {
    SecretKey key = SecretKey::random();
    EncryptingSink sink(key);
    HashPipeline pipe(1 << 20);
    pipe.set_filter(std::make_unique<PieceDecryptFilter>(key));
    for (size_t size : {size_t{0}, size_t{1}, piece_segment_size - 1, piece_segment_size,
                        piece_segment_size + 1, size_t{3} << 20, (size_t{3} << 20) + 777}) {
        std::string plain = random_text(size, static_cast<uint32_t>(size));
        for (size_t block : {size_t{4096}, size_t{1} << 20}) {
            std::string cipher = encrypt(sink, plain, block);
            EXPECT_EQ(cipher.size(), encrypted_piece_size(size));
            if (size >= 64) {
                EXPECT_EQ(cipher.find(plain.substr(0, 64)), std::string::npos)
                    << "plaintext visible in the piece";
            }
            for (size_t rblock : {size_t{1000}, size_t{65552}, size_t{1} << 20}) {
                EXPECT_EQ(hash_through(pipe, cipher, rblock), blake2b(plain))
                    << size << " bytes, written in " << block << ", read in " << rblock;
            }
        }
    }
}

// Two pieces of the same plaintext differ on the drive (a fresh nonce each).
TEST(PieceStream, SamePlaintextDiffersOnTheDrive) {
    SecretKey key = SecretKey::random();
    EncryptingSink sink(key);
    std::string plain = random_text(100000, 3);
    EXPECT_NE(encrypt(sink, plain, 4096), encrypt(sink, plain, 4096));
}

// A changed byte, a truncation and another key are refused by the pipeline's
// finish(), which then goes on with the next piece as if nothing happened.
TEST(PieceStream, FilterRefusesTamperingAndRecovers) {
    SecretKey key = SecretKey::random();
    EncryptingSink sink(key);
    std::string plain = random_text(200000, 9);
    std::string cipher = encrypt(sink, plain, 1 << 20);
    HashPipeline pipe(1 << 20);
    pipe.set_filter(std::make_unique<PieceDecryptFilter>(key));

    std::string flipped = cipher;
    flipped[piece_header_size + 70000] ^= 1;
    EXPECT_THROW(hash_through(pipe, flipped, 65536), TamperedPiece);
    EXPECT_EQ(hash_through(pipe, cipher, 65536), blake2b(plain)) << "the next piece is hashed afresh";

    std::string cut = cipher.substr(0, piece_header_size + piece_sealed_segment_size);
    EXPECT_THROW(hash_through(pipe, cut, 65536), TamperedPiece);

    std::string swapped = cipher;
    std::memcpy(swapped.data() + piece_header_size,
                cipher.data() + piece_header_size + piece_sealed_segment_size, piece_sealed_segment_size);
    std::memcpy(swapped.data() + piece_header_size + piece_sealed_segment_size,
                cipher.data() + piece_header_size, piece_sealed_segment_size);
    EXPECT_THROW(hash_through(pipe, swapped, 1 << 20), TamperedPiece);

    HashPipeline other(1 << 20);
    other.set_filter(std::make_unique<PieceDecryptFilter>(SecretKey::random()));
    EXPECT_THROW(hash_through(other, cipher, 1 << 20), TamperedPiece);
    EXPECT_EQ(hash_through(pipe, cipher, 4096), blake2b(plain));
}

// Without a filter the pipeline hashes what it is given (the plain drive).
TEST(PieceStream, NoFilterHashesTheBytes) {
    HashPipeline pipe(1 << 20);
    std::string text = random_text(300000, 4);
    EXPECT_EQ(hash_through(pipe, text, 4096), blake2b(text));
    pipe.set_filter(nullptr);
    EXPECT_EQ(hash_through(pipe, text, 1 << 20), blake2b(text));
}
