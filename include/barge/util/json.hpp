#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace barge {

// A small streaming JSON writer: commas and nesting are tracked for the caller.
//   JsonWriter j; j.begin_object(); j.key("n"); j.value(1); j.end_object(); j.str();
class JsonWriter {
public:
    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    void key(std::string_view k);
    // Strings are raw bytes; invalid UTF-8 is escaped reversibly (see json_escape).
    void value(std::string_view s);
    void value(const char* s) { value(std::string_view(s)); }
    void value(const std::string& s) { value(std::string_view(s)); }
    void value(int64_t n);
    void value(uint64_t n);
    void value(int n) { value(static_cast<int64_t>(n)); }
    void value(double d);
    void value(bool b);
    void null();
    // key + value in one call.
    template <typename T> void field(std::string_view k, const T& v) {
        key(k);
        value(v);
    }
    const std::string& str() const { return m_out; }

private:
    void separate();
    std::string m_out;
    std::vector<bool> m_first; // per open container: nothing written in it yet
    bool m_after_key = false;
};

} // namespace barge
