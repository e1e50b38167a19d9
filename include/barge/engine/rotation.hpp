#pragma once

// Several drives serving one pair (SPEC §9, §7.12; docs/rotation.md).
//
// Order: every version a scan records is stamped with an order taken at the
// source endpoint (take_order_stamp), so that versions observed later compare
// greater whichever drive observed them. The destination keeps, per path, the
// stamp of the newest version delivered or about to be (DestOrder), and no
// drive replaces or deletes a path whose recorded stamp is newer than its own.
//
// Knowledge: what a drive knows of the others (what each carries and when each
// was last seen; what the destination holds) comes from the other drives'
// catalog copies at the endpoints it visits (merge_knowledge).

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/status_store.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/id_bits.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace barge {

class Database;
struct DriveKeys;

// Order stamps are a Lamport clock: a scan's stamp is greater than every stamp
// the drive has seen (its own, the destination's order record, the other
// drives' catalogs) and not less than the time in nanoseconds, so clocks that
// disagree between the sites never stop anything. Only a stamp beyond this
// bound (INT64_MAX / 2, the year 2116: a damaged or forged catalog on the
// untrusted drive) is never recorded or acted on (sql_current repeats it as a
// literal); and only stamps below the learning bound (2^62 - 2^60, the year
// 2079) are learned from the destination's record or other drives, so that no
// stamp learned can push this drive's own stamps past the first bound.
inline constexpr int64_t order_stamp_bound = INT64_MAX / 2;
inline constexpr int64_t order_stamp_learn_bound = INT64_MAX / 2 - INT64_MAX / 8;
// The greatest stamp learned from elsewhere (order_stamp_learn_bound).
int64_t latest_believable_ord();

// ROOT/.barge/order-<pair uuid>: the pair's last order stamp at the source.
std::string order_stamp_path(const std::string& root, const std::string& pair_uuid);

// The order stamp for a scan of the pair now: greater than every stamp taken
// before at this source (its order file, under flock) and than the pair's
// last one in this catalog, and at least the current time in nanoseconds (so
// that a lost order file still gives increasing stamps). Written back durably
// unless dry_run; recorded in the catalog (pairs.last_ord) by the caller's
// transaction. A pair without a source marker keeps no order file.
int64_t take_order_stamp(Catalog& catalog, const Pair& pair, bool dry_run);

// DEST/.barge/order-<pair uuid>.db: per path of the destination, the order
// stamp of the newest version delivered there (or being delivered: recorded
// before anything at the destination changes), with a sequence number so that
// a drive takes in only what is new since its last visit. Held under an
// exclusive lock for the unload (two drives unloading one pair at once: the
// second gets exit 75).
class DestOrder {
public:
    explicit DestOrder(const Pair& pair);
    ~DestOrder();
    DestOrder(const DestOrder&) = delete;
    DestOrder& operator=(const DestOrder&) = delete;

    static std::string path(const std::string& dest_root, const std::string& pair_uuid);

    // Takes in what the destination recorded since this drive's last visit:
    // entries whose version at the destination is newer than the catalog knows
    // get that order as d_ord; what the catalog believed stood there stays (the
    // record holds intents), and the ids of those that knew something there
    // are added to raised_known (bits: at most about 1.3 MiB per ten million
    // ids of the catalog's range), to be
    // checked at the destination (check_raised_knowledge, by
    // learn_at_destination). Returns how many entries learned a newer order.
    // Inside the caller's transaction.
    int64_t pull(Catalog& catalog, const Pair& pair, IdBits& raised_known);
    // Records durably each (parent, name, ord) that each gives the sink, keeping
    // the greater order per path, and notes in the catalog (inside a transaction
    // of its own) that this drive has read everything up to them: its own
    // intents are not news to it. Nothing when each gives none.
    void record(Catalog& catalog, const Pair& pair, const std::function<void(const PathOrderSink&)>& each);
    // The greatest order recorded for dir or anything below it (0: none).
    int64_t newest_under(const std::string& dir);
    // The order recorded for the path rel (0: none).
    int64_t ord_of(const std::string& rel);

private:
    std::unique_ptr<Database> m_db;
    int m_lock = -1;
    std::string m_epoch;
};

// What merge_knowledge learned.
struct KnowledgeMerge {
    int64_t copies_read = 0;    // other drives' catalog copies read
    int64_t entries_learned = 0; // entries whose destination side became newer
    int64_t drives_known = 0;   // other drives known to serve the pair afterwards
    bool order_reread = false;  // the order record is to be read again from an earlier row (reread_order_from)
    std::vector<std::string> notes;
};

// Opens the keys of an encrypted catalog copy (null: none at hand).
using CopyKeys = std::function<std::shared_ptr<const DriveKeys>(const std::string& copy_path)>;

// Reads the catalog copies of the other drives that serve `pair` at the
// endpoint root (ROOT/.barge/catalog-<id>.db) and merges what they know into
// this catalog: the destination side of each entry where theirs is newer (by
// d_ord), the other drives (generation, when seen, what each carries, lost),
// transitively, and the pair's options where theirs were set later. A copy
// already merged at its generation is skipped. Idempotent, and independent of
// order but for one case: every rule keeps the newer of two facts. Inside the
// caller's transaction. `raised`: entries whose order the order record just
// raised over what this drive knows there (DestOrder::pull): at that order,
// this drive's knowledge is of an older delivery, so the first copy that
// knows that order there is taken (the one case), and the others by the rules.
// `unconfirmed` gets the entries where this drive knows something and a copy
// knows only an order there as new or newer: what this drive knows may be
// gone since, for the caller to check at the destination.
KnowledgeMerge merge_knowledge(Catalog& catalog, const Pair& pair, End end, const std::string& root,
                               const CopyKeys& keys, const IdBits* raised = nullptr,
                               IdBits* unconfirmed = nullptr);

// What the destination knows that this drive does not (SPEC §9), in one
// transaction: its order record (order.pull), then the other drives' catalog
// copies there (merge_knowledge); entries_learned counts both. The paths the
// record or a copy raised that stand there otherwise than this drive knew are
// marked to be delivered again, or known gone (check_raised_knowledge), with a
// note saying how many.
// What unload and verify-destination do first there.
KnowledgeMerge learn_at_destination(Catalog& catalog, const Pair& pair, DestOrder& order,
                                    const CopyKeys& keys);

// At the source, after a scan: gives the pair's files that have no content yet
// the content another drive's copy at the source recorded for the same file
// (same inode, device, size and mtime, not racy: the rule a scan trusts for
// renames, docs/scan.md), under any name. Returns how many. Inside the caller's
// transaction.
int64_t adopt_contents(Catalog& catalog, const Pair& pair, const CopyKeys& keys);

// Marks drive_id lost for every pair of this catalog that it serves: its cargo
// is no longer counted as carried. Returns the pairs it serves.
std::vector<std::string> mark_drive_lost(Catalog& catalog, const std::string& drive_id);

// One other drive of a pair, as this catalog knows it.
struct KnownDrive {
    std::string drive_id, label;
    int64_t generation = 0;
    std::optional<int64_t> source_seen_ns, dest_seen_ns, lost_ns;
    int64_t carries_files = 0, carries_bytes = 0;
    int64_t learned_ns = 0;
};
std::vector<KnownDrive> known_drives(Database& db, int64_t pair_id);

// The pair's undelivered files whose content another drive (not lost) carries:
// files and bytes.
std::pair<int64_t, int64_t> carried_elsewhere(Database& db, int64_t pair_id,
                                              StatusStore::Plan plan = StatusStore::Plan::choose);

// Whether the other drives' catalog copies at root know the pair (by uuid):
// the drive ids.
std::vector<std::string> drives_with_pair_at(const std::string& root, const std::string& pair_uuid,
                                             const std::string& self, const CopyKeys& keys);

// A pair another drive serves from source to dest, whose marker the source
// holds (`pair add` joins it, SPEC §9): the pair as the copy with the newest
// options has it, and the drives (id, label) whose copies at the source know it.
struct PairToJoin {
    Pair pair;
    std::vector<std::pair<std::string, std::string>> drives;
};
struct JoinLookup {
    std::optional<PairToJoin> join;
    // The source's markers of pairs that no readable copy there describes, so
    // that their destination is unknown: a pair another drive added and has not
    // loaded with yet, one whose copy is gone or could not be read, or one of
    // this drive's own (the caller knows those).
    std::vector<MarkerInfo> unknown;
    std::vector<std::string> notes; // copies that could not be read
};
JoinLookup find_pair_to_join(const std::string& source, const std::string& dest,
                             const std::string& self, const CopyKeys& keys);

} // namespace barge
