#include "barge/util/path.hpp"

#include <gtest/gtest.h>
#include <vector>
#include <unistd.h>

using namespace barge;

TEST(Path, AbsoluteIsLexical) {
    EXPECT_EQ(absolute_path("/a/./b//c/../d"), "/a/b/d");
    EXPECT_EQ(absolute_path("/.."), "/");
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    EXPECT_EQ(absolute_path("x/y"), std::string(cwd) == "/" ? "/x/y" : std::string(cwd) + "/x/y");
}

TEST(Path, Parent) {
    EXPECT_EQ(parent_path("/a/b"), "/a");
    EXPECT_EQ(parent_path("/a"), "/");
}

TEST(Path, SafeRelative) {
    EXPECT_TRUE(is_safe_relative_path("a"));
    EXPECT_TRUE(is_safe_relative_path("a/b/c.txt"));
    EXPECT_TRUE(is_safe_relative_path("..."));
    EXPECT_TRUE(is_safe_relative_path("a/..b"));
    for (const std::string& bad : std::vector<std::string>{"", "/etc/x", "../x", "a/../../x", "a/./b", "a//b", "a/", "..",
                            std::string("a\0b", 3)}) {
        EXPECT_FALSE(is_safe_relative_path(bad)) << bad;
    }
}
