#include "barge/cli/status_report.hpp"
#include "barge/util/json.hpp"
#include "barge/util/time.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

using namespace barge;
using namespace barge::cli;

namespace {

DriveReport drive(std::optional<uint64_t> reclaimable) {
    DriveReport r;
    r.root = "/drive";
    r.pieces = 3;
    r.used = 3000;
    r.free = 1000;
    r.capacity = 5000;
    r.reclaimable = reclaimable;
    return r;
}

} // namespace

// status does not count what is reclaimable when that takes a long pass
// (status_reclaim_rows): every form says so instead of showing a number.
TEST(StatusReport, ReclaimableNotCountedIsSaidSoInEveryForm) {
    DriveReport r = drive(std::nullopt);
    std::string text = report_text(r);
    EXPECT_NE(text.find("not counted at this size ('barge dump-cargo' counts it)"), std::string::npos)
        << text;
    std::string metrics = report_metrics(r, 0, 0);
    EXPECT_NE(metrics.find("barge_cargo_bytes{kind=\"used\"} 3000\n"), std::string::npos) << metrics;
    EXPECT_EQ(metrics.find("kind=\"reclaimable\""), std::string::npos) << metrics;
    std::optional<JsonValue> v = parse_json(report_snapshot(r));
    ASSERT_TRUE(v);
    EXPECT_TRUE((*v)["cargo"]["reclaimable_bytes"].is_null());
    EXPECT_FALSE(report_from_json(*v).reclaimable.has_value());
}

TEST(StatusReport, ReclaimableCountedIsShownInEveryForm) {
    DriveReport r = drive(1000);
    std::string text = report_text(r);
    EXPECT_NE(text.find("delivered: the next load reclaims it"), std::string::npos) << text;
    EXPECT_EQ(text.find("not counted"), std::string::npos) << text;
    EXPECT_NE(report_metrics(r, 0, 0).find("barge_cargo_bytes{kind=\"reclaimable\"} 1000\n"),
              std::string::npos);
    std::optional<JsonValue> v = parse_json(report_snapshot(r));
    ASSERT_TRUE(v);
    EXPECT_EQ((*v)["cargo"]["reclaimable_bytes"].num(), 1000);
    EXPECT_EQ(report_from_json(*v).reclaimable, std::optional<uint64_t>(1000));
}

// status --check (report_problems) says --max-age in the largest whole unit,
// and counts only the missed files (StatusStore::missed) not carried for longer
// than it, naming the longest missed; "or more" where every file listed is over
// it and the list was cut short.
TEST(StatusReport, CheckNamesTheFilesMissedLongerThanMaxAgeInItsWholeUnit) {
    constexpr int64_t s = 1'000'000'000;
    constexpr int64_t now = 1'000'000 * s;
    DriveReport r = drive(0);
    PairReport p;
    p.name = "p";
    LastRun ok{.started_ns = now - 10 * s, .host = "h", .command = "load", .exit_code = 0};
    p.last_load = ok;
    p.last_unload = ok;
    p.last_verify = ok;
    r.pairs.push_back(p);
    EXPECT_TRUE(report_problems(r, now, 60).empty()) << "nothing missed, runs young";

    auto problems = [&](double max_age_s) {
        std::string all;
        for (const auto& line : report_problems(r, now, max_age_s)) {
            all += line + "\n";
        }
        return all;
    };
    // Missed since 40 h and 2 h, 3 files missed in all (1 not listed).
    r.pairs[0].status.missed = {{"old", now - 40 * 3600 * s, 7}, {"new", now - 2 * 3600 * s, 1}};
    r.pairs[0].status.missed_files = 3;
    EXPECT_EQ(problems(36 * 3600.0),
              "p: 1 file not carried for longer than 36 hours since a read found it changing "
              "(the longest since " +
                  format_utc(now - 40 * 3600 * s) + ": 'old'; see 'barge status p')\n");
    EXPECT_EQ(problems(90 * 60.0),
              "p: 2 files or more not carried for longer than 90 minutes since a read found them "
              "changing (the longest since " +
                  format_utc(now - 40 * 3600 * s) + ": 'old'; see 'barge status p')\n");
    EXPECT_EQ(problems(2 * 86400.0), "") << "none missed for longer than 2 days";

    // The same words for a run too old, in days, and in seconds.
    r.pairs[0].status.missed.clear();
    r.pairs[0].status.missed_files = 0;
    r.pairs[0].last_unload->started_ns = now - 3 * 86400 * s;
    EXPECT_EQ(problems(2 * 86400.0), "p: the last unload is older than 2 days (" +
                                         format_utc(now - 3 * 86400 * s) + ")\n");
    EXPECT_NE(problems(1.0).find("p: the last load is older than 1 second ("), std::string::npos);
}
