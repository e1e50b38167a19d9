#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/engine/progress.hpp"
#include "barge/engine/report.hpp"
#include "barge/engine/rotation.hpp"
#include "barge/engine/scan.hpp"
#include "barge/fs/drive.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace barge {

struct LoadOptions {
    std::optional<uint64_t> max_bytes; // stop after carrying this much (the pieces' room on the drive)
    bool dry_run = false;              // print the plan, touch nothing
    bool accept_mass_change = false;
    int attempts = 5; // per file, for transient read errors and verify mismatches
    // The keys of other drives' encrypted catalog copies at the source
    // (engine/rotation.hpp), to learn what they know; may be empty.
    CopyKeys copy_keys;
};

struct LoadResult {
    ScanResult scan;
    int64_t files = 0, bytes = 0, pieces = 0; // carried this run
    int64_t deduplicated = 0;                 // files whose content was already on the cargo
    int64_t at_destination = 0;               // files whose content the destination holds (renames, copies)
    int64_t waiting_files = 0, waiting_bytes = 0; // still at the source afterwards
    bool drive_full = false;
    bool max_bytes_reached = false; // --max-bytes, less than the room left, kept a file back
    int64_t budget_used = 0;        // what --max-bytes counted: the room the pieces written take
    int64_t learned = 0;            // entries whose state this drive learned from other drives
    int64_t carried_elsewhere = 0;  // files left to another drive that carries them (SPEC §9)
    int64_t carried_elsewhere_bytes = 0;
    bool dry_run = false;         // a plan only: nothing was changed
    std::string room;             // the numbers behind the room on the drive, for messages
    bool reserve_too_big = false; // the reserve leaves no room even on an empty drive
    bool interrupted = false; // a stop request ended the run early (what is counted was done)
    int64_t requeued_pieces = 0; // catalog said on cargo, but missing or wrong size
    int64_t reclaimed_pieces = 0, reclaimed_bytes = 0;
    Problems failures;
    Notes notes;
    Plan plan;
};

// Source side: scan (without hashing: the copy hashes), then fill the cargo with
// what the destination still lacks, verified (SPEC §7.1) and durable before the
// catalog says so. See docs/load.md.
LoadResult load_pair(Catalog& catalog, const DriveLayout& layout, const Pair& pair,
                     const LoadOptions& options, Progress* progress);

} // namespace barge
