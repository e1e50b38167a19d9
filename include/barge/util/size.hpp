#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace barge {

// Parses a byte count: "4096", "500K", "500M", "2G", "1T" (powers of 1024, as rsync),
// "2KiB"/"2MiB"/"2GiB"/"2TiB" (the same), "2KB"/"2MB"/"2GB"/"2TB" (powers of 1000),
// optionally with a fractional part ("1.5G"). Throws Refusal naming the text.
uint64_t parse_size(std::string_view text);

// A size that may also be a share of a capacity: "1GiB" or "5%".
struct SizeSpec {
    uint64_t bytes = 0;
    double percent = -1; // >= 0 when given as a percentage
    bool is_percent() const { return percent >= 0; }
    // The bytes this spec means for a file system of the given capacity.
    uint64_t resolve(uint64_t capacity) const;
    // Back to text, parseable by parse_size_spec.
    std::string to_string() const;
};

// Parses "500M", "2GiB" or "5%", at most max_size_spec bytes: above it a
// Refusal, or with SizeOver::clamp the bound itself. Throws Refusal.
inline constexpr uint64_t max_size_spec = 1ull << 62;
enum class SizeOver { refuse, clamp };
SizeSpec parse_size_spec(std::string_view text, SizeOver over = SizeOver::refuse);

// "1.5 GiB", "12 B": for humans.
std::string format_size(uint64_t bytes);

// Parses a duration: "90" (seconds), "30s", "10m", "2h", "1d", "1h30m". Throws Refusal.
double parse_duration(std::string_view text);

} // namespace barge
