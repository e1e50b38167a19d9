#include "barge/util/error.hpp"
#include "barge/util/glob.hpp"

#include <gtest/gtest.h>

using namespace barge;

TEST(Glob, NameAtAnyDepth) {
    Glob g("*.tmp");
    EXPECT_TRUE(g.matches("a.tmp", false));
    EXPECT_TRUE(g.matches("x/y/a.tmp", false));
    EXPECT_FALSE(g.matches("a.tmp.txt", false));
    EXPECT_FALSE(g.matches("tmp/a.txt", false));
}

TEST(Glob, TrailingSlashMatchesDirectoriesOnly) {
    Glob g("cache/");
    EXPECT_TRUE(g.matches("cache", true));
    EXPECT_TRUE(g.matches("a/b/cache", true));
    EXPECT_FALSE(g.matches("cache", false));
}

TEST(Glob, DoubleStar) {
    Glob g("**/node_modules");
    EXPECT_TRUE(g.matches("node_modules", true));
    EXPECT_TRUE(g.matches("web/app/node_modules", true));
    EXPECT_FALSE(g.matches("web/node_modules_old", true));

    Glob inside("build/**");
    EXPECT_TRUE(inside.matches("build/x", false));
    EXPECT_TRUE(inside.matches("build/x/y", false));
    EXPECT_FALSE(inside.matches("build", true));
    EXPECT_FALSE(inside.matches("src/build/x", false));

    Glob middle("a/**/b");
    EXPECT_TRUE(middle.matches("a/b", false));
    EXPECT_TRUE(middle.matches("a/x/y/b", false));
    EXPECT_FALSE(middle.matches("a/x/c", false));
}

TEST(Glob, SlashAnchorsToRoot) {
    Glob g("/build");
    EXPECT_TRUE(g.matches("build", true));
    EXPECT_FALSE(g.matches("src/build", true));
    Glob mid("docs/*.pdf");
    EXPECT_TRUE(mid.matches("docs/a.pdf", false));
    EXPECT_FALSE(mid.matches("x/docs/a.pdf", false));
    EXPECT_FALSE(mid.matches("docs/sub/a.pdf", false));
}

TEST(Glob, StarAndQuestionNeverCrossSlash) {
    Glob g("a?c");
    EXPECT_TRUE(g.matches("abc", false));
    EXPECT_FALSE(Glob("x*y").matches("x/y", false));
    EXPECT_TRUE(Glob("[ab]*").matches("beta", false));
    EXPECT_FALSE(Glob("[ab]*").matches("gamma", false));
}

TEST(Glob, RejectsUnsupported) {
    EXPECT_THROW(Glob(""), Refusal);
    EXPECT_THROW(Glob("!keep"), Refusal);
    EXPECT_THROW(Glob("/"), Refusal);
    EXPECT_THROW(Glob("a//b"), Refusal);
}

TEST(ExcludeSet, AnyMatch) {
    ExcludeSet s({"*.tmp", "cache/"});
    EXPECT_TRUE(s.excluded("x.tmp", false));
    EXPECT_TRUE(s.excluded("cache", true));
    EXPECT_FALSE(s.excluded("keep.txt", false));
    EXPECT_TRUE(ExcludeSet().empty());
}
