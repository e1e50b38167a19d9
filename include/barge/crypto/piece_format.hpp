#pragma once

#include "barge/crypto/keys.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/error.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace barge {

// An encrypted piece is "segmented AEAD" (docs/encryption.md, "Formats"): a 24-byte
// header (magic, random nonce prefix), then the plaintext in 64 KiB segments, each
// sealed with XChaCha20-Poly1305 and bound to the piece's name, its index and
// whether it is the last one.
inline constexpr std::string_view piece_magic = "BRGPIEC1";
inline constexpr size_t piece_header_size = 24;
inline constexpr size_t piece_segment_size = 64 * 1024;
inline constexpr size_t piece_tag_size = 16;
inline constexpr size_t piece_sealed_segment_size = piece_segment_size + piece_tag_size;

// An encrypted piece failed authentication or is malformed: a corrupt piece (exit 4).
class TamperedPiece : public VerifyError {
public:
    using VerifyError::VerifyError;
};

// Number of segments of a piece of plaintext_size bytes (an empty piece has one).
uint64_t piece_segment_count(uint64_t plaintext_size);
// Size on the drive of a piece of plaintext_size bytes: 24 + plaintext + 16 per segment.
uint64_t encrypted_piece_size(uint64_t plaintext_size);
// The plaintext size of an encrypted piece of encrypted_size bytes; nullopt when no
// piece encrypts to that size.
std::optional<uint64_t> plaintext_piece_size(uint64_t encrypted_size);
// Offset of segment index within an encrypted piece.
inline uint64_t piece_segment_offset(uint64_t index) {
    return piece_header_size + index * piece_sealed_segment_size;
}

// Whether a segment is the piece's last one (it is sealed differently).
enum class FinalSegment { no, yes };

// The nonce and associated data of a piece's segments, and the key that seals them.
class SegmentSealer {
public:
    // The key's bytes must outlive the sealer (a SecretKey may be moved meanwhile).
    SegmentSealer(const SecretKey& pieces_key, const Digest& name,
                  std::span<const uint8_t, 16> nonce_prefix)
        : SegmentSealer(pieces_key.bytes(), name, nonce_prefix) {}
    SegmentSealer(std::span<const uint8_t, SecretKey::size> pieces_key, const Digest& name,
                  std::span<const uint8_t, 16> nonce_prefix);
    // Seals plain (at most one segment) into out (plain.size() + 16 bytes; may be plain).
    void seal(uint64_t index, FinalSegment final, std::span<const uint8_t> plain, uint8_t* out);
    // Opens a sealed segment into out (sealed.size() - 16 bytes; may alias sealed).
    // Returns the plaintext size; throws TamperedPiece when it does not authenticate.
    size_t open(uint64_t index, FinalSegment final, std::span<const uint8_t> sealed, uint8_t* out);

private:
    void set_index(uint64_t index, FinalSegment final);
    const uint8_t* m_key;
    std::array<uint8_t, 24> m_nonce{};      // prefix, then the segment index (LE)
    std::array<uint8_t, 64 + 8 + 1> m_ad{}; // name, segment index (LE), final flag
};

// Encrypts one piece as a stream: fed plaintext in chunks of any size, it emits the
// header and the sealed segments. It holds back at most one segment (the last one
// cannot be sealed before finish() says no more data follows).
class PieceEncryptor {
public:
    // Starts a piece named name (its keyed name) with a fresh random nonce prefix. The
    // key's bytes must outlive the encryptor.
    PieceEncryptor(const SecretKey& pieces_key, const Digest& name);
    // Starts the next piece, reusing the buffer.
    void reset(const Digest& name);

    // The most bytes update() of n bytes can emit.
    static constexpr size_t max_update_output(size_t n) {
        return piece_header_size + (n / piece_segment_size + 1) * piece_sealed_segment_size;
    }
    // The most bytes finish() can emit.
    static constexpr size_t max_finish_output = piece_header_size + piece_sealed_segment_size;

    // Encrypts plain; writes the ciphertext ready so far to out (at least
    // max_update_output(plain.size()) bytes) and returns its size.
    size_t update(std::span<const uint8_t> plain, std::span<uint8_t> out);
    // Seals the last segment into out (at least max_finish_output bytes); returns its size.
    size_t finish(std::span<uint8_t> out);
    // Plaintext bytes fed so far.
    uint64_t plaintext_bytes() const { return m_fed; }

private:
    size_t emit_header(std::span<uint8_t> out);
    std::span<const uint8_t, SecretKey::size> m_key;
    std::optional<SegmentSealer> m_sealer;
    std::array<uint8_t, piece_header_size> m_header{};
    std::vector<uint8_t> m_buf; // the held-back segment
    size_t m_buffered = 0;
    uint64_t m_index = 0, m_fed = 0;
    bool m_header_out = false, m_finished = false;
};

// Decrypts one piece as a stream: fed ciphertext in chunks of any size, it emits only
// authenticated plaintext and throws TamperedPiece on any tampering, reordering,
// truncation or trailing bytes. Given the piece's size on the drive, it knows which
// segment is the last one and opens it as soon as it arrives; without, it holds back
// one sealed segment until more data or finish() tells.
class PieceDecryptor {
public:
    // The key's bytes must outlive the decryptor. A wrong encrypted_size throws
    // TamperedPiece.
    PieceDecryptor(const SecretKey& pieces_key, const Digest& name,
                   std::optional<uint64_t> encrypted_size = std::nullopt);
    // Starts the next piece, reusing the buffer.
    void reset(const Digest& name, std::optional<uint64_t> encrypted_size = std::nullopt);

    // The most plaintext update() of n bytes can emit: the segments n completes (one
    // more with what is buffered) and, when the size is known, a short last one.
    static constexpr size_t max_update_output(size_t n) {
        return (n / piece_sealed_segment_size + 2) * piece_segment_size;
    }
    // The most plaintext finish() can emit.
    static constexpr size_t max_finish_output = piece_segment_size;

    // Decrypts cipher; writes authenticated plaintext to out (at least
    // max_update_output(cipher.size()) bytes) and returns its size.
    size_t update(std::span<const uint8_t> cipher, std::span<uint8_t> out);
    // Ends the piece: opens a held-back last segment into out (at least
    // max_finish_output bytes) and returns its size; throws TamperedPiece if the piece
    // is incomplete.
    size_t finish(std::span<uint8_t> out);
    // True once the last segment has been authenticated.
    bool done() const { return m_done; }
    // Authenticated plaintext bytes emitted so far.
    uint64_t plaintext_bytes() const { return m_emitted; }

private:
    size_t take_header(std::span<const uint8_t>& cipher);
    size_t open_next(std::span<const uint8_t> sealed, uint8_t* out);
    size_t expected_now() const;
    std::span<const uint8_t, SecretKey::size> m_key;
    Digest m_name{};
    std::optional<SegmentSealer> m_sealer;
    std::optional<uint64_t> m_segments; // known from the encrypted size
    uint64_t m_last_plain = 0;          // plaintext size of the last segment, when known
    std::array<uint8_t, piece_header_size> m_header{};
    size_t m_header_len = 0;
    std::vector<uint8_t> m_buf; // a partial or held-back sealed segment
    size_t m_buffered = 0;
    uint64_t m_index = 0, m_emitted = 0;
    bool m_done = false;
};

// Decrypts segment index of a piece on its own (random access): header is the piece's
// first 24 bytes, sealed the segment's bytes at piece_segment_offset(index). Writes the
// plaintext to out (may alias sealed) and returns its size; throws TamperedPiece.
size_t decrypt_piece_segment(const SecretKey& pieces_key, const Digest& name,
                             std::span<const uint8_t> header, uint64_t index, FinalSegment final,
                             std::span<const uint8_t> sealed, std::span<uint8_t> out);

} // namespace barge
