#pragma once

#include "barge/crypto/keys.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace barge {

// How the VFS shim (catalog/vfs.hpp) protects one page of a catalog, in the page's
// reserved bytes. See docs/encryption.md, "Formats".

// Checksum mode: the last 8 bytes of a page hold BLAKE2b (8-byte output) of the rest of
// the page followed by the page number (u64 little-endian).
inline constexpr size_t page_checksum_size = 8;
// Writes the checksum of page (number pgno) into its last 8 bytes.
void put_page_checksum(std::span<uint8_t> page, uint64_t pgno);
// True when the page's last 8 bytes are the checksum of the rest.
bool page_checksum_ok(std::span<const uint8_t> page, uint64_t pgno);

// The number of the page that holds SQLite's lock bytes (the 512 bytes from 1 GiB
// on: sqlite.org/fileformat2.html, "The Lock-Byte Page") in a catalog of pages of
// page_size bytes. SQLite never writes it nor reads it: in a catalog over 1 GiB
// (about four million files) it carries no checksum and never authenticates, and
// whatever it holds means nothing. Whoever reads pages raw passes over it. The
// offset is the one SQLite in this process uses (tests move it lower, so that a
// small catalog has the page).
uint64_t lock_byte_page(uint32_t page_size);

// Encrypted mode: 4096-byte pages whose last 40 bytes hold a 24-byte nonce and a
// 16-byte Poly1305 tag; the first 4056 bytes are XChaCha20-Poly1305 ciphertext.
inline constexpr size_t encrypted_page_size = 4096;
inline constexpr size_t page_nonce_size = 24;
inline constexpr size_t page_tag_size = 16;
inline constexpr size_t encrypted_page_reserve = page_nonce_size + page_tag_size;
inline constexpr size_t encrypted_page_content = encrypted_page_size - encrypted_page_reserve;

// What a sealed page is: a page of the database file, or a page image in its rollback
// journal (bound to its offset there). Part of the associated data.
enum class PageKind : uint8_t { database = 'P', journal = 'J' };

// Fresh nonces for one open file: a random 16-byte prefix and a 64-bit counter, so
// sealing a page costs no system call and no two seals share a nonce.
class NonceSequence {
public:
    NonceSequence();
    std::array<uint8_t, page_nonce_size> next();

private:
    std::array<uint8_t, page_nonce_size> m_nonce{};
    uint64_t m_counter = 0;
};

// Seals and opens encrypted pages of one database (identified by database_id, bound
// to every page so that a page of another drive's catalog is refused).
class PageCipher {
public:
    // catalog_key: the catalog subkey; database_id: at most 256 bytes (the drive id).
    PageCipher(SecretKey catalog_key, std::string_view database_id);

    // Encrypts the first 4056 bytes of plain into out (4096 bytes: ciphertext, nonce,
    // tag). plain and out may be the same buffer.
    void seal(PageKind kind, uint64_t pgno, uint64_t offset, const uint8_t* plain, uint8_t* out,
              NonceSequence& nonces) const;
    // Decrypts page (4096 bytes) in place and zeroes its reserved bytes; false (and the
    // page zeroed) when it does not authenticate.
    bool open(PageKind kind, uint64_t pgno, uint64_t offset, uint8_t* page) const;
    // The 4-byte mask that hides the plaintext-derived checksum SQLite writes after a
    // page image in the journal, from its offset and the 24 bytes written before it.
    std::array<uint8_t, 4> checksum_mask(uint64_t offset,
                                         std::span<const uint8_t, page_nonce_size> before) const;

private:
    size_t associated_data(PageKind kind, uint64_t pgno, uint64_t offset, uint8_t* ad) const;
    SecretKey m_key;
    SecretKey m_mask_key;
    std::string m_database_id;
};

} // namespace barge
