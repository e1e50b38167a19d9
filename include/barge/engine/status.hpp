#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/status_store.hpp"
#include "barge/engine/report.hpp"
#include "barge/fs/drive.hpp"

#include <cstdint>
#include <string>
#include <optional>
#include <vector>

namespace barge {

// Where a pair's files stand (SPEC §5 status): the catalog's counts (see
// PairCounts: delivered, failed, on_cargo, pending are exclusive), and the
// failures with their reasons. Files and symlinks are counted; bytes are file sizes.
struct PairStatus : PairCounts {
    std::vector<FileProblem> failures;
    // The files not carried since a read found them changing (StatusStore::missed),
    // the longest missed first, and how many there are (with max_failures > 0).
    std::vector<MissRow> missed;
    int64_t missed_files = 0;
};

PairStatus pair_status(Catalog& catalog, const Pair& pair, size_t max_failures = 50);

// The cargo: pieces on the drive and the drive's free space.
struct CargoStatus {
    int64_t pieces = 0;
    uint64_t used_bytes = 0;
    uint64_t free_bytes = 0;
    uint64_t capacity_bytes = 0;
};

CargoStatus cargo_status(Catalog& catalog, const DriveLayout& layout);

// Room kept free on the drive beyond the reserve, for the catalog and its journal.
inline constexpr int64_t catalog_margin = 8ll << 20;

// The room a pair has on this drive now: what load may fill.
struct DriveRoom {
    uint64_t capacity = 0, free = 0, reserve = 0;
    // free - reserve - catalog_margin; negative when the reserve eats it all.
    int64_t room() const {
        return static_cast<int64_t>(free) - static_cast<int64_t>(reserve) - catalog_margin;
    }
    // "58.0 MiB free of 60.0 MiB, less the reserve of 1.0 GiB and 8.0 MiB kept for the catalog"
    std::string explain() const;
    // Whether the reserve leaves no room even on an empty drive.
    bool reserve_too_big() const {
        return static_cast<int64_t>(capacity) - static_cast<int64_t>(reserve) - catalog_margin <= 0;
    }
};
DriveRoom drive_room(const DriveLayout& layout, const Pair& pair);
// A warning when the pair's reserve leaves no room on this drive (SPEC §5 pair
// add), with the numbers; nullopt when there is room.
std::optional<std::string> reserve_warning(const DriveLayout& layout, const Pair& pair);

// Trips still needed to carry bytes, when each trip can carry room bytes.
int64_t trips_needed(int64_t bytes, int64_t room);

} // namespace barge
