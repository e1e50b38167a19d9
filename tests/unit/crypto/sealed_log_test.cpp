#include "barge/crypto/sealed_log.hpp"

#include <gtest/gtest.h>
#include <string>

using namespace barge;

namespace {

std::string log_of(const SecretKey& key, const std::vector<std::string>& lines) {
    std::string file = new_log_header();
    for (const auto& l : lines) {
        file += seal_log_record(key, file.substr(0, log_header_size), file.size(), l);
    }
    return file;
}

} // namespace

TEST(SealedLog, RoundTripAndNothingInTheClear) {
    SecretKey key = SecretKey::random();
    std::vector<std::string> lines = {"first line /photos/secret.jpg", "", "third\n"};
    std::string file = log_of(key, lines);
    EXPECT_EQ(file.find("secret"), std::string::npos);
    LogLines got = open_log_file(key, file, "test");
    EXPECT_EQ(got.lines, lines);
    EXPECT_FALSE(got.truncated);
}

TEST(SealedLog, TamperingIsRefusedATruncatedTailIsSaid) {
    SecretKey key = SecretKey::random();
    std::string file = log_of(key, {"one", "two", "three"});
    for (size_t at = log_header_size; at < file.size(); at += 7) {
        std::string bad = file;
        bad[at] ^= 0x20;
        bool refused = false;
        try {
            LogLines l = open_log_file(key, bad, "test");
            refused = l.truncated; // a length byte changed can only make it look cut
        } catch (const TamperedLog&) {
            refused = true;
        }
        EXPECT_TRUE(refused) << "byte " << at;
    }
    // Records of another file (another header) do not open here.
    std::string other = log_of(key, {"one", "two", "three"});
    EXPECT_THROW(open_log_file(key, file.substr(0, log_header_size) + other.substr(log_header_size), "t"),
                 TamperedLog);
    // Another key.
    EXPECT_THROW(open_log_file(SecretKey::random(), file, "t"), TamperedLog);
    // A write cut short: what came before still reads, and the cut is said.
    LogLines cut = open_log_file(key, file.substr(0, file.size() - 3), "t");
    EXPECT_EQ(cut.lines, (std::vector<std::string>{"one", "two"}));
    EXPECT_TRUE(cut.truncated);
}

TEST(SealedLog, Notes) {
    SecretKey key = SecretKey::random();
    std::string note = seal_note(key, R"({"phase":"load","file":"secret.jpg"})");
    EXPECT_EQ(note.find('\n'), std::string::npos);
    EXPECT_EQ(open_note(key, note), std::optional<std::string>(R"({"phase":"load","file":"secret.jpg"})"));
    EXPECT_EQ(open_note(SecretKey::random(), note), std::nullopt);
    std::string bad = note;
    bad[bad.size() / 2] = bad[bad.size() / 2] == '0' ? '1' : '0';
    EXPECT_EQ(open_note(key, bad), std::nullopt);
    EXPECT_EQ(open_note(key, "zz"), std::nullopt);
}
