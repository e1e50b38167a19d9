#include "barge/catalog/page_codec.hpp"

#include "barge/crypto/names.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/le_bytes.hpp"

#include <blake2.h>
#include <cstring>
#include <sodium.h>
#include <sqlite3.h>

namespace barge {

namespace {

constexpr size_t max_database_id = 256;
constexpr size_t ad_fixed = 1 + 8 + 8;

std::array<uint8_t, page_checksum_size> checksum_of(std::span<const uint8_t> page, uint64_t pgno) {
    std::array<uint8_t, page_checksum_size> sum{};
    std::array<uint8_t, 8> number{};
    put_le64(number.data(), pgno);
    // An 8-byte BLAKE2b is its own parameter set, not a truncated BLAKE2b-512.
    Blake2b h(sum.size());
    h.update(page.data(), page.size() - page_checksum_size);
    h.update(number.data(), number.size());
    h.final(sum);
    return sum;
}

} // namespace

void put_page_checksum(std::span<uint8_t> page, uint64_t pgno) {
    auto sum = checksum_of(page, pgno);
    std::memcpy(page.data() + page.size() - page_checksum_size, sum.data(), sum.size());
}

bool page_checksum_ok(std::span<const uint8_t> page, uint64_t pgno) {
    auto sum = checksum_of(page, pgno);
    return std::memcmp(page.data() + page.size() - page_checksum_size, sum.data(), sum.size()) == 0;
}

uint64_t lock_byte_page(uint32_t page_size) {
    // With 0, SQLITE_TESTCTRL_PENDING_BYTE changes nothing and returns the offset in
    // use; a library built without test controls returns 0: the format's 1 GiB.
    int pending = sqlite3_test_control(SQLITE_TESTCTRL_PENDING_BYTE, 0u);
    uint64_t offset = pending > 0 ? static_cast<uint64_t>(pending) : uint64_t{0x40000000};
    return offset / page_size + 1;
}

NonceSequence::NonceSequence() {
    ensure_sodium();
    randombytes_buf(m_nonce.data(), 16);
}

std::array<uint8_t, page_nonce_size> NonceSequence::next() {
    put_le64(m_nonce.data() + 16, m_counter++);
    return m_nonce;
}

PageCipher::PageCipher(SecretKey catalog_key, std::string_view database_id)
    : m_key(std::move(catalog_key)), m_mask_key(SecretKey::zeroed()), m_database_id(database_id) {
    if (m_database_id.size() > max_database_id) {
        throw Error("page cipher: database id longer than 256 bytes");
    }
    // A key of its own for the checksum masks: one key, one primitive.
    static constexpr std::string_view label = "barge-journal-checksum-mask";
    Digest d = keyed_blake2b(m_key.bytes(),
                             {reinterpret_cast<const uint8_t*>(label.data()), label.size()});
    std::memcpy(m_mask_key.data(), d.data(), SecretKey::size);
    sodium_memzero(d.data(), d.size());
}

size_t PageCipher::associated_data(PageKind kind, uint64_t pgno, uint64_t offset,
                                   uint8_t* ad) const {
    ad[0] = static_cast<uint8_t>(kind);
    put_le64(ad + 1, pgno);
    put_le64(ad + 9, offset);
    std::memcpy(ad + ad_fixed, m_database_id.data(), m_database_id.size());
    return ad_fixed + m_database_id.size();
}

void PageCipher::seal(PageKind kind, uint64_t pgno, uint64_t offset, const uint8_t* plain,
                      uint8_t* out, NonceSequence& nonces) const {
    std::array<uint8_t, ad_fixed + max_database_id> ad{};
    size_t ad_len = associated_data(kind, pgno, offset, ad.data());
    auto nonce = nonces.next();
    uint8_t* nonce_at = out + encrypted_page_content;
    uint8_t* tag_at = nonce_at + page_nonce_size;
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, tag_at, nullptr, plain,
                                                        encrypted_page_content, ad.data(), ad_len,
                                                        nullptr, nonce.data(), m_key.data());
    std::memcpy(nonce_at, nonce.data(), nonce.size());
}

bool PageCipher::open(PageKind kind, uint64_t pgno, uint64_t offset, uint8_t* page) const {
    std::array<uint8_t, ad_fixed + max_database_id> ad{};
    size_t ad_len = associated_data(kind, pgno, offset, ad.data());
    const uint8_t* nonce_at = page + encrypted_page_content;
    const uint8_t* tag_at = nonce_at + page_nonce_size;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
        page, nullptr, page, encrypted_page_content, tag_at, ad.data(), ad_len, nonce_at,
        m_key.data());
    // Never hand SQLite the nonce and tag as page content, nor ciphertext on failure.
    std::memset(page + encrypted_page_content, 0, encrypted_page_reserve);
    if (rc != 0) {
        std::memset(page, 0, encrypted_page_content);
        return false;
    }
    return true;
}

std::array<uint8_t, 4>
PageCipher::checksum_mask(uint64_t offset, std::span<const uint8_t, page_nonce_size> before) const {
    std::array<uint8_t, 8 + page_nonce_size> in{};
    put_le64(in.data(), offset);
    std::memcpy(in.data() + 8, before.data(), before.size());
    std::array<uint8_t, 4> mask{};
    ::blake2b(mask.data(), in.data(), m_mask_key.data(), mask.size(), in.size(), SecretKey::size);
    return mask;
}

} // namespace barge
