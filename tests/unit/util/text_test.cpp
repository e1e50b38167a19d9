#include "barge/util/json.hpp"
#include "barge/util/text.hpp"

#include <gtest/gtest.h>

using namespace barge;

namespace {

// Decodes what json_escape wrote (the subset it produces), to prove it reversible.
std::string json_unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        char c = s[++i];
        if (c == 'n') {
            out += '\n';
        } else if (c == 't') {
            out += '\t';
        } else if (c == 'r') {
            out += '\r';
        } else if (c == 'u') {
            unsigned v = static_cast<unsigned>(std::stoul(s.substr(i + 1, 4), nullptr, 16));
            i += 4;
            out += static_cast<char>(v >= 0xDC00 ? v - 0xDC00 : v);
        } else {
            out += c;
        }
    }
    return out;
}

} // namespace

TEST(Text, EscapeBytesForHumans) {
    EXPECT_EQ(escape_bytes("plain name.jpg"), "plain name.jpg");
    EXPECT_EQ(escape_bytes("caf\xc3\xa9"), "caf\xc3\xa9");
    EXPECT_EQ(escape_bytes("a\nb"), "a\\nb");
    EXPECT_EQ(escape_bytes("bad\xff"), "bad\\xff");
    EXPECT_EQ(escape_bytes("back\\slash"), "back\\\\slash");
    EXPECT_EQ(escape_bytes(std::string("nul\0x", 5)), "nul\\x00x");
}

TEST(Text, JsonEscapeIsReversibleForEveryByte) {
    std::string all;
    for (int b = 1; b < 256; ++b) {
        all += static_cast<char>(b);
    }
    all += "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7"; // valid multi-byte UTF-8 too
    std::string esc = json_escape(all);
    for (char ch : esc) {
        auto c = static_cast<unsigned char>(ch);
        EXPECT_GE(c, 0x20); // no raw control characters in a JSON string
    }
    EXPECT_EQ(json_unescape(esc), all);
    EXPECT_EQ(json_escape("\xff"), "\\udcff");
    EXPECT_EQ(json_escape("\xed\xa0\x80"), "\\udced\\udca0\\udc80"); // an encoded surrogate is invalid
    EXPECT_EQ(json_escape("\xc0\xaf"), "\\udcc0\\udcaf");             // overlong '/'
    EXPECT_EQ(json_escape("\"q\""), "\\\"q\\\"");
}

TEST(Text, HexRoundTrip) {
    std::string raw("\x00\x01\xab\xff", 4);
    std::string hex = to_hex({reinterpret_cast<const uint8_t*>(raw.data()), raw.size()});
    EXPECT_EQ(hex, "0001abff");
    EXPECT_EQ(from_hex(hex), raw);
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_FALSE(from_hex("zz"));
}

TEST(Text, JoinPath) {
    EXPECT_EQ(join_path("", "a"), "a");
    EXPECT_EQ(join_path("a/b", "c"), "a/b/c");
}

TEST(Json, WriterNestsAndSeparates) {
    JsonWriter j;
    j.begin_object();
    j.field("n", int64_t{1});
    j.key("list");
    j.begin_array();
    j.value("x");
    j.value(true);
    j.null();
    j.end_array();
    j.key("o");
    j.begin_object();
    j.end_object();
    j.end_object();
    EXPECT_EQ(j.str(), R"({"n":1,"list":["x",true,null],"o":{}})");
}

TEST(Json, ParseReadsWhatTheWriterWrites) {
    std::string name = std::string("a\xff\n\"b\"") + "caf\xc3\xa9";
    JsonWriter j;
    j.begin_object();
    j.field("name", name);
    j.field("n", int64_t{9007199254740});
    j.field("ok", true);
    j.key("none");
    j.null();
    j.key("list");
    j.begin_array();
    j.value(1);
    j.value("two");
    j.end_array();
    j.end_object();
    auto v = parse_json(j.str());
    ASSERT_TRUE(v);
    EXPECT_EQ((*v)["name"].str(), name) << "raw bytes survive json_escape and back";
    EXPECT_EQ((*v)["n"].num(), 9007199254740);
    EXPECT_TRUE((*v)["ok"].boolean());
    EXPECT_TRUE((*v)["none"].is_null());
    EXPECT_TRUE((*v)["missing"].is_null());
    ASSERT_EQ((*v)["list"].items().size(), 2u);
    EXPECT_EQ((*v)["list"].items()[1].str(), "two");
    EXPECT_EQ(parse_json("\"\\ud83d\\udcf7\"")->str(), "\xf0\x9f\x93\xb7") << "a surrogate pair";
}

// A value given later (a dry run's plan) lands where it was given, commas and
// all, and write_to sends it out as it grows instead of holding it whole.
TEST(Json, ValueWrittenLateStreamsInPlace) {
    std::FILE* out = std::tmpfile();
    ASSERT_NE(out, nullptr);
    bool streaming = false;
    long out_before_end = -1;
    JsonWriter j;
    j.begin_object();
    j.field("a", 1);
    j.key("big");
    j.value_later([&](JsonWriter& w) {
        w.begin_array();
        for (int i = 0; i < 20000; ++i) {
            w.begin_object();
            w.field("i", i);
            w.field("name", "some file name");
            w.end_object();
        }
        if (streaming) {
            out_before_end = std::ftell(out); // what left memory before the value ended
        }
        w.end_array();
    });
    j.field("after", "x");
    j.key("list");
    j.begin_array();
    j.value(1);
    j.value_later([](JsonWriter& w) { w.value("late"); });
    j.value(2);
    j.end_array();
    j.end_object();

    std::string whole = j.str();
    auto v = parse_json(whole);
    ASSERT_TRUE(v) << whole.substr(0, 200);
    EXPECT_EQ((*v)["a"].num(), 1);
    ASSERT_EQ((*v)["big"].items().size(), 20000u);
    EXPECT_EQ((*v)["big"].items()[19999]["i"].num(), 19999);
    EXPECT_EQ((*v)["after"].str(), "x");
    ASSERT_EQ((*v)["list"].items().size(), 3u);
    EXPECT_EQ((*v)["list"].items()[1].str(), "late");

    streaming = true;
    j.write_to(out);
    std::string streamed(static_cast<size_t>(std::ftell(out)), '\0');
    std::rewind(out);
    ASSERT_EQ(std::fread(streamed.data(), 1, streamed.size(), out), streamed.size());
    std::fclose(out);
    EXPECT_EQ(streamed, whole);
    EXPECT_GT(out_before_end, 64 * 1024) << "the big value was held whole before it was written";
}

TEST(Json, ParseRefusesWhatIsNotJson) {
    for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "\"unterminated", "{\"a\":1} x", "tru",
                            "\"\\q\"", "01x"}) {
        EXPECT_FALSE(parse_json(bad)) << bad;
    }
}

// A value given later with an abridged form: str() (a run's recorded summary)
// writes the abridged one, write_to (the printed document) the whole.
TEST(Json, AbridgedValueOnlyInStr) {
    JsonWriter j;
    j.begin_object();
    j.key("problems");
    j.value_later(
        [](JsonWriter& w) {
            w.begin_array();
            for (int i = 0; i < 3; ++i) {
                w.value(i);
            }
            w.end_array();
        },
        [](JsonWriter& w) {
            w.begin_array();
            w.value(0);
            w.end_array();
        });
    j.field("after", 1);
    j.end_object();
    EXPECT_EQ(j.str(), R"({"problems":[0],"after":1})");
    std::FILE* out = std::tmpfile();
    ASSERT_NE(out, nullptr);
    j.write_to(out);
    std::string printed(static_cast<size_t>(std::ftell(out)), '\0');
    std::rewind(out);
    ASSERT_EQ(std::fread(printed.data(), 1, printed.size(), out), printed.size());
    std::fclose(out);
    EXPECT_EQ(printed, R"({"problems":[0,1,2],"after":1})");
}
