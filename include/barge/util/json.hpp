#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
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
    // A value written only when the document is: write_to streams it through a
    // writer of its own whose text goes out as it grows, so a value of millions
    // of elements (a dry run's plan, SPEC §8) is never held whole. abridged, when
    // given, writes the value for str() instead (a run's problems: the first
    // thousand in the recorded summary).
    void value_later(std::function<void(JsonWriter&)> write,
                     std::function<void(JsonWriter&)> abridged = {});
    // The whole document as one string, the values given later written in full
    // or abridged (for what must be one string: a run's recorded summary, tests).
    std::string str() const;
    // The whole document to f, the values given later streamed.
    void write_to(std::FILE* f) const;

private:
    void separate();
    void spill();
    struct Later {
        std::string before; // the text that precedes the value
        std::function<void(JsonWriter&)> write;
        std::function<void(JsonWriter&)> abridged;
    };
    std::string m_out;
    std::vector<Later> m_later;
    std::vector<bool> m_first; // per open container: nothing written in it yet
    bool m_after_key = false;
    std::FILE* m_sink = nullptr; // write_to's: m_out goes there as it grows
};

// A parsed JSON value: what barge reads back of the documents it writes (the
// progress record of a running barge). Strings decode json_escape's \udcNN back
// to the raw byte, so names round-trip exactly.
class JsonValue {
public:
    using Object = std::map<std::string, JsonValue, std::less<>>;
    using Array = std::vector<JsonValue>;

    JsonValue() = default;
    bool is_null() const { return std::holds_alternative<std::monostate>(m_v); }
    bool is_object() const { return std::holds_alternative<std::shared_ptr<Object>>(m_v); }
    bool is_array() const { return std::holds_alternative<std::shared_ptr<Array>>(m_v); }
    // The member k of an object (a null value when absent or not an object).
    const JsonValue& operator[](std::string_view k) const;
    // The elements of an array (empty when not an array).
    const Array& items() const;
    // As a string, number or boolean; the fallback when it is something else.
    std::string str(std::string_view fallback = "") const;
    int64_t num(int64_t fallback = 0) const;
    double real(double fallback = 0) const;
    bool boolean(bool fallback = false) const;
    std::optional<std::string> opt_str() const;
    std::optional<int64_t> opt_num() const;

private:
    friend class JsonParser;
    std::variant<std::monostate, bool, double, std::string, std::shared_ptr<Array>,
                 std::shared_ptr<Object>>
        m_v;
};

// Parses one JSON document; nullopt when it is not valid JSON.
std::optional<JsonValue> parse_json(std::string_view text);

} // namespace barge
