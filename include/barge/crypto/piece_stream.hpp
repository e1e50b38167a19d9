#pragma once

#include "barge/crypto/piece_format.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace barge {

// Pieces are written as their source is read, before their digest (and so their
// keyed name) is known: the associated data's name field is this value for every
// piece. Each piece is still bound to its own header (the random nonce prefix is in
// every segment's nonce), and a whole piece put under another name decrypts to a
// plaintext whose BLAKE2b-512 is not the catalog's for that name (docs/encryption.md).
inline constexpr Digest unnamed_piece{};

// Writes pieces encrypted: after begin(to), fed a piece's plaintext in order (the
// offsets copy_through gives are those of the plaintext and must follow each other),
// it writes the header and sealed segments to `to` from offset 0; finish() writes
// the last segment. One sink serves piece after piece (no allocation per piece).
class EncryptingSink : public ByteSink {
public:
    // The key's bytes must outlive the sink.
    explicit EncryptingSink(const SecretKey& pieces_key);
    // Starts a piece written to `to` (with a fresh nonce prefix).
    void begin(ByteSink& to);
    void write_at(const char* buf, size_t n, int64_t offset) override;
    // Seals the last segment; returns the piece's size on the drive.
    int64_t finish();

private:
    PieceEncryptor m_enc;
    ByteSink* m_to = nullptr;
    std::vector<uint8_t> m_out;
    int64_t m_plain = 0, m_written = 0;
};

// A HashPipeline filter that authenticates and decrypts encrypted pieces: the
// pipeline, given a piece's bytes as stored, hashes its plaintext, and its finish()
// throws TamperedPiece for a piece that does not authenticate.
class PieceDecryptFilter : public HashFilter {
public:
    // Keeps its own copy of the key.
    explicit PieceDecryptFilter(const SecretKey& pieces_key);
    void start() override;
    std::span<const uint8_t> update(std::span<const uint8_t> in) override;
    std::span<const uint8_t> finish() override;

private:
    SecretKey m_key;
    PieceDecryptor m_dec;
    std::vector<uint8_t> m_out;
};

} // namespace barge
