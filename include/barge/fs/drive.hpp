#pragma once

#include <memory>
#include <optional>
#include <string>

namespace barge {

struct DriveKeys;

// Where a drive's parts live, and, for an encrypted drive once unlocked, its keys.
struct DriveLayout {
    std::string root;
    // Null for a drive that is not encrypted (or not unlocked yet).
    std::shared_ptr<const DriveKeys> keys;
    std::string catalog() const { return root + "/barge.db"; }
    std::string cargo() const { return root + "/cargo"; }
    std::string logs() const { return root + "/logs"; }
    // The wrapped data key of an encrypted drive (its presence says the drive is one).
    std::string key_file() const { return root + "/barge.key"; }
};

// Finds the drive: the --drive option, else $BARGE_DRIVE, else the nearest ancestor
// of the working directory holding barge.db. Throws Refusal when none is found or
// the named directory holds no catalog.
DriveLayout find_drive(const std::optional<std::string>& option);
// The directory --drive or $BARGE_DRIVE names, else the working directory
// (absolute), whether or not it holds a catalog yet (barge recover).
std::string named_drive_or_cwd(const std::optional<std::string>& option);

// A new random identifier (128 bits from getrandom, as hex in UUID form).
std::string new_uuid();

} // namespace barge
