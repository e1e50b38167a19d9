#pragma once

#include "barge/catalog/database.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/file_stat.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace barge {

// A Kind as it is stored, for SQL text ("1" for files).
constexpr const char* sql_kind(Kind k) {
    switch (k) {
    case Kind::file:
        return "1";
    case Kind::dir:
        return "2";
    case Kind::symlink:
        return "3";
    case Kind::fifo:
        return "4";
    case Kind::chardev:
        return "5";
    case Kind::blockdev:
        return "6";
    }
    return "NULL";
}

// The entries status counts and delivers one by one: files, symlinks and
// special files ("e.kind != 2"; a gone entry's NULL kind compares false). The
// partial index entries_undelivered repeats it (schema.cpp). Not "kind IN (1,
// 3, 4, 5, 6)": SQLite builds an IN list of more than two values as a
// temporary table each time a trigger runs it, which made every update of an
// entry five times slower.
inline std::string sql_counted(const char* alias) {
    return std::string(alias) + ".kind != 2";
}

// The rows of a pair below directory `dir`: those whose parent is dir
// (sql_below_children) and those whose parent is in [dir + "/", dir + "0")
// (sql_below_deeper); bind_below binds their parameters ?1 to ?4. Each is a
// range of the unique key (pair_id, parent, name): use them as two statements
// or a UNION ALL. Joined by OR in one condition, they made the planner read
// every row of the pair through entries_inode, once per directory a scan found
// gone or an unload moved.
inline constexpr const char* sql_below_children = "pair_id = ?1 AND parent = ?2";
inline constexpr const char* sql_below_deeper = "pair_id = ?1 AND parent >= ?3 AND parent < ?4";
Statement& bind_below(Statement& st, int64_t pair_id, std::string_view dir);

// An entry's source side as the catalog holds it; kind is empty when the entry
// has gone from the source (a deletion not yet applied at the destination).
struct EntryRow {
    int64_t id = 0;
    std::string name;
    std::optional<Kind> kind;
    FileStat st;
    std::optional<int64_t> content_id;
    bool racy = false;
};

// A file that still needs hashing.
struct HashJob {
    int64_t id = 0;
    std::string path; // relative to the source root
    FileStat st;
    std::optional<int64_t> content_id; // the hash on record, for racy re-checks
};

// The stat columns of entries, in the order read_stat_columns expects: a
// device's number is stored in target as "MAJOR:MINOR".
extern const char* const sql_stat_columns;
constexpr int stat_column_count = 11;

// Undelivers file entry ?1 (forgets its delivered mtime) when its delivered
// copy is a link it shares with another name of the pair: some entry other
// than ?5 with inode (?3, ?4) in pair ?2 that is a file at the source or was
// delivered as one. The one rule for the scan (leave_link_group: ?5 is ?1; ?3, ?4 its
// old inode) and for a directory move onto a rewritten file (?5 is the moved
// entry whose inode it was).
extern const char* const sql_leave_link_group;
std::string device_number_text(uint64_t rdev);
// Throws CatalogError for text device_number_text did not write.
uint64_t parse_device_number(std::string_view text);
// The same, each qualified with a table alias ("e.kind, e.mode, ...").
std::string stat_columns_of(const char* alias);
// The same, the delivered state in place of the source's where the catalog keeps
// it (e.d_kind, e.d_mode, ..., e.size, ...).
std::string delivered_stat_columns_of(const char* alias);
// Reads the stat columns starting at column first.
FileStat read_stat_columns(const Statement& st, int first);

// The catalog queries of the source side (scan). Statements are prepared once.
class EntryStore {
public:
    // ord: the order stamp what this store records gets (SPEC §9): the scan's,
    // taken at the source; 0 for a store that records no source change.
    EntryStore(Database& db, int64_t ord);

    // Stamps with this store's order the entries the destination holds a
    // later-stamped version of and that are not delivered (superseded by a
    // drive that saw the source earlier than this scan), and the gone ones this
    // drive learned of from another drive only. Returns how many.
    int64_t restamp_superseded(int64_t pair_id, int64_t ord);
    // How many files restamp_superseded would make deletions to deliver (files
    // the destination holds that this drive learned of from another drive and
    // the source no longer has): counted by the mass-change brake.
    int64_t count_deletions_to_restamp(int64_t pair_id);

    // Every catalog row directly inside parent ("" = root), sorted by name bytes.
    std::vector<EntryRow> children(int64_t pair_id, std::string_view parent);
    // A new row; returns its id.
    int64_t insert(int64_t pair_id, std::string_view parent, std::string_view name,
                   const FileStat& st, int64_t gen);
    // Records a changed source stat; the content becomes unknown when forget_content.
    enum class ForgetContent { yes, no };
    void update(int64_t id, const FileStat& st, int64_t gen, ForgetContent forget);
    // File entry id left its inode `old` (an editor's rewrite, `cp -p f t && mv t f`)
    // while other files of the pair have it (or had it, gone from the source but
    // still at the destination: a name this scan found gone may be moved there
    // to a new one): its destination file, delivered as one of their links, is
    // theirs too. It is undelivered again (its delivered mtime forgotten, its
    // copy there still a local source), so that unload gives it a file of its
    // own (SPEC §6). Returns whether it was.
    bool leave_link_group(int64_t id, int64_t pair_id, const FileStat& old);
    // The entry left the source.
    void mark_gone(int64_t id, int64_t gen);
    // What left the source below a directory.
    struct SubtreeGone {
        int64_t others = 0; // files, symlinks, special files
        int64_t dirs = 0;
    };
    // Everything below dir left the source.
    SubtreeGone mark_subtree_gone(int64_t pair_id, std::string_view dir, int64_t gen);
    // Regular files and symlinks present at the source.
    int64_t count_present(int64_t pair_id);
    // A new or changed file of this scan that has the inode, size and mtime of a
    // file with known content that left the source in this scan.
    struct RenameMatch {
        int64_t new_id = 0;
        int64_t old_id = 0;
    };
    // What decides whether a match is a rename: the new entry's path and
    // inode, the old entry's ctime as last seen.
    struct RenameCandidate {
        std::string parent, name;
        uint64_t ino = 0, dev = 0;
        int64_t old_ctime_ns = 0;
    };
    // Gives such entries the known content (no re-hash) when same_file says the
    // new entry is the old file under its new name (same_inode_life), and tells
    // on_match of each, in new entry id order.
    void match_renames(int64_t pair_id, int64_t gen, const std::function<bool(const RenameCandidate&)>& same_file,
                       const std::function<void(const RenameMatch&)>& on_match);
    // Whether any entry of the pair has a content on record (else no new file
    // can be a rename match_renames would find).
    bool any_content(int64_t pair_id);
    // Whether an entry of the pair with known content has st's inode, size and
    // mtime: a new file that match_renames may give that content.
    bool inode_has_content(int64_t pair_id, const FileStat& st);
    // Files to hash (no content yet, or racy), in id order after after_id.
    std::vector<HashJob> hash_jobs(int64_t pair_id, int64_t after_id, int limit);
    // How many files (and bytes) hash_jobs has left after after_id.
    struct HashWork {
        int64_t files = 0, bytes = 0;
    };
    HashWork hash_work(int64_t pair_id, int64_t after_id);
    // The id of content (hash, size), created when new.
    int64_t content_id(const Digest& hash, int64_t size);
    // Records a file's content; racy: its mtime was too recent to trust the stat.
    void set_content(int64_t id, int64_t content_id, bool racy);

private:
    Database& m_db;
    int64_t m_ord = 0;
    Statement m_children, m_insert, m_update_keep, m_update_forget, m_leave_group, m_gone, m_set_content;
    Statement m_inode_content;
};

} // namespace barge
