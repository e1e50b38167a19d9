#pragma once

#include "barge/catalog/database.hpp"
#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <functional>
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

// How many files a verify-destination would check, and their bytes.
struct VerifyTotals {
    int64_t files = 0;
    int64_t bytes = 0;
};

// The catalog queries of verify-destination and verify-middle.
class VerifyStore {
public:
    explicit VerifyStore(Database& db) : m_db(db) {}
    // Files the destination holds as delivered.
    int64_t delivered_files(int64_t pair_id);
    // Calls fn for up to limit delivered files, least recently verified first
    // (never verified: delivered longest ago first), so that repeated partial runs
    // scrub everything in turn; until fn returns false. The files are read a page
    // at a time, so a verify of ten million holds one page (SPEC §8). fn may stamp
    // the file it is given (set_verified, set_damaged), which moves it towards the
    // end of the order: no file is given twice.
    void each_least_recently_verified(int64_t pair_id, int64_t limit,
                                      const std::function<bool(const VerifyItem&)>& fn);
    // The files and bytes each_least_recently_verified would give, counted in SQL.
    VerifyTotals least_recently_verified_totals(int64_t pair_id, int64_t limit);
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
