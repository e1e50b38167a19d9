#include "barge/crypto/piece_format.hpp"
#include "barge/util/le_bytes.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <sodium.h>

namespace barge {

namespace {

TamperedPiece bad_segment(uint64_t index) {
    return TamperedPiece(fmt::format("encrypted piece: segment {} does not authenticate "
                                    "(tampered, reordered, truncated, or another piece's)",
                                    index));
}

// The nonce prefix of a piece header, after checking its magic.
std::span<const uint8_t, 16> header_prefix(std::span<const uint8_t> header) {
    if (header.size() != piece_header_size ||
        std::memcmp(header.data(), piece_magic.data(), piece_magic.size()) != 0) {
        throw TamperedPiece("encrypted piece: bad header (not a barge encrypted piece)");
    }
    return header.subspan<8, 16>();
}

} // namespace

uint64_t piece_segment_count(uint64_t plaintext_size) {
    return plaintext_size == 0 ? 1 : (plaintext_size + piece_segment_size - 1) / piece_segment_size;
}

uint64_t encrypted_piece_size(uint64_t plaintext_size) {
    return piece_header_size + plaintext_size +
           piece_tag_size * piece_segment_count(plaintext_size);
}

std::optional<uint64_t> plaintext_piece_size(uint64_t encrypted_size) {
    if (encrypted_size < piece_header_size + piece_tag_size) {
        return std::nullopt;
    }
    uint64_t body = encrypted_size - piece_header_size;
    uint64_t full = body / piece_sealed_segment_size, rest = body % piece_sealed_segment_size;
    if (rest == 0) {
        return full * piece_segment_size;
    }
    // A last segment is at least its tag; an empty one only ever ends an empty piece.
    if (rest < piece_tag_size || (rest == piece_tag_size && full > 0)) {
        return std::nullopt;
    }
    return full * piece_segment_size + rest - piece_tag_size;
}

SegmentSealer::SegmentSealer(std::span<const uint8_t, SecretKey::size> pieces_key,
                             const Digest& name, std::span<const uint8_t, 16> nonce_prefix)
    : m_key(pieces_key.data()) {
    ensure_sodium();
    std::memcpy(m_nonce.data(), nonce_prefix.data(), nonce_prefix.size());
    std::memcpy(m_ad.data(), name.data(), name.size());
}

void SegmentSealer::set_index(uint64_t index, FinalSegment final) {
    put_le64(m_nonce.data() + 16, index);
    put_le64(m_ad.data() + 64, index);
    m_ad[72] = final == FinalSegment::yes ? 1 : 0;
}

void SegmentSealer::seal(uint64_t index, FinalSegment final, std::span<const uint8_t> plain,
                         uint8_t* out) {
    set_index(index, final);
    unsigned long long sealed_len = 0;
    // An empty last segment still gets its tag; libsodium wants a valid pointer.
    const uint8_t* m = plain.empty() ? out : plain.data();
    crypto_aead_xchacha20poly1305_ietf_encrypt(out, &sealed_len, m, plain.size(), m_ad.data(),
                                               m_ad.size(), nullptr, m_nonce.data(), m_key);
}

size_t SegmentSealer::open(uint64_t index, FinalSegment final, std::span<const uint8_t> sealed,
                           uint8_t* out) {
    set_index(index, final);
    unsigned long long plain_len = 0;
    if (sealed.size() < piece_tag_size ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plain_len, nullptr, sealed.data(),
                                                   sealed.size(), m_ad.data(), m_ad.size(),
                                                   m_nonce.data(), m_key) != 0) {
        throw bad_segment(index);
    }
    return static_cast<size_t>(plain_len);
}

PieceEncryptor::PieceEncryptor(const SecretKey& pieces_key, const Digest& name)
    : m_key(pieces_key.bytes()), m_buf(piece_segment_size) {
    reset(name);
}

void PieceEncryptor::reset(const Digest& name) {
    ensure_sodium();
    std::memcpy(m_header.data(), piece_magic.data(), piece_magic.size());
    // A random prefix per piece: the same content re-encrypted never reuses a nonce.
    randombytes_buf(m_header.data() + piece_magic.size(), 16);
    m_sealer.emplace(m_key, name, std::span<const uint8_t, 16>(m_header.data() + 8, 16));
    m_buffered = 0;
    m_index = m_fed = 0;
    m_header_out = m_finished = false;
}

size_t PieceEncryptor::emit_header(std::span<uint8_t> out) {
    if (m_header_out) {
        return 0;
    }
    std::memcpy(out.data(), m_header.data(), m_header.size());
    m_header_out = true;
    return m_header.size();
}

size_t PieceEncryptor::update(std::span<const uint8_t> plain, std::span<uint8_t> out) {
    if (m_finished) {
        throw Error("PieceEncryptor::update after finish");
    }
    if (out.size() < max_update_output(plain.size())) {
        throw Error("PieceEncryptor::update: output buffer too small");
    }
    size_t w = emit_header(out);
    m_fed += plain.size();
    if (m_buffered > 0) {
        size_t take = std::min(piece_segment_size - m_buffered, plain.size());
        std::memcpy(m_buf.data() + m_buffered, plain.data(), take);
        m_buffered += take;
        plain = plain.subspan(take);
        if (plain.empty()) {
            return w; // the buffer may hold the last segment: wait for more or finish()
        }
        m_sealer->seal(m_index++, FinalSegment::no, {m_buf.data(), piece_segment_size},
                       out.data() + w);
        w += piece_sealed_segment_size;
        m_buffered = 0;
    }
    // Whole segments with more data after them are sealed straight from the caller's
    // buffer: only the tail is copied.
    while (plain.size() > piece_segment_size) {
        m_sealer->seal(m_index++, FinalSegment::no, plain.first(piece_segment_size),
                       out.data() + w);
        w += piece_sealed_segment_size;
        plain = plain.subspan(piece_segment_size);
    }
    std::copy(plain.begin(), plain.end(), m_buf.begin());
    m_buffered = plain.size();
    return w;
}

size_t PieceEncryptor::finish(std::span<uint8_t> out) {
    if (m_finished) {
        throw Error("PieceEncryptor::finish called twice");
    }
    if (out.size() < max_finish_output) {
        throw Error("PieceEncryptor::finish: output buffer too small");
    }
    size_t w = emit_header(out);
    m_sealer->seal(m_index, FinalSegment::yes, {m_buf.data(), m_buffered}, out.data() + w);
    m_finished = true;
    return w + m_buffered + piece_tag_size;
}

PieceDecryptor::PieceDecryptor(const SecretKey& pieces_key, const Digest& name,
                               std::optional<uint64_t> encrypted_size)
    : m_key(pieces_key.bytes()), m_buf(piece_sealed_segment_size) {
    reset(name, encrypted_size);
}

void PieceDecryptor::reset(const Digest& name, std::optional<uint64_t> encrypted_size) {
    m_segments.reset();
    if (encrypted_size) {
        auto plain = plaintext_piece_size(*encrypted_size);
        if (!plain) {
            throw TamperedPiece(
                fmt::format("encrypted piece: {} bytes is not the size of an encrypted piece",
                            *encrypted_size));
        }
        m_segments = piece_segment_count(*plain);
        m_last_plain = *plain - (*m_segments - 1) * piece_segment_size;
    }
    m_name = name;
    m_sealer.reset();
    m_header_len = m_buffered = 0;
    m_index = m_emitted = 0;
    m_done = false;
}

size_t PieceDecryptor::take_header(std::span<const uint8_t>& cipher) {
    size_t take = std::min(piece_header_size - m_header_len, cipher.size());
    std::memcpy(m_header.data() + m_header_len, cipher.data(), take);
    m_header_len += take;
    cipher = cipher.subspan(take);
    if (m_header_len == piece_header_size && !m_sealer) {
        m_sealer.emplace(m_key, m_name, header_prefix(m_header));
    }
    return take;
}

size_t PieceDecryptor::expected_now() const {
    if (m_segments && m_index + 1 == *m_segments) {
        return static_cast<size_t>(m_last_plain) + piece_tag_size;
    }
    return piece_sealed_segment_size;
}

size_t PieceDecryptor::open_next(std::span<const uint8_t> sealed, uint8_t* out) {
    bool last = m_segments && m_index + 1 == *m_segments;
    size_t n = m_sealer->open(m_index, last ? FinalSegment::yes : FinalSegment::no, sealed, out);
    ++m_index;
    m_emitted += n;
    m_done = last;
    return n;
}

size_t PieceDecryptor::update(std::span<const uint8_t> cipher, std::span<uint8_t> out) {
    if (out.size() < max_update_output(cipher.size())) {
        throw Error("PieceDecryptor::update: output buffer too small");
    }
    take_header(cipher);
    size_t w = 0;
    while (!cipher.empty()) {
        if (m_done) {
            throw TamperedPiece("encrypted piece: bytes after its last segment");
        }
        size_t want = expected_now();
        // Without the piece's size, a whole sealed segment is opened only once more data
        // shows it is not the last one.
        bool complete_enough = m_segments.has_value();
        if (m_buffered == 0 && cipher.size() >= want && (complete_enough || cipher.size() > want)) {
            w += open_next(cipher.first(want), out.data() + w); // no copy
            cipher = cipher.subspan(want);
            continue;
        }
        size_t take = std::min(want - m_buffered, cipher.size());
        std::memcpy(m_buf.data() + m_buffered, cipher.data(), take);
        m_buffered += take;
        cipher = cipher.subspan(take);
        if (m_buffered == want && (complete_enough || !cipher.empty())) {
            w += open_next({m_buf.data(), want}, out.data() + w);
            m_buffered = 0;
        }
    }
    return w;
}

size_t PieceDecryptor::finish(std::span<uint8_t> out) {
    if (out.size() < max_finish_output) {
        throw Error("PieceDecryptor::finish: output buffer too small");
    }
    if (m_header_len < piece_header_size) {
        throw TamperedPiece("encrypted piece: truncated header");
    }
    if (m_done) {
        return 0;
    }
    if (m_segments || m_buffered < piece_tag_size) {
        throw TamperedPiece(fmt::format("encrypted piece: truncated after {} segments", m_index));
    }
    size_t n = m_sealer->open(m_index, FinalSegment::yes, {m_buf.data(), m_buffered}, out.data());
    ++m_index;
    m_emitted += n;
    m_buffered = 0;
    m_done = true;
    return n;
}

size_t decrypt_piece_segment(const SecretKey& pieces_key, const Digest& name,
                             std::span<const uint8_t> header, uint64_t index, FinalSegment final,
                             std::span<const uint8_t> sealed, std::span<uint8_t> out) {
    if (sealed.size() > piece_sealed_segment_size || out.size() + piece_tag_size < sealed.size()) {
        throw Error("decrypt_piece_segment: bad segment or output size");
    }
    SegmentSealer sealer(pieces_key, name, header_prefix(header));
    return sealer.open(index, final, sealed, out.data());
}

} // namespace barge
