#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>

namespace barge {

// Wall-clock time in nanoseconds since the Unix epoch.
int64_t now_ns();
// Monotonic time in seconds, for deadlines and rates.
double monotonic_seconds();
// "2026-11-22T02:55:07Z" (UTC, seconds).
std::string format_utc(int64_t ns);
// format_utc's text back to nanoseconds; nullopt when malformed.
std::optional<int64_t> parse_utc(const std::string& text);
// "2026-11-22T025507.123456789Z": a UTC stamp fit for a directory name (no ':' for exFAT).
std::string utc_stamp(int64_t ns);
// Nanoseconds since the epoch as a timespec (for futimens, utimensat).
inline timespec to_timespec(int64_t ns) {
    return {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

} // namespace barge
