#pragma once

#include "barge/util/stop.hpp"

#include <cstdint>
#include <string_view>

namespace barge {

// Receives progress from long operations; the cli draws it on a terminal.
// Calls come from the engine's main thread only.
class Progress {
public:
    virtual ~Progress() = default;
    // A new phase ("scan", "hash", "load", ...) with its totals, when known (0 = unknown).
    virtual void phase(std::string_view name, uint64_t total_files, uint64_t total_bytes) = 0;
    // Work done since the last call; current names the item being processed.
    virtual void advance(uint64_t files, uint64_t bytes, std::string_view current) = 0;
    // One entry acted on ("carried", "delivered", "copied", "in place", "symlink",
    // "directory", "trashed", "kept"), for -v's one line per file.
    virtual void item(std::string_view what, std::string_view path) {
        (void)what;
        (void)path;
    }
};

} // namespace barge
