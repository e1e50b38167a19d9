#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace barge {

// Bytes for a human: printable ASCII and valid UTF-8 as they are; other bytes,
// control characters and backslash as \xNN, \n, \t, \\ (reversible).
std::string escape_bytes(std::string_view bytes);

// Bytes as the body of a JSON string (no quotes). Valid UTF-8 passes through
// (control characters escaped); each byte of invalid UTF-8 becomes \udcNN, a lone
// low surrogate, as Python's "surrogateescape" does — so the bytes are recoverable.
std::string json_escape(std::string_view bytes);

// Lower-case hex of bytes, and back (nullopt on malformed input).
std::string to_hex(std::span<const uint8_t> bytes);
// The lines of text, without their '\n' (a final newline ends the last line;
// it does not start an empty one).
std::vector<std::string> split_lines(std::string_view text);
std::optional<std::string> from_hex(std::string_view hex);

// "a" + "/" + "b" for relative catalog paths; "" is the root.
std::string join_path(std::string_view parent, std::string_view name);

// "1 file", "2 files": a count with its noun (plural: noun + "s", or the one given).
std::string plural(int64_t n, std::string_view noun, std::string_view plural_noun = {});

// True when s starts with prefix.
inline bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

} // namespace barge
