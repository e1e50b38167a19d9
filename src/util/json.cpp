#include "barge/util/json.hpp"

#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace barge {

void JsonWriter::separate() {
    if (m_after_key) {
        m_after_key = false;
        return;
    }
    if (!m_first.empty()) {
        if (!m_first.back()) {
            m_out += ',';
        }
        m_first.back() = false;
    }
}

void JsonWriter::begin_object() {
    separate();
    m_out += '{';
    m_first.push_back(true);
}

void JsonWriter::end_object() {
    m_out += '}';
    m_first.pop_back();
    spill();
}

void JsonWriter::begin_array() {
    separate();
    m_out += '[';
    m_first.push_back(true);
}

void JsonWriter::end_array() {
    m_out += ']';
    m_first.pop_back();
    spill();
}

void JsonWriter::spill() {
    constexpr size_t chunk = 64 * 1024;
    if (m_sink && m_later.empty() && m_out.size() >= chunk) { // nothing waits before m_out
        if (std::fwrite(m_out.data(), 1, m_out.size(), m_sink) != m_out.size()) {
            throw_errno("write", "the JSON document");
        }
        m_out.clear();
    }
}

void JsonWriter::value_later(std::function<void(JsonWriter&)> write,
                             std::function<void(JsonWriter&)> abridged) {
    separate();
    m_later.push_back({std::move(m_out), std::move(write), std::move(abridged)});
    m_out.clear();
}

std::string JsonWriter::str() const {
    std::string out;
    for (const auto& l : m_later) {
        out += l.before;
        JsonWriter w;
        (l.abridged ? l.abridged : l.write)(w);
        out += w.str();
    }
    return out + m_out;
}

void JsonWriter::write_to(std::FILE* f) const {
    auto put = [&](const std::string& s) {
        if (std::fwrite(s.data(), 1, s.size(), f) != s.size()) {
            throw_errno("write", "the JSON document");
        }
    };
    for (const auto& l : m_later) {
        put(l.before);
        JsonWriter w;
        w.m_sink = f;
        l.write(w);
        w.write_to(f);
    }
    put(m_out);
}

void JsonWriter::key(std::string_view k) {
    separate();
    m_out += '"';
    m_out += json_escape(k);
    m_out += "\":";
    m_after_key = true;
}

void JsonWriter::value(std::string_view s) {
    separate();
    m_out += '"';
    m_out += json_escape(s);
    m_out += '"';
}

void JsonWriter::value(int64_t n) {
    separate();
    m_out += std::to_string(n);
}

void JsonWriter::value(uint64_t n) {
    separate();
    m_out += std::to_string(n);
}

void JsonWriter::value(double d) {
    separate();
    m_out += std::isfinite(d) ? fmt::format("{}", d) : "null";
}

void JsonWriter::value(bool b) {
    separate();
    m_out += b ? "true" : "false";
}

void JsonWriter::null() {
    separate();
    m_out += "null";
}

const JsonValue& JsonValue::operator[](std::string_view k) const {
    static const JsonValue none;
    if (const auto* o = std::get_if<std::shared_ptr<Object>>(&m_v)) {
        if (auto it = (*o)->find(k); it != (*o)->end()) {
            return it->second;
        }
    }
    return none;
}

const JsonValue::Array& JsonValue::items() const {
    static const Array none;
    if (const auto* a = std::get_if<std::shared_ptr<Array>>(&m_v)) {
        return **a;
    }
    return none;
}

std::string JsonValue::str(std::string_view fallback) const {
    if (const auto* s = std::get_if<std::string>(&m_v)) {
        return *s;
    }
    return std::string(fallback);
}

int64_t JsonValue::num(int64_t fallback) const {
    if (const auto* d = std::get_if<double>(&m_v)) {
        return static_cast<int64_t>(*d);
    }
    return fallback;
}

double JsonValue::real(double fallback) const {
    if (const auto* d = std::get_if<double>(&m_v)) {
        return *d;
    }
    return fallback;
}

bool JsonValue::boolean(bool fallback) const {
    if (const auto* b = std::get_if<bool>(&m_v)) {
        return *b;
    }
    return fallback;
}

std::optional<std::string> JsonValue::opt_str() const {
    if (const auto* s = std::get_if<std::string>(&m_v)) {
        return *s;
    }
    return std::nullopt;
}

std::optional<int64_t> JsonValue::opt_num() const {
    if (const auto* d = std::get_if<double>(&m_v)) {
        return static_cast<int64_t>(*d);
    }
    return std::nullopt;
}

// A recursive-descent reader of RFC 8259 JSON, bounded in depth.
class JsonParser {
public:
    explicit JsonParser(std::string_view t) : m_t(t) {}

    std::optional<JsonValue> document() {
        JsonValue v;
        if (!value(v, 0)) {
            return std::nullopt;
        }
        space();
        if (m_i != m_t.size()) {
            return std::nullopt;
        }
        return v;
    }

private:
    void space() {
        while (m_i < m_t.size() && (m_t[m_i] == ' ' || m_t[m_i] == '\n' || m_t[m_i] == '\r' || m_t[m_i] == '\t')) {
            ++m_i;
        }
    }

    bool literal(std::string_view word) {
        if (m_t.substr(m_i, word.size()) != word) {
            return false;
        }
        m_i += word.size();
        return true;
    }

    bool hex4(unsigned& out) {
        if (m_i + 4 > m_t.size()) {
            return false;
        }
        out = 0;
        for (int k = 0; k < 4; ++k) {
            char c = m_t[m_i++];
            out <<= 4;
            if (c >= '0' && c <= '9') {
                out |= static_cast<unsigned>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                out |= static_cast<unsigned>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                out |= static_cast<unsigned>(c - 'A' + 10);
            } else {
                return false;
            }
        }
        return true;
    }

    static void utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool string(std::string& out) {
        if (m_i >= m_t.size() || m_t[m_i] != '"') {
            return false;
        }
        ++m_i;
        while (m_i < m_t.size()) {
            char c = m_t[m_i++];
            if (c == '"') {
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return false;
            }
            if (c != '\\') {
                out += c;
                continue;
            }
            if (m_i >= m_t.size()) {
                return false;
            }
            char e = m_t[m_i++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned cp = 0;
                if (!hex4(cp)) {
                    return false;
                }
                if (cp >= 0xDC00 && cp <= 0xDCFF) {
                    out += static_cast<char>(cp - 0xDC00); // a raw byte (json_escape)
                } else if (cp >= 0xD800 && cp <= 0xDBFF && m_t.substr(m_i, 2) == "\\u") {
                    m_i += 2;
                    unsigned lo = 0;
                    if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        return false;
                    }
                    utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                } else {
                    utf8(out, cp);
                }
                break;
            }
            default:
                return false;
            }
        }
        return false;
    }

    bool value(JsonValue& v, int depth) {
        if (depth > 64) {
            return false;
        }
        space();
        if (m_i >= m_t.size()) {
            return false;
        }
        char c = m_t[m_i];
        if (c == '{') {
            ++m_i;
            auto obj = std::make_shared<JsonValue::Object>();
            space();
            if (m_i < m_t.size() && m_t[m_i] == '}') {
                ++m_i;
                v.m_v = obj;
                return true;
            }
            for (;;) {
                space();
                std::string k;
                if (!string(k)) {
                    return false;
                }
                space();
                if (m_i >= m_t.size() || m_t[m_i++] != ':') {
                    return false;
                }
                JsonValue member;
                if (!value(member, depth + 1)) {
                    return false;
                }
                (*obj)[k] = std::move(member);
                space();
                if (m_i < m_t.size() && m_t[m_i] == ',') {
                    ++m_i;
                    continue;
                }
                if (m_i < m_t.size() && m_t[m_i] == '}') {
                    ++m_i;
                    v.m_v = obj;
                    return true;
                }
                return false;
            }
        }
        if (c == '[') {
            ++m_i;
            auto arr = std::make_shared<JsonValue::Array>();
            space();
            if (m_i < m_t.size() && m_t[m_i] == ']') {
                ++m_i;
                v.m_v = arr;
                return true;
            }
            for (;;) {
                JsonValue item;
                if (!value(item, depth + 1)) {
                    return false;
                }
                arr->push_back(std::move(item));
                space();
                if (m_i < m_t.size() && m_t[m_i] == ',') {
                    ++m_i;
                    continue;
                }
                if (m_i < m_t.size() && m_t[m_i] == ']') {
                    ++m_i;
                    v.m_v = arr;
                    return true;
                }
                return false;
            }
        }
        if (c == '"') {
            std::string s;
            if (!string(s)) {
                return false;
            }
            v.m_v = std::move(s);
            return true;
        }
        if (literal("true")) {
            v.m_v = true;
            return true;
        }
        if (literal("false")) {
            v.m_v = false;
            return true;
        }
        if (literal("null")) {
            v.m_v = std::monostate{};
            return true;
        }
        size_t start = m_i;
        while (m_i < m_t.size() && (std::isdigit(static_cast<unsigned char>(m_t[m_i])) ||
                                    m_t[m_i] == '-' || m_t[m_i] == '+' || m_t[m_i] == '.' ||
                                    m_t[m_i] == 'e' || m_t[m_i] == 'E')) {
            ++m_i;
        }
        if (start == m_i) {
            return false;
        }
        std::string num(m_t.substr(start, m_i - start));
        char* end = nullptr;
        double d = std::strtod(num.c_str(), &end);
        if (end != num.c_str() + num.size()) {
            return false;
        }
        v.m_v = d;
        return true;
    }

    std::string_view m_t;
    size_t m_i = 0;
};

std::optional<JsonValue> parse_json(std::string_view text) {
    return JsonParser(text).document();
}

} // namespace barge
