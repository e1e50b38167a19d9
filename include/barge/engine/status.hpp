#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/status_store.hpp"
#include "barge/engine/report.hpp"
#include "barge/fs/drive.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace barge {

// Where a pair's files stand (SPEC §5 status): the catalog's counts (see
// PairCounts: delivered, failed, on_cargo, pending are exclusive), and the
// failures with their reasons. Files and symlinks are counted; bytes are file sizes.
struct PairStatus : PairCounts {
    std::vector<FileProblem> failures;
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

// Trips still needed to carry bytes, when each trip can carry room bytes.
int64_t trips_needed(int64_t bytes, int64_t room);

} // namespace barge
