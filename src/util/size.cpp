#include "barge/util/size.hpp"

#include "barge/util/error.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>

namespace barge {

namespace {

// Splits "1.5GiB" into 1.5 and "GiB"; false when there is no number.
bool split_number(std::string_view text, double& number, std::string_view& unit) {
    size_t i = 0;
    bool digits = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        ++i;
        digits = true;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            ++i;
            digits = true;
        }
    }
    if (!digits) {
        return false;
    }
    number = std::stod(std::string(text.substr(0, i)));
    unit = text.substr(i);
    while (!unit.empty() && unit.front() == ' ') {
        unit.remove_prefix(1);
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

} // namespace

uint64_t parse_size(std::string_view text) {
    double number;
    std::string_view unit;
    if (!split_number(text, number, unit)) {
        throw Refusal(fmt::format("invalid size '{}': expected a number with an optional unit "
                                  "such as 500M, 2GiB or 1TB",
                                  text));
    }
    std::string u = lower(unit);
    double multiplier;
    if (u.empty() || u == "b") {
        multiplier = 1;
    } else if (u == "k" || u == "kib") {
        multiplier = 1024.0;
    } else if (u == "m" || u == "mib") {
        multiplier = 1024.0 * 1024;
    } else if (u == "g" || u == "gib") {
        multiplier = 1024.0 * 1024 * 1024;
    } else if (u == "t" || u == "tib") {
        multiplier = 1024.0 * 1024 * 1024 * 1024;
    } else if (u == "kb") {
        multiplier = 1e3;
    } else if (u == "mb") {
        multiplier = 1e6;
    } else if (u == "gb") {
        multiplier = 1e9;
    } else if (u == "tb") {
        multiplier = 1e12;
    } else {
        throw Refusal(fmt::format("invalid size '{}': unknown unit '{}' (use K, M, G, T, KiB, "
                                  "MiB, GiB, TiB, KB, MB, GB or TB)",
                                  text, unit));
    }
    double bytes = std::round(number * multiplier);
    if (bytes > 1.8e19) {
        throw Refusal(fmt::format("invalid size '{}': too large", text));
    }
    return static_cast<uint64_t>(bytes);
}

uint64_t SizeSpec::resolve(uint64_t capacity) const {
    if (!is_percent()) {
        return bytes;
    }
    return static_cast<uint64_t>(static_cast<double>(capacity) * percent / 100.0);
}

std::string SizeSpec::to_string() const {
    if (is_percent()) {
        return fmt::format("{}%", percent);
    }
    return std::to_string(bytes);
}

SizeSpec parse_size_spec(std::string_view text, SizeOver over) {
    SizeSpec spec;
    if (!text.empty() && text.back() == '%') {
        double number;
        std::string_view unit;
        if (!split_number(text.substr(0, text.size() - 1), number, unit) || !unit.empty() ||
            number > 100) {
            throw Refusal(fmt::format("invalid percentage '{}': expected 0% to 100%", text));
        }
        spec.percent = number;
        return spec;
    }
    spec.bytes = parse_size(text);
    // Subtracted from a file system's free bytes as signed 64-bit numbers (a
    // reserve above INT64_MAX came out negative: no reserve at all).
    if (spec.bytes > max_size_spec) {
        if (over == SizeOver::refuse) {
            throw Refusal(
                fmt::format("invalid size '{}': too large (at most 4 EiB, more than any drive holds)", text));
        }
        spec.bytes = max_size_spec;
    }
    return spec;
}

std::string format_size(uint64_t bytes) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) {
        return fmt::format("{} B", bytes);
    }
    double v = static_cast<double>(bytes);
    size_t i = 0;
    while (v >= 1024 && i + 1 < std::size(units)) {
        v /= 1024;
        ++i;
    }
    return fmt::format("{:.1f} {}", v, units[i]);
}

double parse_duration(std::string_view text) {
    double total = 0;
    std::string_view rest = text;
    bool any = false;
    while (!rest.empty()) {
        double number;
        std::string_view unit;
        if (!split_number(rest, number, unit)) {
            throw Refusal(fmt::format("invalid duration '{}': expected e.g. 90, 30s, 10m, 2h, 1d "
                                      "or 1h30m",
                                      text));
        }
        size_t n = 0;
        while (n < unit.size() && std::isalpha(static_cast<unsigned char>(unit[n]))) {
            ++n;
        }
        std::string u = lower(unit.substr(0, n));
        double mult;
        if (u.empty() || u == "s") {
            mult = 1;
        } else if (u == "m" || u == "min") {
            mult = 60;
        } else if (u == "h") {
            mult = 3600;
        } else if (u == "d") {
            mult = 86400;
        } else {
            throw Refusal(fmt::format("invalid duration '{}': unknown unit '{}' (use s, m, h or d)",
                                      text, u));
        }
        total += number * mult;
        any = true;
        rest = unit.substr(n);
        if (u.empty() && !rest.empty()) {
            throw Refusal(fmt::format("invalid duration '{}'", text));
        }
    }
    if (!any) {
        throw Refusal(fmt::format("invalid duration '{}'", text));
    }
    return total;
}

} // namespace barge
