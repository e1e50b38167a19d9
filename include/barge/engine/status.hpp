#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/engine/scan.hpp"
#include "barge/fs/drive.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace barge {

// A number of files and their bytes.
struct Counts {
    int64_t files = 0;
    int64_t bytes = 0;
};

// Where a pair's files stand (SPEC §5 status). The four states are exclusive:
// delivered (verified at the destination), failed (the last attempt could not
// process it), on_cargo (everything it needs is on the drive), pending (the rest:
// waiting at the source). Files and symlinks are counted; bytes are file sizes.
struct PairStatus {
    Counts pending, on_cargo, delivered, failed;
    int64_t deletions_pending = 0;
    int64_t unhashed = 0; // pending files whose content has not been hashed yet
    // The delivered files' verification times at the destination (the delivery
    // itself, or a later verify-destination): every file was checked at or after
    // the oldest one. Unset when nothing is delivered.
    std::optional<int64_t> oldest_verified_ns, newest_verified_ns;
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
