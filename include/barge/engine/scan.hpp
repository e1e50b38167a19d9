#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/engine/progress.hpp"
#include "barge/engine/report.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace barge {

struct ScanOptions {
    // Hash new and modified content now (`barge scan`), or leave it to the copy
    // that reads the bytes anyway (`barge load`: one read of the source per hop).
    enum class Hash { yes, no };
    Hash hash = Hash::yes;
    // Stop (at a safe point) after this many seconds.
    std::optional<double> max_seconds;
    bool accept_mass_change = false;
    // Nothing is written outside the catalog (whose transaction the caller
    // rolls back): the source's order file is read, not advanced.
    bool dry_run = false;
    // A directory never to enter (the drive itself, when it sits inside the source).
    std::string skip_dir;
};

// What one scan found. Change counts are of files and symlinks; directories apart.
struct ScanResult {
    int64_t new_files = 0, modified = 0, deleted = 0, renamed = 0, unchanged = 0;
    int64_t new_dirs = 0, deleted_dirs = 0;
    int64_t special_skipped = 0, excluded = 0;
    int64_t files_hashed = 0, bytes_hashed = 0, left_to_hash = 0;
    bool stopped_early = false;
    int64_t restamped = 0; // entries stamped anew (rotation: see scan.cpp)
    Problems problems;
    Notes notes;
};

// Why the pair's source is not visible here (SPEC §4), or nullopt when it is: its
// marker is there, or with --no-source-marker, the root is a non-empty directory.
// On the machine where the source was last seen, the reason says so ("is its disk
// mounted?"): there a missing source is an error, never a quiet skip.
std::optional<std::string> source_not_visible(const Pair& pair);
// Throws Refusal (exit 2) with source_not_visible's reason.
void check_source_visible(const Pair& pair);
// Whether this machine (/etc/machine-id) is where the end's marker was last seen.
bool last_seen_here(const Pair& pair, End end);

// Refreshes the catalog from the pair's source (SPEC §5 scan). Throws Refusal for
// a missing marker or the mass-change brake, leaving the catalog untouched.
ScanResult scan_pair(Catalog& catalog, const Pair& pair, const ScanOptions& options,
                     Progress* progress);

} // namespace barge
