#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/fs/dest_tree.hpp"
#include "barge/fs/medium.hpp"
#include "barge/util/error.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace barge {

class HashPipeline;

// Whether a pair's destination can be written here (SPEC §4).
enum class DestState {
    visible,     // its marker is there
    claimable,   // never claimed, and its parent directory exists
    not_visible, // claimed but the marker is gone, or the parent is missing
};
DestState dest_state(const Pair& pair);
// The refusal for a claimed destination whose marker has gone (a disk not mounted).
Refusal dest_marker_missing(const Pair& pair);

// Throws Refusal when the destination cannot be claimed: its parent is missing,
// or it is another pair's destination already.
void check_claimable(const Pair& pair);
// Claims an unclaimed destination: creates DEST (never its parent) and writes
// its marker, then records the claim. Throws Refusal when it cannot.
void claim_destination(Catalog& catalog, const Pair& pair);

// Removes the folders of DEST/.barge/trash and DEST/.barge/versions whose UTC
// time is older than retention_days (SPEC §7.5), never following a symlink,
// except this run's own (named run_stamp, or run_stamp-N): what a run set
// aside lasts until a later run at least, whatever the retention (0 too) and
// however the run's stamp compares with the clock at its end.
// Returns how many were removed. Throws SystemError naming the path.
int64_t prune_expired(const DestTree& tree, int retention_days, std::string_view run_stamp);

// Whether the name that answers to e in its directory (parent_fd, which is at
// e.parent in tree) is e's exact name, not one a case-insensitive or
// normalizing file system (exFAT, ext4 casefold) takes for it.
bool exact_name_present(const DestTree& tree, int parent_fd, const EntryPath& e);

// The operations of one unload on a destination tree: every path is confined
// beneath DEST (DestTree), nothing is ever unlinked there (what is replaced or
// deleted moves to DEST/.barge/versions or trash, SPEC §7.5), and nothing takes a
// final name before it is complete. Catalog-free: the unload records what happened.
class Destination {
public:
    explicit Destination(const Pair& pair);

    const DestTree& tree() const { return m_tree; }
    std::string display(std::string_view rel) const { return m_tree.display(rel); }
    // DEST/.barge/staging, where files are written before they take their names.
    Medium& staging() { return m_staging; }

    // Sets owner (as root), mode, extended attributes and mtime on an open file
    // or directory.
    void apply_metadata(int fd, const FileStat& st, const std::string& where);
    // Makes the extended attributes of the open file fd (or, with fd < 0, of the
    // entry `name` in staging, never following it) those of st; returns whether
    // any changed. What the destination refuses is counted (xattrs_unsupported,
    // xattrs_refused).
    bool apply_xattrs(int fd, const std::string& name, const FileStat& st, const std::string& where);
    // Files whose attributes the destination's file system cannot hold, and
    // attributes it did not permit (trusted.* or security.* without root).
    int64_t xattrs_unsupported() const { return m_xattrs_unsupported; }
    int64_t xattrs_refused() const { return m_xattrs_refused; }
    int64_t xattrs_rejected() const { return m_xattrs_rejected; }
    // Is the right content already at e's final path (an interrupted run renamed
    // it into place, or the destination was seeded by hand)? Then its metadata is
    // set and synced, and true returned. A file there with other names is d's
    // only when none of them belongs to another file at the source: `shared`
    // (given the file's device and inode) says whether one does, and false is
    // returned then (d gets a file of its own, SPEC §6).
    bool already_there(const DeliveryItem& d, const Digest& hash, HashPipeline& pipe,
                       const std::function<bool(uint64_t dev, uint64_t ino)>& shared);
    // Whether the destination's file under at's exact name (never followed) is
    // the file with this device and inode. Throws for an unsafe catalog path.
    bool is_file_at(const EntryPath& at, uint64_t dev, uint64_t ino) const;
    // Renames a verified file into place; whatever stood there is kept as an old
    // version. Refuses (SystemError) a name the file system takes for another one
    // (exFAT: 'Foo' for 'foo'). Thread-safe (the verifier thread places files).
    void place(TempFile& file, const EntryPath& e);
    // Places a verified file at DEST/.barge/versions/<stamp>/<e's path> instead
    // of e's path (a version older than the one there: SPEC §9). Thread-safe.
    void place_version(TempFile& file, const EntryPath& e);
    // What became of a rename or a link made from a copy already at the destination.
    enum class FromCopy {
        done,
        missing,     // no regular file under that exact name
        damaged,     // it does not hash to what was delivered there
        unsupported, // the file system cannot (hard links on exFAT)
        shared,      // a rename's copy is also under other names (hard links)
    };
    // A rename or move at the source: renames the destination's copy at `from` to
    // d's path, after checking it is a regular file that hashes to `hash`, and
    // gives it d's metadata; whatever stood at d's path is kept as an old
    // version. Nothing moves when the copy is missing or damaged, or, when
    // `alone` (d is not the source's file that was at `from`), when the copy
    // has other names at the destination (shared: d would take their inode and
    // share its metadata with them, though at the source it is a file of its
    // own; it is delivered as any file then). The caller syncs
    // (renamed_barrier) before recording it.
    FromCopy move_into_place(const EntryPath& from, const DeliveryItem& d, const Digest& hash,
                             HashPipeline& pipe, bool alone);
    // A hard link at the source: makes d's path another name of the destination's
    // file at `leader` (checked the same way); whatever stood at d's path is kept
    // as an old version.
    FromCopy link_into_place(const EntryPath& leader, const DeliveryItem& d, const Digest& hash,
                             HashPipeline& pipe);
    // A directory renamed or moved at the source: renames the destination's
    // directory `from` to `to`, when `from` is a real directory and nothing
    // stands at `to` yet. Returns whether it did. The caller syncs
    // (renamed_barrier) before recording it.
    bool move_dir(const EntryPath& from, const EntryPath& to);
    // Creates directory d; a file in the way is kept as a version. Throws (and
    // remembers, see refused_ancestor) when the file system takes the name for an
    // existing different directory.
    void make_dir(const DeliveryItem& d);
    // Writes symlink d under a temporary name with its owner and mtime, and places it.
    void make_symlink(const DeliveryItem& d);
    // The same for a FIFO or device node (SPEC §6): made with mknod; a file
    // system that cannot hold one (exFAT) or a device without root throws.
    void make_node(const DeliveryItem& d);
    // Moves what stands at d's path to DEST/.barge/trash/<stamp>/ (a directory is
    // removed only when empty: one still holding something stays). Returns what
    // it did.
    // other_spelling: what answers to the name is another spelling of it, or
    // stands under another spelling of a directory above (case-insensitive).
    enum class Trashed { nothing, moved, removed_dir, kept_dir, other_spelling };
    Trashed trash(const EntryPath& d);
    // Sets a directory's own metadata (after everything inside it was written).
    void set_dir_metadata(const DeliveryItem& d);
    // The nearest ancestor directory of e refused this run, if any.
    std::optional<std::string> refused_ancestor(const EntryPath& e) const;

    // Directories (relative) this run wrote into since the last call: their
    // mtime needs restoring. The caller takes them a few thousand at a time
    // (touched_count), so that a run over a million directories never holds
    // all their paths.
    std::set<std::string> take_touched();
    size_t touched_count() const;
    // Files and directories kept in versions/ so far.
    int64_t versions() const { return m_versions; }
    // This run's folder name in trash/ and versions/ (its UTC time).
    const std::string& stamp() const { return m_stamp; }

private:
    bool exact_name_present(int parent_fd, const EntryPath& e) const {
        return barge::exact_name_present(m_tree, parent_fd, e);
    }
    // Whether each directory of `parent` stands under its exact name (a case
    // twin answers for it on a case-insensitive destination). Kept for the run.
    bool exact_parent_present(const std::string& parent);
    // exact_name_present for a deletion, the last directory's listing kept.
    bool exact_name_to_delete(int parent_fd, const EntryPath& e);
    // A rename that changes only the case of a name within one directory, on a
    // case-insensitive destination: made, and checked. False when that is not
    // what stands here (the ordinary way then decides).
    bool respell(int from_parent, const EntryPath& from, int parent, const EntryPath& to);
    // The destination's copy at `at`, for d: a regular file under that exact name
    // (its directory and the open file in `dir` and `fd`) that hashes to `hash`,
    // given d's mode, owner and mtime (synced) where the source changed them.
    // alone: shared, and nothing changed, when the file has other names.
    FromCopy check_copy(const EntryPath& at, const DeliveryItem& d, const Digest& hash,
                        HashPipeline& pipe, Fd& dir, Fd& fd, FileStat& st, bool alone);
    // Whether e's exact name in parent_fd (never followed) is the file with this
    // device and inode: a link of it already.
    bool is_file_in(int parent_fd, const EntryPath& e, uint64_t dev, uint64_t ino) const;
    // at's directory, when at names a directory (dir) or a regular file under
    // that exact name; else no Fd. Throws for an unsafe catalog path.
    Fd parent_of(const EntryPath& at, bool dir) const;
    // A rename into or out of dirfd (the destination's directory rel): made
    // durable by the next renamed_barrier, and rel's mtime restored at the end.
    void renamed_in(int dirfd, const std::string& rel);
    // The run is about to add or remove a name in dirfd (the destination's
    // directory rel). Not root, a directory of ours without the owner's write
    // and search permission (a read-only directory delivered before, 0555)
    // gets them, as rsync does, and counts as touched: the run gives it back
    // its own mode and times at its end. Every such directory had its delivered
    // times forgotten first (the unload's parents), so a run killed before its
    // end leaves its mode to the next run too. Another user's is left alone.
    void write_into(int dirfd, const std::string& rel);
    // The destination's directory rel, opened (made where missing) for
    // write_into.
    Fd dir_to_write(const std::string& rel);
    // Gives a symlink or node just made in staging its owner (as root),
    // attributes, mode (not a symlink's) and mtime, by name, never following
    // it, and places it.
    void place_new(TempFile& made, const DeliveryItem& d);
    // Renames from_name in from_dir to e's name in parent_fd; what stands there,
    // or is put there by another program meanwhile, goes to versions/ (refused
    // when the file system takes e's name for another one). Calls moved() once
    // the entry has its name; on a throw before, the entry is back at
    // from_name (or, when something took that name meanwhile, waits in
    // staging for tidy_staging). `what` names the rename in errors.
    void rename_over(int from_dir, std::string from_name, int parent_fd, const EntryPath& e,
                     const std::string& what, const std::function<void()>& moved);
    // After RENAME_EXCHANGE: `swap` in staging holds what stood at e's name.
    // The file `kept` (device, inode) in versions/ loses this name; anything
    // else is kept in versions/ too.
    void keep_displaced(const std::string& swap, std::pair<dev_t, ino_t> kept, const EntryPath& e);
    // At the start, what an interrupted run left in staging, from one listing.
    // A swap- name (rename_over) goes when it is the version kept in versions/
    // (its inode is in the name) or an entry still under its tmp- name, else
    // to versions/<stamp>/<its swap- name> (another program's file, or an
    // entry renamed there that never took its name); one that cannot be moved
    // waits for the next unload. Then the tmp- files go. Assembly files
    // (.part) stay: the catalog's staged rows say which of their pieces are
    // complete.
    void tidy_staging();
    // Keeps what stands at e's name in .barge/<area>/: a regular file, with
    // keep_link, as a hard link (returned: its device and inode; the name still
    // holds it), else (or where links fail) by a rename.
    std::optional<std::pair<dev_t, ino_t>> move_aside(int parent_fd, const EntryPath& e,
                                                      const char* area, bool keep_link);
    // The folder of this run in .barge/<area>/ for e's parent, made as needed,
    // where e's name is free; `rel` its path below the destination's root.
    struct Aside {
        Fd fd;
        std::string rel;
    };
    Aside aside_dir(const char* area, const EntryPath& e);
    // Renames name in dir to this run's folder in .barge/<area>/, as e's path.
    Aside rename_aside(int dir, const std::string& name, const EntryPath& e, const char* area);

    DestTree m_tree;
    Medium m_staging;
    std::string m_stamp; // this run's folder in trash/ and versions/
    bool m_root;         // owners are restored only as root
    mutable std::mutex m_mutex;
    std::set<std::string> m_touched;
    std::set<std::string> m_refused;
    std::set<std::string> m_exact_parents; // exact_parent_present
    // exact_name_to_delete: a directory (its path) and its names, sorted.
    std::optional<std::pair<std::string, std::vector<std::string>>> m_listed;
    std::atomic<int64_t> m_versions{0};
    std::atomic<int64_t> m_xattrs_unsupported{0};
    std::atomic<int64_t> m_xattrs_refused{0};
    std::atomic<int64_t> m_xattrs_rejected{0};
    // Whether the file system knows renameat2's flags (rename_over): false once
    // it refuses one.
    std::atomic<bool> m_noreplace{true};
    std::atomic<bool> m_exchange{true};
};

} // namespace barge
