#include "barge/engine/report.hpp"

#include <csignal>
#include <cstdlib>
#include <fmt/format.h>
#include <sys/resource.h>
#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace barge;

// A plan reads back every line as added (names with any byte, long reasons, empty
// strings), in order, as often as asked, and counts what goes.
TEST(Plan, ReadsBackEveryLineInOrder) {
    Plan plan;
    EXPECT_TRUE(plan.empty());
    std::vector<PlanLine> lines;
    for (int i = 0; i < 3000; ++i) {
        PlanLine l;
        l.path = "/src/d" + std::to_string(i % 7) + std::string(1, static_cast<char>(i % 256)) + "f" + std::to_string(i);
        l.bytes = int64_t{i} * 4099;
        l.goes = i % 3 != 0;
        l.why = l.goes ? "" : std::string(static_cast<size_t>(i % 500), 'w');
        lines.push_back(l);
        plan.add(l);
    }
    EXPECT_EQ(plan.size(), 3000);
    EXPECT_EQ(plan.goes(), 2000);
    int64_t go_bytes = 0;
    for (const auto& l : lines) {
        go_bytes += l.goes ? l.bytes : 0;
    }
    EXPECT_EQ(plan.go_bytes(), go_bytes);
    for (int pass = 0; pass < 2; ++pass) {
        size_t i = 0;
        plan.each([&](const PlanLine& l) {
            ASSERT_LT(i, lines.size());
            EXPECT_EQ(l.path, lines[i].path);
            EXPECT_EQ(l.bytes, lines[i].bytes);
            EXPECT_EQ(l.goes, lines[i].goes);
            EXPECT_EQ(l.why, lines[i].why);
            ++i;
        });
        EXPECT_EQ(i, lines.size()) << "pass " << pass;
    }
    // Lines added after a read-back follow the others.
    plan.add({"/src/last", 1, true, ""});
    std::string last;
    plan.each([&](const PlanLine& l) { last = l.path; });
    EXPECT_EQ(last, "/src/last");
    EXPECT_EQ(plan.size(), 3001);
}

// The plan's file goes to $TMPDIR; where it cannot be made, the error names it.
TEST(Plan, TemporaryFileInTmpdirOrAClearError) {
    const char* old = std::getenv("TMPDIR");
    std::string saved = old ? old : "";
    ::setenv("TMPDIR", "/nonexistent-barge-tmpdir", 1);
    Plan plan;
    try {
        plan.add({"/src/a", 1, true, ""});
        ADD_FAILURE() << "a plan was kept in a directory that does not exist";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-barge-tmpdir"), std::string::npos) << e.what();
    }
    if (old) {
        ::setenv("TMPDIR", saved.c_str(), 1);
    } else {
        ::unsetenv("TMPDIR");
    }
    EXPECT_TRUE(plan.empty()) << "a line that was not kept was counted";
}

namespace {

std::vector<FileProblem> some_problems(size_t n) {
    std::vector<FileProblem> out;
    for (size_t i = 0; i < n; ++i) {
        out.push_back({"/src/d" + std::to_string(i % 7) + std::string(1, static_cast<char>(i % 256)) + "f" +
                           std::to_string(i),
                       i % 5 == 0 ? "" : "open: Permission denied " + std::string(i % 300, 'r')});
    }
    return out;
}

std::vector<FileProblem> listed(const Problems& p) {
    std::vector<FileProblem> out;
    p.each([&](const FileProblem& f) { out.push_back(f); });
    return out;
}

void expect_same(const std::vector<FileProblem>& got, const std::vector<FileProblem>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].path, want[i].path) << i;
        EXPECT_EQ(got[i].reason, want[i].reason) << i;
    }
}

} // namespace

// A run's problems: the first thousand in memory, the rest in the temporary
// file, every one listed in order, as often as asked, by every copy.
TEST(Problems, ListsEveryProblemInOrderHoldingTheFirstThousand) {
    auto want = some_problems(2500);
    Problems p;
    EXPECT_TRUE(p.empty());
    for (const auto& f : want) {
        p.push_back(f);
    }
    EXPECT_EQ(p.size(), 2500u);
    EXPECT_EQ(p.first().size(), Problems::held) << "more problems than held were kept in memory";
    expect_same(listed(p), want);
    Problems copy = p;
    expect_same(listed(copy), want);
    p.push_back({"/src/last", "late"});
    want.push_back({"/src/last", "late"});
    expect_same(listed(p), want);
}

// Where the temporary file cannot be made, the problems past the first
// thousand stay in memory: none is left out of the listing.
TEST(Problems, WithoutATemporaryFileNoneIsLost) {
    const char* old = std::getenv("TMPDIR");
    std::string saved = old ? old : "";
    ::setenv("TMPDIR", "/nonexistent-barge-tmpdir", 1);
    auto want = some_problems(1500);
    Problems p;
    for (const auto& f : want) {
        p.push_back(f);
    }
    if (old) {
        ::setenv("TMPDIR", saved.c_str(), 1);
    } else {
        ::unsetenv("TMPDIR");
    }
    EXPECT_EQ(p.size(), 1500u);
    expect_same(listed(p), want);
}

// The temporary file filling up part-way (a file size limit here, a full
// $TMPDIR in life): the problems written whole before are read back, the
// half-written one and the rest come from memory, in order.
TEST(Problems, AFileThatFillsUpPartWayLosesNone) {
    auto want = some_problems(3000);
    struct rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN); // EFBIG instead of the signal
    struct rlimit small = old;
    small.rlim_cur = 64 * 1024; // about 400 of the 2,000 past the first thousand
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    Problems p;
    for (const auto& f : want) {
        p.push_back(f);
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    EXPECT_EQ(p.size(), 3000u);
    expect_same(listed(p), want);
}

// A run's notes are kept the same way: one per file that changed while read
// can be as many as the files.
TEST(Notes, ListsEveryNoteInOrderHoldingTheFirstThousand) {
    std::vector<std::string> want;
    for (int i = 0; i < 2500; ++i) {
        want.push_back(fmt::format("'/src/{}{}' changed while being read: it will be carried on a later run",
                                   std::string(static_cast<size_t>(i % 7), 'x'), i));
    }
    want.push_back(""); // an empty one is still a note
    Notes n;
    for (const auto& s : want) {
        n.push_back(s);
    }
    EXPECT_EQ(n.size(), want.size());
    EXPECT_EQ(n.first().size(), Notes::held) << "more notes than held were kept in memory";
    std::vector<std::string> got;
    n.each([&](const std::string& s) { got.push_back(s); });
    EXPECT_EQ(got, want);
    Notes copy = n;
    got.clear();
    copy.each([&](const std::string& s) { got.push_back(s); });
    EXPECT_EQ(got, want);
}
