#pragma once

#include "barge/catalog/database.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace barge {

// SQL condition: entry e (alias "e") is delivered — the destination holds exactly
// what the source has. Shared by status, load and unload so they cannot disagree.
extern const char* const sql_delivered;

// SQL condition: piece cp.idx of content cp.content_id (content_pieces "cp", its
// piece "p") is on the drive for the pair of entry "e": on the cargo, or already
// staged at that pair's destination. A content is complete on the drive when
// this holds for each of its pieces; ContentOnCargo below applies the same rule.
extern const char* const sql_piece_here;

// A piece as the catalog knows it.
struct PieceRow {
    int64_t id = 0;
    Digest hash{};
    int64_t size = 0;
    bool on_cargo = false;
};

// One piece of a content, in order.
struct ContentPiece {
    int64_t idx = 0;
    int64_t offset = 0;
    PieceRow piece;
};

// Where an entry sits in its tree: its directory ("" at the root) and name.
struct EntryPath {
    std::string parent, name;
    // "dir/name", relative to the tree's root.
    std::string rel() const;
};

// A file that load may carry.
struct LoadCandidate : EntryPath {
    int64_t entry_id = 0;
    FileStat st;
    std::optional<int64_t> content_id;
    std::optional<Digest> content_hash;
};

// A file unload may deliver (its content and pieces are looked up separately).
struct DeliveryItem : EntryPath {
    int64_t entry_id = 0;
    FileStat st; // the source side: what the destination must end up with
    std::optional<int64_t> content_id;
    std::optional<Digest> content_hash; // of content_id
    std::optional<Kind> d_kind; // what the destination had, if barge delivered it
    std::optional<int64_t> d_content_id;
};

// Where each piece of a content stands for one pair's destination (the rule of
// sql_piece_here): on the cargo, staged at the destination, or neither.
struct ContentOnCargo {
    int64_t pieces = 0;                          // how many the content has
    std::vector<std::optional<PieceRow>> cargo;  // by index: the piece, when on the cargo
    std::vector<bool> staged;                    // by index
    // Every piece is on the cargo or staged: what status counts as on the cargo.
    bool complete() const;
    // Every piece is on the cargo and none staged: deliverable in one go.
    bool whole_on_cargo() const;
    // The indexes neither on the cargo nor staged: what load still has to carry.
    std::vector<int64_t> missing() const;
};

// The catalog queries of load, unload and the verifications.
class TransitStore {
public:
    explicit TransitStore(Database& db);

    // Files of the pair not delivered, in path order after (parent, name).
    std::vector<LoadCandidate> load_candidates(int64_t pair_id, const std::string& after_parent,
                                               const std::string& after_name, int limit);
    // The known pieces of a content, in order (possibly only some of them).
    std::vector<ContentPiece> content_pieces(int64_t content_id);
    // Where the `pieces` pieces of a content stand for the pair.
    ContentOnCargo on_cargo(int64_t pair_id, int64_t content_id, int64_t pieces);

    // Records a verified piece on the cargo (creating or updating its row) as
    // piece idx of content; returns the piece id.
    int64_t record_piece(const Digest& hash, int64_t size, int64_t content_id, int64_t idx,
                         int64_t offset, int64_t now);
    void set_entry_content(int64_t entry_id, int64_t content_id, bool racy);
    void set_failure(int64_t entry_id, const std::string& reason, int64_t now);
    void clear_failure(int64_t entry_id);

    // Every piece the catalog puts on the cargo.
    std::vector<PieceRow> pieces_on_cargo();
    std::optional<PieceRow> piece_by_hash(const Digest& hash);
    void set_off_cargo(int64_t piece_id);
    // Pieces on the cargo that no undelivered entry still needs (delivered, staged
    // or no longer wanted): free to reclaim.
    std::vector<PieceRow> reclaimable_pieces();

    // Unload: files, symlinks and directories of the pair not yet delivered, in
    // path order (parents before children).
    std::vector<DeliveryItem> deliveries(int64_t pair_id, Kind kind, const std::string& after_parent,
                                         const std::string& after_name, int limit);
    // Another delivered file of the pair with this content: a local source for a
    // rename or a duplicate (no cargo bytes needed).
    std::optional<std::string> delivered_path_with_content(int64_t pair_id, int64_t content_id,
                                                           int64_t not_entry);
    void mark_delivered(int64_t entry_id, int64_t now);
    void record_staged(int64_t pair_id, int64_t content_id, int64_t idx);
    void clear_staged(int64_t pair_id, int64_t content_id);
    // Entries gone from the source whose destination copy barge delivered.
    std::vector<DeliveryItem> pending_deletions(int64_t pair_id);
    void forget_entry(int64_t entry_id);
    // The directory entry at path rel ("a/b"), if the source has one.
    std::optional<DeliveryItem> dir_entry(int64_t pair_id, const std::string& rel);

private:
    Database& m_db;
};

} // namespace barge
