#include "barge/util/time.hpp"

#include <cstdio>
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

std::optional<int64_t> parse_utc(const std::string& text) {
    tm t{};
    char z = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &t.tm_year, &t.tm_mon, &t.tm_mday,
                    &t.tm_hour, &t.tm_min, &t.tm_sec, &z) != 7 ||
        z != 'Z') {
        return std::nullopt;
    }
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    return static_cast<int64_t>(timegm(&t)) * 1'000'000'000;
}

std::string utc_stamp(int64_t ns) {
    tm t = utc_tm(ns);
    return fmt::format("{:04}-{:02}-{:02}T{:02}{:02}{:02}.{:09}Z", t.tm_year + 1900, t.tm_mon + 1,
                       t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ns % 1'000'000'000);
}

} // namespace barge
