#include "barge/util/time.hpp"

#include <ctime>
#include <fmt/format.h>

namespace barge {

int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double monotonic_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

namespace {
tm utc_tm(int64_t ns) {
    time_t secs = static_cast<time_t>(ns / 1'000'000'000);
    tm t{};
    gmtime_r(&secs, &t);
    return t;
}
} // namespace

std::string format_utc(int64_t ns) {
    tm t = utc_tm(ns);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.tm_year + 1900, t.tm_mon + 1,
                       t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
}

std::string utc_stamp(int64_t ns) {
    tm t = utc_tm(ns);
    return fmt::format("{:04}-{:02}-{:02}T{:02}{:02}{:02}.{:09}Z", t.tm_year + 1900, t.tm_mon + 1,
                       t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ns % 1'000'000'000);
}

} // namespace barge
