#pragma once

#include "barge/crypto/keys.hpp"
#include "barge/util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace barge {

// The drive log of an encrypted drive (docs/encryption.md, "The drive log"): a file
// that only grows, a header (magic, 16 random bytes naming the file), then one
// record per log line: its length (4 bytes LE), a random 24-byte nonce and the
// line sealed with XChaCha20-Poly1305 under the logs subkey, the associated data
// binding the file's header and the record's offset (a record moved, or taken
// from another file, does not open).
inline constexpr std::string_view log_magic = "BRGLOG01";
inline constexpr size_t log_header_size = 24;

// A record of the log did not authenticate: the log was tampered with.
class TamperedLog : public Error {
public:
    using Error::Error;
};

// A new file's header (fresh random id).
std::string new_log_header();
// The record of one line, to be appended at offset (the file's size) of the file
// whose header is `header`.
std::string seal_log_record(const SecretKey& logs_key, std::string_view header, uint64_t offset,
                            std::string_view line);

struct LogLines {
    std::vector<std::string> lines;
    bool truncated = false; // the file ends inside a record (a write cut short)
};
// Opens every record of a whole log file; throws TamperedLog naming where.
LogLines open_log_file(const SecretKey& logs_key, std::string_view file, std::string_view where);

// A short text sealed the same way, as one line of hex (what a barge at work
// writes in the drive lock for `status` on an encrypted drive).
std::string seal_note(const SecretKey& logs_key, std::string_view text);
// The text, or nullopt when the note does not authenticate or is malformed.
std::optional<std::string> open_note(const SecretKey& logs_key, std::string_view hex);

} // namespace barge
