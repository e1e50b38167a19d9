#pragma once

#include "barge/catalog/database.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace barge {

// A number of files and their bytes.
struct Counts {
    int64_t files = 0;
    int64_t bytes = 0;
};

// Where a pair's files and symlinks stand, from the catalog alone. The four
// states are exclusive, in this order: delivered (both halves agree), failed (the
// last attempt could not process it), on_cargo (everything it needs is on the
// drive: sql_piece_here for each piece), pending (the rest).
struct PairCounts {
    Counts pending, on_cargo, delivered, failed;
    int64_t unhashed = 0;          // pending files whose content is not hashed yet
    int64_t deletions_pending = 0; // gone from the source, delivered at the destination
    // The delivered files' verification times at the destination.
    std::optional<int64_t> oldest_verified_ns, newest_verified_ns;
};

// One failed entry, newest first.
struct FailureRow {
    std::string rel; // relative to the pair's root
    std::string reason;
};

// A file not carried since a read (scan or load) found it changing at since_ns,
// tries such reads since (TransitStore::note_miss).
struct MissRow {
    std::string rel; // relative to the pair's root
    int64_t since_ns = 0;
    int64_t tries = 0;
};

// A pair whose kept count of delivered files (pair_delivered) was not what the
// entries say.
struct CounterMismatch {
    int64_t pair_id = 0;
    Counts kept, counted;
};

// A pair's kept count of undelivered files in one state (pair_undelivered) that
// was not what the entries say.
struct StateMismatch {
    int64_t pair_id = 0;
    int64_t state = 0;
    Counts kept, counted;
};

// What recount_undelivered set right: contents whose count of pieces on the
// cargo was wrong, and the states.
struct UndeliveredRecount {
    int64_t contents = 0;
    std::vector<StateMismatch> states;
};

// The kept count of the pieces on the cargo (files: pieces), and a full count.
struct CargoMismatch {
    Counts kept, counted;
};

// The catalog queries of `barge status`. None reads every entry (SPEC §8): the
// delivered files are counted as they are written (pair_delivered), the rest
// through partial indexes of what is not delivered, failed or gone.
class StatusStore {
public:
    explicit StatusStore(Database& db) : m_db(db) {}
    // Some counts join the undelivered entries to another set (the pieces on the
    // cargo, what the destination holds, what other drives carry): driven by the
    // entries, looking the set up per entry, or by the set. choose takes the set
    // only when it is much the smaller (set_is_cheaper); tests run both plans,
    // which must agree.
    // kept reads the counts the catalog keeps as it is written (pair_undelivered,
    // schema version 7) and corrects them for the few files staged at the
    // destination or held there under another name, from those sets; choose
    // does the same unless the set of what the destination holds is the bigger,
    // then takes one of the passes.
    enum class Plan { choose, by_entries, by_set, kept };
    // choose's rule: a set of set_rows rows against a pass over `undelivered` entries.
    static bool set_is_cheaper(int64_t set_rows, int64_t undelivered);
    PairCounts pair_counts(int64_t pair_id, Plan plan = Plan::choose);
    // Undelivered files and symlinks, of one pair or of all: from the kept counts.
    int64_t undelivered_files(std::optional<int64_t> pair_id);
    // Failed entries not delivered since, the newest first.
    std::vector<FailureRow> failures(int64_t pair_id, size_t limit);
    // Files still at the source and not delivered that a read found changing and
    // that were not carried since, the longest missed first; and how many there
    // are. From entries_unsettled (schema 11), which holds only those entries.
    std::vector<MissRow> missed(int64_t pair_id, size_t limit);
    int64_t missed_files(int64_t pair_id);
    // Pieces the catalog puts on the cargo, and their bytes: kept as pieces are
    // written (cargo_total), one row.
    Counts cargo();
    // Pieces on the cargo no undelivered file needs (delivered, or no longer wanted):
    // what the next load, or dump-cargo, reclaims.
    Counts reclaimable(Plan plan = Plan::choose);
    // The same, unless counting it would pass over more than max_rows undelivered
    // files or pieces on the cargo (both many: a big tree loaded and not yet
    // unloaded): then nothing.
    std::optional<Counts> reclaimable_within(int64_t max_rows);
    // Files of the pair the destination lacks whose content is on the drive, failed
    // ones included: what removing the pair would strand.
    Counts undelivered_on_cargo(int64_t pair_id);
    // Counts every pair's delivered files from the entries (a full pass, for
    // verify-middle), sets the kept counts right where they were not, and returns
    // those. Call it inside a transaction.
    std::vector<CounterMismatch> recount_delivered();
    // The same for the cargo's kept count: the mismatch it set right, if any.
    std::optional<CargoMismatch> recount_cargo();
    // The same for contents.here and pair_undelivered (schema version 7).
    UndeliveredRecount recount_undelivered();

private:
    // pair_counts' pending, on-cargo, failed and unhashed counts, by the entries.
    void classify_by_entries(int64_t pair_id, PairCounts& pc);
    // pair_counts from the kept counts; false, with pc untouched, when a pass is
    // the cheaper way to find what the destination holds (only if !must).
    bool count_kept(int64_t pair_id, PairCounts& pc, bool must);

    Database& m_db;
};

} // namespace barge
