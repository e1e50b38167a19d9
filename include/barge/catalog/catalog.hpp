#pragma once

#include "barge/catalog/database.hpp"
#include "barge/catalog/page_map.hpp"
#include "barge/catalog/replica.hpp"
#include "barge/crypto/drive_keys.hpp"
#include "barge/util/size.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace barge {

// What happens at the destination to a file deleted at the source.
enum class OnDelete { keep, trash };

// The options of `pair add`.
struct PairSettings {
    std::string name;
    std::string source; // absolute path, raw bytes
    std::string dest;   // absolute path, raw bytes
    SizeSpec reserve{1024ull * 1024 * 1024, -1};
    OnDelete on_delete = OnDelete::keep;
    int retention_days = 90;
    double mass_change_limit = 25;
    int64_t mass_change_min = 100; // the brake needs at least this many files too
    bool source_marker = true;
    std::vector<std::string> excludes{}; // {}: tests name the other fields alone ({.name = ...})
    // When the options above (but the reserve, which is each drive's own) were
    // last set: of two drives serving one pair, the newer options win (SPEC §9).
    // Written as given (0: never set, as a pair from before schema 5; any
    // setting wins over it); `pair add` and `pair set` stamp it.
    int64_t options_ns = 0;
};

// A pair as the catalog records it.
struct Pair : PairSettings {
    int64_t id = 0;
    std::string uuid;
    int64_t created_ns = 0;
    std::optional<int64_t> dest_claimed_ns;
    int64_t scan_gen = 0;
    std::optional<int64_t> last_scan_ns;
    // The machine (/etc/machine-id) where each endpoint's marker was last seen, and when.
    std::optional<std::string> source_machine, dest_machine;
    std::optional<int64_t> source_seen_ns, dest_seen_ns;
    // Which extended attributes the entries' xattrs hold: "user" (a scan not run
    // as root) or "root" (docs/what-travels.md), once a whole scan read them for
    // every entry; empty before (a catalog migrated from schema 3) and after a
    // scan that could not read some: the next scan reads them all again.
    std::optional<std::string> xattr_scope;
    // The order stamp of the pair's last scan (SPEC §9; engine/rotation.hpp).
    int64_t last_ord = 0;
    // How much of the destination's order record (DEST/.barge/order-<uuid>.db) this
    // drive has taken in: the record's epoch and its last sequence number read.
    std::optional<std::string> dest_order_epoch;
    int64_t dest_order_seq = 0;
};

// Which end of a pair.
enum class End { source, dest };

// What one run did for one pair (side: "source", "destination" or "drive").
struct PairRun {
    int64_t run_id = 0;
    int64_t started_ns = 0;
    std::string host, command, side;
    int64_t exit_code = 0;
    int64_t files = 0, bytes = 0, failed = 0;
};

// One row of the run history (`barge log`).
struct RunRecord {
    int64_t id = 0;
    int64_t started_ns = 0;
    std::optional<int64_t> ended_ns;
    std::string host, command, side, pairs;
    std::optional<int64_t> exit_code;
    int64_t files = 0, bytes = 0, failed = 0;
    std::string summary;
};

// The drive's catalog (DRIVE/barge.db): settings, pairs, entries, contents,
// pieces and runs. See docs/catalog.md for the schema and the SQLite settings.
class Catalog {
public:
    // Creates a new catalog file; throws if one exists. With keys (an encrypted
    // drive), every page is encrypted and authenticated (catalog/vfs.hpp).
    static Catalog create(const std::string& path, uint64_t piece_size,
                          const std::string& drive_id,
                          std::shared_ptr<const DriveKeys> keys = nullptr);
    // How much of the catalog is checked when it is opened. Every page read is
    // checked against its checksum whatever the choice (catalog/vfs.hpp), so a
    // command costs what it reads; full also runs SQLite's quick_check over the
    // whole file first (verify-middle, recover; before every migration).
    enum class Check { pages, full };
    // Opens an existing catalog: schema objects check, migration (after a full
    // check and a backup copy) or refusal of a newer version (exit 2); a catalog
    // made before page checksums is converted.
    // keys: the unlocked drive's, for an encrypted catalog (a page that does not
    // authenticate is refused like a corrupt one).
    static Catalog open(const std::string& path, Check check = Check::pages,
                        std::shared_ptr<const DriveKeys> keys = nullptr);
    // Whether open() would rewrite the catalog at path (an older schema version, or
    // pages without checksums), judged from its header alone (encrypted: its
    // first page, decrypted).
    static bool needs_upgrade(const std::string& path, std::shared_ptr<const DriveKeys> keys = nullptr);

    // Rewrites a plain catalog, page by page, into an encrypted one under keys
    // (`barge encrypt`): a copy made durable beside it, then renamed over it. The
    // page map is dropped (the endpoint copies are made whole, encrypted, next).
    static Catalog encrypt(Catalog cat, const std::string& path, std::shared_ptr<const DriveKeys> keys);

    Database& db() { return m_db; }

    std::optional<std::string> meta(const std::string& key);
    void set_meta(const std::string& key, const std::string& value);
    uint64_t piece_size();
    std::string drive_id();
    // Increments and returns the drive's generation (one per run that changes state).
    int64_t bump_generation();
    // The drive's current generation.
    int64_t generation();
    // The whole catalog file, byte for byte, at path: written beside it under a
    // temporary name, synced, then renamed over it. No transaction may be open.
    void backup_to(const std::string& path);

    // Records which pages each session writes (catalog/page_map.hpp); call before
    // the first write. Only the drive's own catalog, under the exclusive lock.
    void track_pages();
    // Ends the current step of the page map if pages were written since the last.
    void seal_pages();
    // Brings the endpoint copy at copy_path up to date (catalog/replica.hpp): only
    // the pages written since it was last brought up to date. No transaction open.
    ReplicaUpdate update_copy(const std::string& copy_path);

    // Pairs. add_pair throws Refusal when the name is taken.
    Pair add_pair(const PairSettings& settings, const std::string& uuid);
    std::vector<Pair> pairs();
    std::optional<Pair> find_pair(const std::string& name);
    void remove_pair(int64_t pair_id);
    void set_dest_claimed(int64_t pair_id, int64_t ns);
    // Replaces a pair's options (not its name, roots or id).
    void set_pair_settings(int64_t pair_id, const PairSettings& settings);
    // Records that an end's marker was seen now on this machine.
    void set_seen(int64_t pair_id, End end, const std::string& machine, int64_t ns);
    // Records a scan's generation, and with finished_ns, when it walked the whole tree.
    void set_scan_gen(int64_t pair_id, int64_t gen, std::optional<int64_t> finished_ns);
    void set_xattr_scope(int64_t pair_id, const std::optional<std::string>& scope);
    void set_last_ord(int64_t pair_id, int64_t ord);
    void set_dest_order_read(int64_t pair_id, const std::string& epoch, int64_t seq);

    // Runs: a row opened at the start of a command and closed at its end.
    int64_t begin_run(const std::string& command, const std::string& side,
                      const std::string& pair_names, int64_t started_ns);
    void end_run(int64_t run_id, const std::string& side, int exit_code, int64_t files,
                 int64_t bytes, int64_t failed, const std::string& summary);
    // The newest runs first.
    std::vector<RunRecord> runs(int limit);
    // The newest run of command (e.g. "load"), if any.
    std::optional<RunRecord> last_run(const std::string& command);
    // The newest run of one of the commands whose side is one of sides (a "run"
    // that loaded has side "source" or "both"), if any.
    std::optional<RunRecord> last_run_of(const std::vector<std::string>& commands,
                                         const std::vector<std::string>& sides);
    // Records what a run did for one pair.
    void record_pair_run(int64_t run_id, int64_t pair_id, const std::string& side, int exit_code,
                         int64_t files, int64_t bytes, int64_t failed);
    // The newest run of one of these commands that worked on the pair's side
    // (e.g. {"load", "run"} on "source"), if any.
    std::optional<PairRun> last_pair_run(int64_t pair_id, const std::string& side,
                                         const std::vector<std::string>& commands);

private:
    void set_excludes(int64_t pair_id, const std::vector<std::string>& patterns);
    Catalog(Database db, std::shared_ptr<const DriveKeys> keys);
    static Catalog open_checked(const std::string& path, Check check,
                                std::shared_ptr<const DriveKeys> keys);
    static Catalog protect(Catalog cat, const std::string& path);
    void configure();
    Pair read_pair(Statement& st);

    std::unique_ptr<PageMap> m_pages; // before m_db: outlives the connection it tracks
    Database m_db;
    std::shared_ptr<const DriveKeys> m_keys; // null: a plain drive
    std::unique_ptr<PageCipher> m_cipher;     // with m_keys: checks pages copied to endpoints
};

} // namespace barge
