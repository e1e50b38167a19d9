#include "barge/hash/blake2b.hpp"

#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace barge {

namespace {

// RFC 7693 §2.6: the initialisation vector (SHA-512's).
constexpr std::array<uint64_t, 8> blake2b_iv = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

// RFC 7693 §2.7: the message schedule; rounds 10 and 11 reuse rows 0 and 1.
constexpr uint8_t blake2b_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

inline uint64_t load_le64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big) {
        v = __builtin_bswap64(v);
    }
    return v;
}

// RFC 7693 §3.1, the mixing function G.
inline void mix(uint64_t& a, uint64_t& b, uint64_t& c, uint64_t& d, uint64_t x, uint64_t y) {
    a = a + b + x;
    d = std::rotr(d ^ a, 32);
    c = c + d;
    b = std::rotr(b ^ c, 24);
    a = a + b + y;
    d = std::rotr(d ^ a, 16);
    c = c + d;
    b = std::rotr(b ^ c, 63);
}

} // namespace

Blake2b::Blake2b(size_t digest_size) : m_digest_size(digest_size) {
    if (digest_size == 0 || digest_size > max_digest_size) {
        throw Error("BLAKE2b digest size " + std::to_string(digest_size) + " is not 1 to 64 bytes");
    }
    start();
}

void Blake2b::start() {
    m_h = blake2b_iv;
    // The parameter block's first word: digest length, no key, fanout 1, depth 1.
    m_h[0] ^= 0x01010000ULL ^ uint64_t{m_digest_size};
    m_t0 = 0;
    m_t1 = 0;
    m_buf_len = 0;
}

// RFC 7693 §3.2, the compression function F. The byte counter is advanced by
// the caller.
void Blake2b::compress(const uint8_t* block, bool last) {
    uint64_t m[16];
    for (size_t i = 0; i < 16; ++i) {
        m[i] = load_le64(block + 8 * i);
    }
    uint64_t v[16];
    for (size_t i = 0; i < 8; ++i) {
        v[i] = m_h[i];
        v[i + 8] = blake2b_iv[i];
    }
    v[12] ^= m_t0;
    v[13] ^= m_t1;
    if (last) {
        v[14] = ~v[14];
    }
    // Unrolled: with constant indices the message words stay in registers.
#pragma GCC unroll 12
    for (const auto& s : blake2b_sigma) {
        mix(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]]);
        mix(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]]);
        mix(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]]);
        mix(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]]);
        mix(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]]);
        mix(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]]);
        mix(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]]);
        mix(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]]);
    }
    for (size_t i = 0; i < 8; ++i) {
        m_h[i] ^= v[i] ^ v[i + 8];
    }
}

void Blake2b::update(const void* data, size_t size) {
    auto in = static_cast<const uint8_t*>(data);
    // The last block is compressed by final() with its flag set, so a full
    // block is only compressed once more input follows it.
    auto advance = [this] {
        m_t0 += block_size;
        if (m_t0 < block_size) {
            ++m_t1;
        }
    };
    if (size == 0) {
        return;
    }
    if (m_buf_len > 0) {
        size_t take = std::min(size, block_size - m_buf_len);
        std::memcpy(m_buf.data() + m_buf_len, in, take);
        m_buf_len += take;
        in += take;
        size -= take;
        if (size == 0) {
            return;
        }
        advance();
        compress(m_buf.data(), false);
        m_buf_len = 0;
    }
    while (size > block_size) {
        advance();
        compress(in, false);
        in += block_size;
        size -= block_size;
    }
    std::memcpy(m_buf.data(), in, size);
    m_buf_len = size;
}

void Blake2b::final(std::span<uint8_t> out) {
    if (out.size() != m_digest_size) {
        throw Error("BLAKE2b output of " + std::to_string(out.size()) + " bytes for a digest of " +
                    std::to_string(m_digest_size));
    }
    m_t0 += m_buf_len;
    if (m_t0 < m_buf_len) {
        ++m_t1;
    }
    std::memset(m_buf.data() + m_buf_len, 0, block_size - m_buf_len);
    compress(m_buf.data(), true);
    uint8_t bytes[max_digest_size];
    for (size_t i = 0; i < 8; ++i) {
        uint64_t w = m_h[i];
        for (size_t j = 0; j < 8; ++j) {
            bytes[8 * i + j] = static_cast<uint8_t>(w >> (8 * j));
        }
    }
    std::memcpy(out.data(), bytes, m_digest_size);
    start();
}

Digest Blake2b::final() {
    Digest d{};
    final(d);
    return d;
}

Digest blake2b(std::string_view data) {
    Blake2b h;
    h.update(data);
    return h.final();
}

std::string digest_hex(const Digest& d) {
    return to_hex(d);
}

Digest digest_from_bytes(std::string_view raw) {
    if (raw.size() != 64) {
        throw CatalogError("catalog holds a hash of " + std::to_string(raw.size()) +
                           " bytes instead of 64");
    }
    Digest d{};
    std::memcpy(d.data(), raw.data(), 64);
    return d;
}

} // namespace barge
