#pragma once

#include "barge/catalog/database.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace barge {

// SQL condition: entry e (alias "e") is delivered — the destination holds exactly
// what the source has. Shared by status, load and unload so they cannot disagree.
extern const char* const sql_delivered;

// SQL condition: entry e's version (or deletion) is not older than the one the
// destination holds as far as this catalog knows (its order stamp, SPEC §7.12):
// unload may apply it. Every delivery query repeats it.
extern const char* const sql_current;

// SQL condition: entry e's content (contents "c") is on the cargo of another
// drive of the pair that is not declared lost (SPEC §9): load leaves it to that drive.
extern const char* const sql_carried_elsewhere;

// SQL condition: piece cp.idx of content cp.content_id (content_pieces "cp", its
// piece "p") is on the drive for the pair of entry "e": on the cargo, or already
// staged at that pair's destination. A content is complete on the drive when
// this holds for each of its pieces; ContentOnCargo below applies the same rule.
extern const char* const sql_piece_here;

// SQL condition: the destination already holds entry "e"'s content, verified, in
// an entry of its pair that no delivery will replace — a file whose source is
// gone (the old name of a rename or move) or still has that content (a
// duplicate, or e itself when only its metadata changed). Load carries no bytes
// for such an entry; unload renames or copies it there, or sets its metadata.
const std::string& sql_held_at_dest();
// The same as a set: the contents the destination of pair ?1 holds a copy of, for
// `e.content_id IN (...)` (what sql_held_at_dest finds, from the delivered side).
const std::string& sql_held_at_dest_of_pair();

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
    // The other way: "dir/name" -> {"dir", "name"}, "name" -> {"", "name"}.
    static EntryPath of(std::string_view rel);
};

// A file that load may carry.
struct LoadCandidate : EntryPath {
    int64_t entry_id = 0;
    FileStat st;
    std::optional<int64_t> content_id;
    std::optional<Digest> content_hash;
    // Delivered before with this size and mtime: a change of its metadata alone
    // (mode, owner, attributes) is likely, and its hash says whether the
    // destination's copy still serves.
    bool same_as_delivered = false;
    // Missed before (changed while read: note_miss); a load that finds its
    // content on the cargo or at the destination clears that.
    bool missed = false;
};

// Takes one (parent, name, order stamp) of a path at the destination.
using PathOrderSink = std::function<void(const std::string& parent, const std::string& name, int64_t ord)>;

// A file unload may deliver (its content and pieces are looked up separately).
struct DeliveryItem : EntryPath {
    int64_t entry_id = 0;
    FileStat st; // the source side: what the destination must end up with
    std::optional<int64_t> content_id;
    std::optional<Digest> content_hash; // of content_id
    std::optional<Kind> d_kind; // what the destination had, if barge delivered it
    std::optional<int64_t> d_content_id;
    int64_t ord = 0; // the version's order stamp (SPEC §9)
};

// A rename or move at the source: an undelivered file whose content the
// destination holds under the old name, which is gone from the source.
struct RenameItem {
    DeliveryItem to;
    int64_t from_id = 0;
    EntryPath from;
};

// A hard link's first name: among the files the source has under the same
// device and inode (a link group), with the same mtime and the same content,
// one the destination already holds with that content (also one whose content
// this drive does not know, of the same size), else the first in path order
// whose content it knows.
struct LinkLeader {
    int64_t id = 0;
    EntryPath path;
    bool delivered = false; // the destination holds it, with that content
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
                         int64_t offset);
    void set_entry_content(int64_t entry_id, int64_t content_id, bool racy);
    void set_failure(int64_t entry_id, const std::string& reason, int64_t now);
    // A file that changed while it was read, to be carried on a later run
    // (SPEC §7.7): counted in fail_count, the first miss kept in fail_ns;
    // fail_reason stays NULL (a failed entry stays failed). Schema 11.
    void note_miss(int64_t entry_id, int64_t now);
    // The SET terms of an UPDATE of entries that end an entry's misses where
    // `when` holds (read on the old row), a failure staying as it is.
    static std::string sql_end_misses(std::string_view when);
    // Clears a failure, or the misses, once the file is carried.
    void clear_failure(int64_t entry_id);

    // The pieces the catalog puts on the cargo, in id order, a page of `limit` at
    // a time (SPEC §8: ten million pieces on a cargo are never held at once); f
    // gets each page and returns false to stop; it may take pieces off the cargo.
    void each_piece_on_cargo(int limit, const std::function<bool(std::vector<PieceRow>&)>& f);
    std::optional<PieceRow> piece_by_hash(const Digest& hash);
    void set_off_cargo(int64_t piece_id);
    // Pieces on the cargo that no undelivered entry still needs (delivered, staged
    // or no longer wanted): free to reclaim. Paged as each_piece_on_cargo.
    void each_reclaimable_piece(int limit, const std::function<bool(std::vector<PieceRow>&)>& f);

    // Unload: files, symlinks and directories of the pair not yet delivered, in
    // path order (parents before children).
    std::vector<DeliveryItem> deliveries(int64_t pair_id, const std::vector<Kind>& kinds,
                                         const std::string& after_parent,
                                         const std::string& after_name, int limit);
    // The same, a page of `limit` at a time from the start: f gets each page and
    // returns false to stop. Unload and its dry run read deliveries this way,
    // never all at once (SPEC §8).
    void each_delivery_page(int64_t pair_id, const std::vector<Kind>& kinds, int limit,
                            const std::function<bool(std::vector<DeliveryItem>&)>& f);
    // Where the destination holds entry_id's content (sql_held_at_dest): a local
    // source for a rename or a duplicate (no cargo bytes needed).
    struct Holder {
        int64_t id = 0;
        std::string rel;
    };
    std::optional<Holder> held_at_dest(int64_t entry_id, int64_t content_id);
    // Undelivered files of the pair (path order after (parent, name)) whose
    // content the destination holds under a name gone from the source.
    std::vector<RenameItem> renames(int64_t pair_id, const std::string& after_parent,
                                    const std::string& after_name, int limit);
    // Another old name for the rename of entry_id (as renames() picks one).
    std::optional<std::pair<int64_t, EntryPath>> rename_source(int64_t entry_id);
    // The destination's copy of entry_id is missing or not what was delivered:
    // not a local source any more, and delivered again if the source still has it.
    void mark_damaged_at_dest(int64_t entry_id);
    // Nothing stands at entry_id's path at the destination: it knows nothing
    // there (no delivered state), as after a deletion; its order stays.
    void forget_at_dest(int64_t entry_id);
    // Directories renamed or moved at the source: (new entry, old entry) for each
    // new directory with the inode of a delivered directory gone from the source.
    std::vector<std::pair<int64_t, int64_t>> renamed_dirs(int64_t pair_id);
    // The path of an entry that is still as renamed_dirs found it: `gone` (kind
    // NULL, delivered as a directory) or new (a directory not known at the
    // destination).
    std::optional<EntryPath> dir_for_move(int64_t entry_id, bool gone);
    // Whether the directory gone from `from` and the one new at `to` (the same
    // device and inode) are one directory moved, not an inode reused by a new
    // directory after the old one was removed (`rm -r a; mkdir b`): `from` had
    // no entry under it, or an entry under it is under `to` by the same name,
    // device and inode.
    bool same_dir_moved(int64_t pair_id, const std::string& from, const std::string& to);
    // What an entry's d_* columns say the destination holds at its path (the
    // size from d_content_id). known_at_dest: nullopt when they know nothing
    // there; also what they know damaged there (an order another drive raised
    // may have left nothing there: check_raised_knowledge).
    struct KnownAtDest {
        Kind kind = Kind::file;
        int64_t size = 0;
        std::optional<int64_t> mtime_ns; // d_mtime_ns: NULL for a file that left its link group
        std::string target;
        bool damaged = false; // known damaged already (known_at_dest only)
    };
    struct KnownAt {
        EntryPath at;
        KnownAtDest known;
    };
    std::optional<KnownAt> known_at_dest(int64_t entry_id);
    // The destination renamed directory `from` (entry from_id) to `to` (the
    // source's new directory): what the catalog knows of the destination under
    // `from` moves to the same paths under `to`, into the source's entries there,
    // or as entries gone from the source (deleted at the next deletions pass).
    // moved_onto for each entry whose destination state moved onto the
    // source's entry at the new path.
    struct MovedOnto {
        int64_t old_id = 0, new_id = 0;
        EntryPath at;                   // the new path
        std::optional<KnownAtDest> known; // what the moved state says stands there; nullopt when damaged
    };
    void move_dest_subtree(int64_t pair_id, int64_t from_id, const std::string& from,
                           const EntryPath& to, const std::function<void(const MovedOnto&)>& moved_onto);
    // The drive's journal of a directory move at the destination (one per pair):
    // recorded and committed before the rename, dropped in the commit that
    // records the move (move_dest_subtree) or when the rename was not made. A
    // run killed between the rename and that commit leaves it to the next
    // unload, which finishes the record when the destination shows the move.
    struct DirMove {
        int64_t from_id = 0;
        EntryPath from, to;
    };
    void record_dir_move(int64_t pair_id, const DirMove& move);
    std::optional<DirMove> dir_move(int64_t pair_id);
    void drop_dir_move(int64_t pair_id);
    // The first name of d's link group when d is not it (SPEC §6: names sharing
    // an inode at the source share one at the destination). A delivered d is
    // never asked about, so two delivered names never lead each other.
    std::optional<LinkLeader> link_leader(int64_t pair_id, const DeliveryItem& d);
    // A delivered, current file whose delivered version is older (d_ord) than
    // this drive's scan of it and than another delivered name of its source
    // inode with the same content, delivered before that scan: the two may be
    // one file at the destination (a link added to a delivered name) or two
    // (two drives each delivered one name, each before it knew of the
    // other's: random_rotation_partial.sh seed 85). The destination tells
    // (check_link_groups). One row per such file, `other` the newest of those
    // names.
    struct LinkedName {
        int64_t id = 0, ord = 0;
        EntryPath at, other;
        int64_t other_ord = 0;
    };
    std::vector<LinkedName> names_to_link_check(int64_t pair_id);
    // Raises entry_id's order at the destination to ord (never lowers it):
    // above the entry's own, the entry is superseded (the destination holds,
    // at or above its path, something stamped ord).
    void raise_order(int64_t entry_id, int64_t ord);
    // Up to `limit` names of the pair outside d's link group (link_leader's
    // rule) whose delivered, undamaged copy at the destination has d's
    // content, whether the source still has them or not (a rename may move a
    // gone name's file to a new name): the names d's destination file may
    // share with files that are not d's at the source (a link group broken
    // there, the content kept). A gone name on d's inode was one of d's links
    // (its row keeps the mtime it was last seen with): not outside.
    std::vector<EntryPath> holders_outside_group(int64_t pair_id, const DeliveryItem& d, int limit);
    // Whether the pair has an entry gone from the source that the destination
    // still holds (a pending deletion, or the old name of a rename).
    bool any_gone(int64_t pair_id);
    void mark_delivered(int64_t entry_id, int64_t now);
    // The directory entry at rel (not the root): a directory at the source
    // (delivered or not), or a directory the destination holds where the
    // source has something else or nothing. delivered: a directory at both
    // (its delivered times can be forgotten now). superseded: what the
    // destination holds there is a directory newer than this drive's scan of
    // the path (another drive delivered it later: the delivered order is above
    // the entry's), whatever this drive's scan found there (a directory, a
    // file, nothing). A run writing into it sets that state back, not its own
    // older view, and keeps its times on record (docs/rotation.md). nullopt
    // when rel names neither.
    struct DirAt {
        int64_t id = 0;
        bool delivered = false;
        bool superseded = false;
    };
    std::optional<DirAt> dir_at(int64_t pair_id, const std::string& rel);
    // The delivered directory entry_id loses its delivered times: undelivered
    // again, so that an unload sets them (those it is about to write into, and
    // one whose times could not be set back). Whether it was a delivered
    // directory.
    bool forget_dir_times(int64_t entry_id);
    // The directory the destination holds at entry_id, whose delivered state
    // an unload could not set back after writing into it, loses its delivered
    // mtime (the kernel's stands there), whatever this drive's scan found at
    // its path: also a superseded one (DirAt) where this drive saw a file.
    void forget_set_back_times(int64_t entry_id);
    // Directory entry_id as delivered (mode, owner, mtime, attributes).
    std::optional<DeliveryItem> delivered_dir(int64_t entry_id);
    // A journal of the superseded directories an unload may write into (meta
    // key "dir_times:<pair id>", their entry ids), recorded before it writes:
    // a run that dies before setting their times back leaves it to the next.
    void record_dir_times(int64_t pair_id, const std::vector<int64_t>& ids);
    std::vector<int64_t> dir_times(int64_t pair_id);
    void drop_dir_times(int64_t pair_id);
    // Whether entry_id was last seen at the source as the file (device and
    // inode) d is now.
    bool same_file(int64_t entry_id, const DeliveryItem& d);
    // The same for the directory at rel (not the root) when it is a delivered
    // directory: its id then, nullopt when it is not (an undelivered one is set
    // by the unload anyway).
    std::optional<int64_t> forget_delivered_dir_times(int64_t pair_id, const std::string& rel);
    // (parent, name, ord) of what an unload may change at the destination now:
    // deletions, and undelivered entries that are current and not files, or
    // files whose content is complete on the drive or held at the destination.
    // Recorded in the destination's order record before anything changes there;
    // given to f one at a time as they are read (ten million of them at a first
    // unload: never all in memory).
    void each_order_intent(int64_t pair_id, const PathOrderSink& f);
    // Undelivered files whose destination holds a version stamped later (another
    // drive's), not yet kept in versions/: what unload keeps there instead of
    // placing it (SPEC §9: no version is lost). After after_parent/after_name.
    std::vector<DeliveryItem> superseded(int64_t pair_id, const std::string& after_parent,
                                         const std::string& after_name, int limit);
    // Forgets the deletions of files this drive never delivered, once
    // each_order_intent took them to the destination's order record.
    void drop_deletion_records(int64_t pair_id);
    // The entry's version was kept in versions/.
    void set_shelved(int64_t entry_id);
    void record_staged(int64_t pair_id, int64_t content_id, int64_t idx);
    void clear_staged(int64_t pair_id, int64_t content_id);
    // Entries gone from the source whose destination copy barge delivered.
    // Deletions to apply: entries gone from the source (in a version not older
    // than the destination's) where the destination holds what this drive knows
    // was delivered (d_kind). Children before their directories (reverse path
    // order), a page of `limit` at a time: f gets each page and returns false to
    // stop. Rows f forgets or leaves are both passed over (SPEC §8: a million
    // deletions are never held at once).
    void each_deletion_page(int64_t pair_id, int limit,
                            const std::function<bool(std::vector<DeliveryItem>&)>& f);
    // Its statement for the first page, or for a page below a key (the
    // migration test checks SQLite's plan of the real one).
    static std::string deletion_page_sql(bool after_key);
    void forget_entry(int64_t entry_id);
    // Whether the pair has any row below directory dir.
    bool has_rows_below(int64_t pair_id, std::string_view dir);
    // The directory entry entry_id, if the source has a directory there.
    std::optional<DeliveryItem> dir_entry_by_id(int64_t entry_id);

private:
    Database& m_db;
};

} // namespace barge
