#pragma once

// What `drive list` and `status` show of the drives serving a pair (SPEC §9).

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/status_store.hpp"
#include "barge/util/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace barge::cli {

struct DriveView {
    std::string id, label;
    bool this_drive = false;
    int64_t carries_files = 0, carries_bytes = 0;
    std::optional<int64_t> source_seen_ns, dest_seen_ns, lost_ns;
    int64_t generation = 0;
    // "current": no visible endpoint of the pair has seen a newer generation of
    // the drive than the one this knowledge comes from; "stale": one has (the
    // drive ran there since: what it carries may have changed); "unknown": no
    // endpoint of the pair is visible here.
    std::string knowledge;
    std::string stale_at; // the endpoint that saw a newer generation
};

// This drive first, then every other drive this catalog knows for the pair.
// on_cargo: what this drive carries for the pair (its status).
std::vector<DriveView> drive_views(Catalog& catalog, const Pair& pair, const Counts& on_cargo);
void drives_json(JsonWriter& j, const std::vector<DriveView>& drives);
// One line per drive, indented by two spaces, each ending in a newline.
std::string drives_text(const std::vector<DriveView>& drives);

} // namespace barge::cli
