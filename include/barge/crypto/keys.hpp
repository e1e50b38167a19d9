#pragma once

#include "barge/util/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>

struct stat;

namespace barge {

// Initialises libsodium once (thread-safe); every crypto entry point calls it first.
void ensure_sodium();

// A 32-byte secret key in guarded, locked memory (sodium_malloc), zeroed when destroyed.
// Move-only; a moved-from key holds nothing and must not be used.
class SecretKey {
public:
    static constexpr size_t size = 32;

    // A fresh key from the system's CSPRNG (randombytes_buf).
    static SecretKey random();
    // A key of all zero bytes, to be filled in place through data().
    static SecretKey zeroed();
    // A key holding a copy of these bytes (test vectors).
    static SecretKey from_bytes(std::span<const uint8_t, size> bytes);

    ~SecretKey();
    SecretKey(SecretKey&& other) noexcept;
    SecretKey& operator=(SecretKey&& other) noexcept;
    SecretKey(const SecretKey&) = delete;
    SecretKey& operator=(const SecretKey&) = delete;

    // The key bytes (size of them).
    const uint8_t* data() const { return m_bytes; }
    uint8_t* data() { return m_bytes; }
    std::span<const uint8_t, size> bytes() const {
        return std::span<const uint8_t, size>(m_bytes, size);
    }
    // Constant-time comparison.
    bool operator==(const SecretKey& other) const;

private:
    SecretKey();
    uint8_t* m_bytes = nullptr;
};

// The passphrase did not unlock the key (or the wrapped key was altered): exit 2.
class WrongPassphrase : public Refusal {
public:
    WrongPassphrase() : Refusal("wrong passphrase") {}
};

// A key file (wrapped or saved) is malformed, or unsafe to trust.
class KeyFileError : public Error {
public:
    using Error::Error;
};

// Argon2id cost, recorded with each wrapped key so that it can be raised later.
struct KdfParams {
    uint64_t opslimit = 4;
    uint64_t memlimit = uint64_t{128} << 20; // bytes
    bool operator==(const KdfParams&) const = default;
};

// Whether an Argon2id cost is one barge accepts (recorded in a key file or asked
// for): opslimit 1..64, memlimit 8 KiB..16 GiB in whole KiB.
bool valid_kdf(const KdfParams& kdf);

// The data key wrapped by a key derived from a passphrase (DRIVE/barge.key).
struct WrappedKey {
    std::string drive_id;
    KdfParams kdf;
    std::array<uint8_t, 16> salt{};
    std::array<uint8_t, 24> nonce{};
    std::array<uint8_t, SecretKey::size + 16> ciphertext{}; // the key, then the Poly1305 tag
    bool operator==(const WrappedKey&) const = default;
};

// Wraps key under passphrase for the drive drive_id (fresh salt and nonce).
WrappedKey wrap_key(const SecretKey& key, std::string_view passphrase, std::string_view drive_id,
                    const KdfParams& kdf = {});
// The data key; throws WrongPassphrase when passphrase (or the record) does not match.
SecretKey unwrap_key(const WrappedKey& wrapped, std::string_view passphrase);
// The same data key wrapped under new_passphrase (`barge passphrase change`); keeps the
// KDF cost unless kdf is given. Throws WrongPassphrase for a wrong old_passphrase.
WrappedKey rewrap_key(const WrappedKey& wrapped, std::string_view old_passphrase,
                      std::string_view new_passphrase, std::optional<KdfParams> kdf = std::nullopt);

// The text form of a wrapped key: "barge-key 1" then one "name value" line per field.
std::string format_wrapped_key(const WrappedKey& wrapped);
// Parses format_wrapped_key's text; throws KeyFileError naming where for anything else.
WrappedKey parse_wrapped_key(std::string_view text, std::string_view where);

// A data key saved at an endpoint, so that cron needs no passphrase there.
struct SavedKey {
    std::string drive_id;
    SecretKey key;
};
// The text form of a saved key: "barge-saved-key 1", "drive_id ID", "key HEX". The caller
// should sodium_memzero the returned string once it is written.
std::string format_saved_key(const SecretKey& key, std::string_view drive_id);
// Parses format_saved_key's text; throws KeyFileError naming where for anything else.
SavedKey parse_saved_key(std::string_view text, std::string_view where);
// Throws Refusal unless st is a regular file owned by owner and not readable, writable or
// executable by group or others (a key file must be mode 0600 or stricter).
void check_key_file_stat(const struct stat& st, uid_t owner, std::string_view path);

// What a subkey protects; each has its own crypto_kdf context.
enum class Subkey { pieces, piece_names, catalog, logs };
// The subkey of data_key for which (crypto_kdf_derive_from_key, subkey id 1).
SecretKey derive_subkey(const SecretKey& data_key, Subkey which);

} // namespace barge
