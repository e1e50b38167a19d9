#include "barge/catalog/database.hpp"

#include <gtest/gtest.h>

using namespace barge;

TEST(SqliteFileUri, EscapesWhatAUriWouldMisread) {
    EXPECT_EQ(sqlite_file_uri("/d/barge.db", "a=1"), "file:///d/barge.db?a=1");
    EXPECT_EQ(sqlite_file_uri("rel/x.db", ""), "file:rel/x.db");
    EXPECT_EQ(sqlite_file_uri("//srv/x", ""), "file:////srv/x");
    EXPECT_EQ(sqlite_file_uri("/a b/c?d#e%f", "k=v"), "file:///a%20b/c%3fd%23e%25f?k=v");
    EXPECT_EQ(sqlite_file_uri("/\xc3\xa9", ""), "file:///%c3%a9");
}
