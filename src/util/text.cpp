#include "barge/util/text.hpp"

namespace barge {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
// Rejects overlong forms, surrogates and code points above U+10FFFF.
size_t utf8_sequence_length(std::string_view s, size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (i + len > s.size()) {
        return 0;
    }
    for (size_t k = 1; k < len; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

const char* const hex_digits = "0123456789abcdef";

void append_hex_byte(std::string& out, unsigned char c) {
    out += hex_digits[c >> 4];
    out += hex_digits[c & 15];
}

} // namespace

namespace {

// Copies bytes to a new string: valid UTF-8 sequences as they are, every other
// byte through escape(out, byte), which appends its escaped form or returns
// false to let the byte pass as it is.
template <typename Escape> std::string escape_with(std::string_view bytes, Escape&& escape) {
    std::string out;
    out.reserve(bytes.size() + 2);
    for (size_t i = 0; i < bytes.size();) {
        auto c = static_cast<unsigned char>(bytes[i]);
        if (c >= 0x80) {
            if (size_t len = utf8_sequence_length(bytes, i); len > 0) {
                out.append(bytes.substr(i, len));
                i += len;
                continue;
            }
        }
        if (!escape(out, c)) {
            out += static_cast<char>(c);
        }
        ++i;
    }
    return out;
}

} // namespace

std::string escape_bytes(std::string_view bytes) {
    return escape_with(bytes, [](std::string& out, unsigned char c) {
        switch (c) {
        case '\\':
            out += "\\\\";
            return true;
        case '\n':
            out += "\\n";
            return true;
        case '\t':
            out += "\\t";
            return true;
        default:
            if (c < 0x20 || c >= 0x7F) { // control characters, invalid UTF-8
                out += "\\x";
                append_hex_byte(out, c);
                return true;
            }
            return false;
        }
    });
}

std::string json_escape(std::string_view bytes) {
    return escape_with(bytes, [](std::string& out, unsigned char c) {
        switch (c) {
        case '"':
        case '\\':
            out += '\\';
            out += static_cast<char>(c);
            return true;
        case '\n':
            out += "\\n";
            return true;
        case '\t':
            out += "\\t";
            return true;
        case '\r':
            out += "\\r";
            return true;
        default:
            if (c < 0x20 || c == 0x7F) {
                out += "\\u00";
                append_hex_byte(out, c);
                return true;
            }
            if (c >= 0x80) { // invalid UTF-8: a lone low surrogate, reversibly
                out += "\\udc";
                append_hex_byte(out, c);
                return true;
            }
            return false;
        }
    });
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        lines.emplace_back(text.substr(start, nl == std::string_view::npos ? std::string_view::npos
                                                                            : nl - start));
        if (nl == std::string_view::npos) {
            break;
        }
        start = nl + 1;
    }
    return lines;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        append_hex_byte(out, b);
    }
    return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) {
        return std::nullopt;
    }
    auto nibble = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') {
            return ch - '0';
        }
        if (ch >= 'a' && ch <= 'f') {
            return ch - 'a' + 10;
        }
        if (ch >= 'A' && ch <= 'F') {
            return ch - 'A' + 10;
        }
        return -1;
    };
    std::string out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = nibble(hex[i]);
        int lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>((hi << 4) | lo);
    }
    return out;
}

std::string plural(int64_t n, std::string_view noun, std::string_view plural_noun) {
    std::string out = std::to_string(n) + " ";
    if (n == 1) {
        out += noun;
    } else if (!plural_noun.empty()) {
        out += plural_noun;
    } else {
        out += noun;
        out += 's';
    }
    return out;
}

std::string join_path(std::string_view parent, std::string_view name) {
    if (parent.empty()) {
        return std::string(name);
    }
    std::string out;
    out.reserve(parent.size() + 1 + name.size());
    out.append(parent);
    out += '/';
    out.append(name);
    return out;
}

} // namespace barge
