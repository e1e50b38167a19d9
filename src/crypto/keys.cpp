#include "barge/crypto/keys.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <new>
#include <sodium.h>
#include <sys/stat.h>
#include <utility>

namespace barge {

namespace {

constexpr std::string_view wrapped_header = "barge-key 1";
constexpr std::string_view saved_header = "barge-saved-key 1";
constexpr std::string_view kdf_name = "argon2id13";
constexpr std::string_view wrap_ad_prefix = "barge-key-v1";
// Bounds on a recorded KDF cost: a tampered barge.key must not make barge hash for
// hours or allocate more memory than a machine has.
constexpr uint64_t max_opslimit = 64;
constexpr uint64_t max_memlimit = uint64_t{16} << 30;
constexpr size_t max_key_file = 4096;

bool valid_drive_id(std::string_view id) {
    return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '-' || c == '_' || c == '.';
    });
}

} // namespace

bool valid_kdf(const KdfParams& kdf) {
    return kdf.opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN && kdf.opslimit <= max_opslimit &&
           kdf.memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN && kdf.memlimit <= max_memlimit &&
           kdf.memlimit % 1024 == 0;
}

namespace {

std::string wrap_ad(std::string_view drive_id) {
    std::string ad(wrap_ad_prefix);
    ad += drive_id;
    return ad;
}

// The key-encryption key: Argon2id of the passphrase, in locked memory.
SecretKey derive_kek(std::string_view passphrase, const WrappedKey& w) {
    SecretKey kek = SecretKey::zeroed();
    if (crypto_pwhash(kek.data(), SecretKey::size, passphrase.data(), passphrase.size(),
                      w.salt.data(), w.kdf.opslimit, static_cast<size_t>(w.kdf.memlimit),
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        // Only fails when the memory cannot be had.
        throw Error(fmt::format("argon2id: cannot allocate {} bytes", w.kdf.memlimit));
    }
    return kek;
}

template <size_t N> void append_hex(std::string& out, const std::array<uint8_t, N>& bytes) {
    for (uint8_t b : bytes) {
        out += "0123456789abcdef"[b >> 4];
        out += "0123456789abcdef"[b & 15];
    }
}

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Decodes exactly out.size() bytes of lower-case hex, or returns false.
bool decode_hex(std::string_view hex, uint8_t* out, size_t size) {
    if (hex.size() != size * 2 || !is_lower_hex(hex)) {
        return false;
    }
    size_t n = 0;
    return sodium_hex2bin(out, size, hex.data(), hex.size(), nullptr, &n, nullptr) == 0 &&
           n == size;
}

uint64_t parse_u64(std::string_view s, bool& ok) {
    uint64_t v = 0;
    ok = !s.empty() && s.size() <= 19 && (s.size() == 1 || s[0] != '0');
    for (char c : s) {
        if (c < '0' || c > '9') {
            ok = false;
            return 0;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
}

// The fields of a key file: its first line must be header, then exactly the given names,
// each once, as "name value" lines. Values are views into text.
template <size_t N>
std::array<std::string_view, N> parse_fields(std::string_view text, std::string_view where,
                                             std::string_view header,
                                             const std::array<std::string_view, N>& names) {
    auto fail = [&](const std::string& why) -> KeyFileError {
        return KeyFileError(fmt::format("key file '{}': {}", where, why));
    };
    if (text.size() > max_key_file) {
        throw fail("too large");
    }
    if (!text.empty() && text.back() == '\n') {
        text.remove_suffix(1);
    }
    std::array<std::string_view, N> values{};
    std::array<bool, N> seen{};
    size_t line_no = 0;
    for (size_t pos = 0;;) {
        size_t end = text.find('\n', pos);
        std::string_view line = text.substr(pos, end == std::string_view::npos ? end : end - pos);
        ++line_no;
        if (line_no == 1) {
            if (line != header) {
                throw fail(fmt::format("first line is not '{}'", header));
            }
        } else {
            size_t space = line.find(' ');
            if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
                line.find(' ', space + 1) != std::string_view::npos) {
                throw fail(fmt::format("line {} is not 'name value'", line_no));
            }
            std::string_view name = line.substr(0, space);
            auto it = std::find(names.begin(), names.end(), name);
            if (it == names.end()) {
                throw fail(fmt::format("line {}: unknown field '{}'", line_no, name));
            }
            auto i = static_cast<size_t>(it - names.begin());
            if (seen[i]) {
                throw fail(fmt::format("line {}: '{}' given twice", line_no, name));
            }
            seen[i] = true;
            values[i] = line.substr(space + 1);
        }
        if (end == std::string_view::npos) {
            break;
        }
        pos = end + 1;
    }
    for (size_t i = 0; i < N; ++i) {
        if (!seen[i]) {
            throw fail(fmt::format("no '{}' field", names[i]));
        }
    }
    return values;
}

} // namespace

void ensure_sodium() {
    // sodium_init picks the fastest implementations and seeds the CSPRNG; it is
    // thread-safe, and a static makes every later call free.
    static const int rc = sodium_init();
    if (rc < 0) {
        throw Error("libsodium could not be initialised");
    }
}

SecretKey::SecretKey() {
    ensure_sodium();
    // Guarded pages, locked so the key is never swapped out; freed with zeroing.
    m_bytes = static_cast<uint8_t*>(sodium_malloc(size));
    if (!m_bytes) {
        throw std::bad_alloc();
    }
    sodium_memzero(m_bytes, size);
}

SecretKey SecretKey::random() {
    SecretKey k;
    randombytes_buf(k.m_bytes, size);
    return k;
}

SecretKey SecretKey::zeroed() {
    return SecretKey();
}

SecretKey SecretKey::from_bytes(std::span<const uint8_t, size> bytes) {
    SecretKey k;
    std::memcpy(k.m_bytes, bytes.data(), size);
    return k;
}

SecretKey::~SecretKey() {
    sodium_free(m_bytes); // zeroes and unlocks; accepts nullptr
}

SecretKey::SecretKey(SecretKey&& other) noexcept : m_bytes(std::exchange(other.m_bytes, nullptr)) {}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
    if (this != &other) {
        sodium_free(m_bytes);
        m_bytes = std::exchange(other.m_bytes, nullptr);
    }
    return *this;
}

bool SecretKey::operator==(const SecretKey& other) const {
    return sodium_memcmp(m_bytes, other.m_bytes, size) == 0;
}

WrappedKey wrap_key(const SecretKey& key, std::string_view passphrase, std::string_view drive_id,
                    const KdfParams& kdf) {
    ensure_sodium();
    if (passphrase.empty()) {
        throw Refusal("the passphrase is empty");
    }
    if (!valid_drive_id(drive_id)) {
        throw Error(fmt::format("cannot wrap a key for the drive id '{}'", drive_id));
    }
    if (!valid_kdf(kdf)) {
        throw Error(fmt::format("argon2id cost out of range (opslimit {}, memlimit {})",
                                kdf.opslimit, kdf.memlimit));
    }
    WrappedKey w;
    w.drive_id = drive_id;
    w.kdf = kdf;
    randombytes_buf(w.salt.data(), w.salt.size());
    randombytes_buf(w.nonce.data(), w.nonce.size());
    SecretKey kek = derive_kek(passphrase, w);
    std::string ad = wrap_ad(drive_id);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(w.ciphertext.data(), &clen, key.data(),
                                               SecretKey::size,
                                               reinterpret_cast<const unsigned char*>(ad.data()),
                                               ad.size(), nullptr, w.nonce.data(), kek.data());
    return w;
}

SecretKey unwrap_key(const WrappedKey& wrapped, std::string_view passphrase) {
    ensure_sodium();
    if (!valid_kdf(wrapped.kdf)) {
        throw KeyFileError(fmt::format("wrapped key has an argon2id cost out of range "
                                       "(opslimit {}, memlimit {})",
                                       wrapped.kdf.opslimit, wrapped.kdf.memlimit));
    }
    SecretKey kek = derive_kek(passphrase, wrapped);
    SecretKey key = SecretKey::zeroed();
    std::string ad = wrap_ad(wrapped.drive_id);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            key.data(), &mlen, nullptr, wrapped.ciphertext.data(), wrapped.ciphertext.size(),
            reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), wrapped.nonce.data(),
            kek.data()) != 0) {
        throw WrongPassphrase();
    }
    return key;
}

WrappedKey rewrap_key(const WrappedKey& wrapped, std::string_view old_passphrase,
                      std::string_view new_passphrase, std::optional<KdfParams> kdf) {
    SecretKey key = unwrap_key(wrapped, old_passphrase);
    return wrap_key(key, new_passphrase, wrapped.drive_id, kdf.value_or(wrapped.kdf));
}

std::string format_wrapped_key(const WrappedKey& w) {
    std::string out =
        fmt::format("{}\ndrive_id {}\nkdf {}\nopslimit {}\nmemlimit {}\nsalt ", wrapped_header,
                    w.drive_id, kdf_name, w.kdf.opslimit, w.kdf.memlimit);
    append_hex(out, w.salt);
    out += "\nnonce ";
    append_hex(out, w.nonce);
    out += "\nwrapped_key ";
    append_hex(out, w.ciphertext);
    out += '\n';
    return out;
}

WrappedKey parse_wrapped_key(std::string_view text, std::string_view where) {
    static constexpr std::array<std::string_view, 7> names = {
        "drive_id", "kdf", "opslimit", "memlimit", "salt", "nonce", "wrapped_key"};
    auto v = parse_fields(text, where, wrapped_header, names);
    auto fail = [&](std::string_view field) {
        return KeyFileError(fmt::format("key file '{}': bad {}", where, field));
    };
    WrappedKey w;
    if (!valid_drive_id(v[0])) {
        throw fail("drive_id");
    }
    w.drive_id = v[0];
    if (v[1] != kdf_name) {
        throw KeyFileError(fmt::format("key file '{}': unknown kdf '{}'", where, v[1]));
    }
    bool ok_ops = false, ok_mem = false;
    w.kdf.opslimit = parse_u64(v[2], ok_ops);
    w.kdf.memlimit = parse_u64(v[3], ok_mem);
    if (!ok_ops || !ok_mem || !valid_kdf(w.kdf)) {
        throw fail("argon2id cost (opslimit, memlimit)");
    }
    if (!decode_hex(v[4], w.salt.data(), w.salt.size())) {
        throw fail("salt");
    }
    if (!decode_hex(v[5], w.nonce.data(), w.nonce.size())) {
        throw fail("nonce");
    }
    if (!decode_hex(v[6], w.ciphertext.data(), w.ciphertext.size())) {
        throw fail("wrapped_key");
    }
    return w;
}

std::string format_saved_key(const SecretKey& key, std::string_view drive_id) {
    if (!valid_drive_id(drive_id)) {
        throw Error(fmt::format("cannot save a key for the drive id '{}'", drive_id));
    }
    std::string out;
    // One allocation, so no copy of the key is left behind in freed memory.
    out.reserve(saved_header.size() + drive_id.size() + 2 * SecretKey::size + 32);
    out += saved_header;
    out += "\ndrive_id ";
    out += drive_id;
    out += "\nkey ";
    size_t at = out.size();
    out.resize(at + 2 * SecretKey::size + 1);
    sodium_bin2hex(out.data() + at, 2 * SecretKey::size + 1, key.data(), SecretKey::size);
    out.back() = '\n'; // replaces sodium_bin2hex's NUL
    return out;
}

SavedKey parse_saved_key(std::string_view text, std::string_view where) {
    static constexpr std::array<std::string_view, 2> names = {"drive_id", "key"};
    auto v = parse_fields(text, where, saved_header, names);
    if (!valid_drive_id(v[0])) {
        throw KeyFileError(fmt::format("key file '{}': bad drive_id", where));
    }
    SavedKey saved{std::string(v[0]), SecretKey::zeroed()};
    if (!decode_hex(v[1], saved.key.data(), SecretKey::size)) {
        throw KeyFileError(fmt::format("key file '{}': bad key", where));
    }
    return saved;
}

void check_key_file_stat(const struct stat& st, uid_t owner, std::string_view path) {
    if (!S_ISREG(st.st_mode)) {
        throw Refusal(fmt::format("key file '{}' is not a regular file", path));
    }
    if (st.st_uid != owner) {
        throw Refusal(fmt::format("key file '{}' is owned by uid {}, not {}: refusing to use it",
                                  path, st.st_uid, owner));
    }
    if ((st.st_mode & 077) != 0) {
        throw Refusal(fmt::format("key file '{}' has mode {:04o}: others may read it; "
                                  "chmod 600 it",
                                  path, st.st_mode & 07777));
    }
}

SecretKey derive_subkey(const SecretKey& data_key, Subkey which) {
    ensure_sodium();
    // crypto_kdf contexts are exactly 8 bytes; one per use, so no two uses share a key.
    const char* context = "bargepcs";
    switch (which) {
    case Subkey::pieces:
        context = "bargepcs";
        break;
    case Subkey::piece_names:
        context = "bargenam";
        break;
    case Subkey::catalog:
        context = "bargecat";
        break;
    case Subkey::logs:
        context = "bargelog";
        break;
    }
    SecretKey sub = SecretKey::zeroed();
    crypto_kdf_derive_from_key(sub.data(), SecretKey::size, 1, context, data_key.data());
    return sub;
}

} // namespace barge
