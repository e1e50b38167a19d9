#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/engine/progress.hpp"
#include "barge/engine/report.hpp"
#include "barge/engine/rotation.hpp"
#include "barge/fs/drive.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace barge {

struct UnloadOptions {
    bool dry_run = false;
    int attempts = 5;
    // The keys of other drives' encrypted catalog copies at the destination
    // (engine/rotation.hpp), to learn what they know; may be empty.
    CopyKeys copy_keys;
};

struct UnloadResult {
    bool claimed = false;
    bool dry_run = false;     // a plan only: nothing was changed
    bool interrupted = false; // a stop request ended the run early (what is counted was done)
    int64_t files = 0, bytes = 0, symlinks = 0, dirs = 0;
    int64_t special_files = 0; // FIFOs and device nodes
    int64_t renamed = 0;        // renamed or moved at the source: renamed there, no bytes copied
    int64_t renamed_dirs = 0;   // directories renamed or moved there as a whole
    int64_t hard_links = 0;     // names linked to their group's first name (no bytes written)
    int64_t local_copies = 0;   // delivered from the destination's own verified copy
    int64_t already_there = 0;  // the right bytes were already in place
    int64_t trashed = 0, forgotten = 0, versions = 0;
    int64_t staged_pieces = 0;  // pieces of multi-trip files assembled so far
    int64_t corrupt_pieces = 0; // found on the cargo, removed, to be carried again
    int64_t waiting = 0;        // files whose bytes are not (all) on the cargo yet
    int64_t pruned = 0;         // trash and version folders past their retention
    int64_t superseded = 0;     // older than what another drive delivered: kept in versions/
    int64_t learned = 0;        // entries whose newer state at the destination this drive learned
    Problems failures;
    Notes notes;
    Plan plan;
};

// Destination side: deliver everything on the cargo (docs/unload.md). Refuses
// (exit 2) when the destination is not visible; claims it when unclaimed.
UnloadResult unload_pair(Catalog& catalog, const DriveLayout& layout, const Pair& pair,
                         const UnloadOptions& options, Progress* progress);

} // namespace barge
