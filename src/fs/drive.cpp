#include "barge/fs/drive.hpp"

#include "barge/util/path.hpp"
#include "barge/util/error.hpp"
#include "barge/util/system.hpp"

#include <cstdlib>
#include <fmt/format.h>
#include <sys/stat.h>

namespace barge {

namespace {
bool holds_catalog(const std::string& dir) {
    struct stat st{};
    return ::stat((dir == "/" ? std::string("/barge.db") : dir + "/barge.db").c_str(), &st) == 0 &&
           S_ISREG(st.st_mode);
}
} // namespace

namespace {
// The drive named by --drive or $BARGE_DRIVE, with which of the two named it.
std::optional<std::string> named_drive(const std::optional<std::string>& option, const char*& how) {
    how = "--drive";
    if (option) {
        return option;
    }
    if (const char* env = std::getenv("BARGE_DRIVE"); env && *env) {
        how = "$BARGE_DRIVE";
        return std::string(env);
    }
    return std::nullopt;
}
} // namespace

std::string named_drive_or_cwd(const std::optional<std::string>& option) {
    const char* how = nullptr;
    return absolute_path(named_drive(option, how).value_or("."));
}

DriveLayout find_drive(const std::optional<std::string>& option) {
    const char* how = nullptr;
    std::optional<std::string> named = named_drive(option, how);
    if (named) {
        std::string dir = absolute_path(*named);
        if (!holds_catalog(dir)) {
            throw Refusal(fmt::format("'{}' (from {}) is not a barge drive: no barge.db there; "
                                      "run 'barge init' to make one",
                                      dir, how));
        }
        return {dir, nullptr};
    }
    std::string dir = absolute_path(".");
    for (;;) {
        if (holds_catalog(dir)) {
            return {dir, nullptr};
        }
        if (dir == "/") {
            break;
        }
        dir = parent_path(dir);
    }
    throw Refusal("no barge drive found: use --drive DIR, set $BARGE_DRIVE, or run barge from "
                  "inside the drive");
}

std::string new_uuid() {
    std::string raw = random_bytes(16);
    auto* b = reinterpret_cast<unsigned char*>(raw.data());
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40); // version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80); // RFC 4122 variant
    return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
                       "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                       b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                       b[12], b[13], b[14], b[15]);
}

} // namespace barge
