#pragma once

#include <optional>
#include <string>

namespace barge {

// Where a drive's parts live.
struct DriveLayout {
    std::string root;
    std::string catalog() const { return root + "/barge.db"; }
    std::string cargo() const { return root + "/cargo"; }
    std::string logs() const { return root + "/logs"; }
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
