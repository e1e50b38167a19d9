#include "barge/cli/status_report.hpp"
#include "barge/util/json.hpp"

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
