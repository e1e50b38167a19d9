#include "barge/crypto/sealed_log.hpp"

#include "barge/util/le_bytes.hpp"
#include "barge/util/text.hpp"

#include <fmt/format.h>
#include <sodium.h>

namespace barge {

namespace {

constexpr std::string_view ad_prefix = "barge-log-v1";
constexpr size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr uint32_t max_record = 1 << 20;

std::string record_ad(std::string_view header, uint64_t offset) {
    std::string ad(ad_prefix);
    ad += header;
    append_le64(ad, offset);
    return ad;
}

} // namespace

std::string new_log_header() {
    ensure_sodium();
    std::string h(log_magic);
    h.resize(log_header_size);
    randombytes_buf(h.data() + log_magic.size(), log_header_size - log_magic.size());
    return h;
}

std::string seal_log_record(const SecretKey& logs_key, std::string_view header, uint64_t offset,
                            std::string_view line) {
    ensure_sodium();
    if (line.size() + tag_size > max_record) {
        line = line.substr(0, max_record - tag_size);
    }
    std::string ad = record_ad(header, offset);
    std::string out;
    append_le32(out, static_cast<uint32_t>(line.size() + tag_size));
    size_t at = out.size();
    out.resize(at + nonce_size + line.size() + tag_size);
    auto* nonce = reinterpret_cast<unsigned char*>(out.data() + at);
    randombytes_buf(nonce, nonce_size);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        nonce + nonce_size, &clen, reinterpret_cast<const unsigned char*>(line.data()), line.size(),
        reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce,
        logs_key.data());
    return out;
}

namespace {
// The records after a header (whatever its magic says).
LogLines open_records(const SecretKey& logs_key, std::string_view file, std::string_view where) {
    std::string_view header = file.substr(0, log_header_size);
    LogLines out;
    size_t pos = log_header_size;
    while (pos < file.size()) {
        if (file.size() - pos < 4 + nonce_size) {
            out.truncated = true;
            break;
        }
        uint32_t len = read_le32(file.data() + pos);
        if (len < tag_size || len > max_record) {
            throw TamperedLog(fmt::format("'{}': the record at byte {} is malformed", where, pos));
        }
        if (file.size() - pos - 4 - nonce_size < len) {
            out.truncated = true;
            break;
        }
        std::string ad = record_ad(header, pos);
        const auto* nonce = reinterpret_cast<const unsigned char*>(file.data() + pos + 4);
        std::string line(len - tag_size, '\0');
        unsigned long long mlen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                reinterpret_cast<unsigned char*>(line.data()), &mlen, nullptr, nonce + nonce_size,
                len, reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce,
                logs_key.data()) != 0) {
            throw TamperedLog(fmt::format(
                "'{}': the record at byte {} does not authenticate (tampered)", where, pos));
        }
        out.lines.push_back(std::move(line));
        pos += 4 + nonce_size + len;
    }
    return out;
}
} // namespace

LogLines open_log_file(const SecretKey& logs_key, std::string_view file, std::string_view where) {
    ensure_sodium();
    if (file.size() < log_header_size || file.substr(0, log_magic.size()) != log_magic) {
        throw TamperedLog(fmt::format("'{}' is not a barge log (no header)", where));
    }
    return open_records(logs_key, file, where);
}

namespace {
std::string note_header() {
    std::string h("BRGNOTE1");
    h.resize(log_header_size, '\0');
    return h;
}
} // namespace

std::string seal_note(const SecretKey& logs_key, std::string_view text) {
    std::string rec = seal_log_record(logs_key, note_header(), log_header_size, text);
    return to_hex({reinterpret_cast<const uint8_t*>(rec.data()), rec.size()});
}

std::optional<std::string> open_note(const SecretKey& logs_key, std::string_view hex) {
    auto raw = from_hex(hex);
    if (!raw) {
        return std::nullopt;
    }
    ensure_sodium();
    std::string file = note_header() + *raw;
    try {
        LogLines lines = open_records(logs_key, file, "note");
        if (lines.lines.size() != 1 || lines.truncated) {
            return std::nullopt;
        }
        return std::move(lines.lines.front());
    } catch (const TamperedLog&) {
        return std::nullopt;
    }
}

} // namespace barge
