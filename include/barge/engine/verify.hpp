#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/engine/progress.hpp"
#include "barge/engine/rotation.hpp"
#include "barge/engine/scan.hpp"
#include "barge/fs/drive.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace barge {

struct VerifyResult {
    int64_t checked = 0, bytes = 0;
    int64_t bad = 0;             // corrupt or missing
    int64_t left = 0;            // not reached (sample or time limit)
    bool stopped_early = false;
    bool dry_run = false;                     // nothing read or recorded: what would be checked
    int64_t would_check = 0, would_bytes = 0; // a dry run's plan
    Problems problems; // each bad item, by file name
};

struct VerifyDestOptions {
    std::optional<double> sample_percent; // verify this share, least recently verified first
    std::optional<double> max_seconds;
    bool dry_run = false;
    CopyKeys copy_keys; // to read the other drives' encrypted catalog copies
};

// Re-hashes delivered files at the pair's destination, reading from the medium,
// least recently verified first, recording when each was verified. A mismatch or
// a missing file is reported and queued to be carried again from the source.
// Refuses (exit 2) when the destination is not visible.
VerifyResult verify_destination(Catalog& catalog, const Pair& pair, const VerifyDestOptions& options,
                                Progress* progress);

// Re-hashes every piece on the cargo against the catalog, reading from the drive;
// corrupt or missing pieces are removed and queued to be carried again. Problems
// name the files that need them.
VerifyResult verify_middle(Catalog& catalog, const DriveLayout& layout,
                           const std::vector<Pair>& pairs, Progress* progress, bool dry_run = false);

} // namespace barge
