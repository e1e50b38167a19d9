#pragma once

#include "barge/catalog/database.hpp"
#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace barge {

// A delivered file to re-hash at the destination.
struct VerifyItem {
    int64_t entry_id = 0;
    std::string rel; // relative to the destination
    Digest hash{};
    int64_t size = 0;
};

// The catalog queries of verify-destination and verify-middle.
class VerifyStore {
public:
    explicit VerifyStore(Database& db) : m_db(db) {}
    // Files the destination holds as delivered.
    int64_t delivered_files(int64_t pair_id);
    // Up to limit delivered files, least recently verified first (never verified:
    // delivered longest ago first), so repeated partial runs scrub everything in turn.
    std::vector<VerifyItem> least_recently_verified(int64_t pair_id, int64_t limit);
    // The file re-hashed right at the destination now.
    void set_verified(int64_t entry_id, int64_t now);
    // The file is damaged or missing at the destination: no longer delivered, so the
    // next load carries it again and the next unload keeps the damaged copy aside;
    // until then every verify-destination checks it again (and finds it bad).
    void set_damaged(int64_t entry_id, const std::string& reason, int64_t now);
    // Up to limit source paths (absolute) of the files of these pairs that need the piece.
    std::vector<std::string> files_needing_piece(int64_t piece_id, const std::vector<int64_t>& pair_ids,
                                                 int limit);

private:
    Database& m_db;
};

} // namespace barge
