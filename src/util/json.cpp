#include "barge/util/json.hpp"

#include "barge/util/text.hpp"

#include <cmath>
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
}

void JsonWriter::begin_array() {
    separate();
    m_out += '[';
    m_first.push_back(true);
}

void JsonWriter::end_array() {
    m_out += ']';
    m_first.pop_back();
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

} // namespace barge
