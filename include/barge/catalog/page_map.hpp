#pragma once

#include "barge/catalog/vfs.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace barge {

// Which pages of the drive's catalog changed when, so that a copy of the catalog
// kept at an endpoint (catalog/replica.hpp) is brought up to date by copying only
// the pages written since that copy was made (SPEC §8: no per-run cost
// proportional to the whole catalog). docs/catalog.md, "Endpoint copies".
//
// The map lives beside the catalog (barge.db.pages). Each session that writes
// the catalog is one step of a counter; the map holds, per page, the step that
// last wrote it. It is only trusted when it provably describes the file:
//   - it is removed (and the removal synced) before the first write of a session
//     and written again, atomically, only once that session's writes are known:
//     a run that dies in between leaves no map;
//   - it records the catalog's size and mtime as it left them: a catalog replaced
//     or edited by anything else (a restored image, recover, sqlite3) differs;
//   - it carries a BLAKE2b checksum of itself.
// An untrusted or missing map starts a new epoch (a random id) in which every page
// counts as written: every endpoint copy is then made whole once.
class PageMap : public PageWriteTracker {
public:
    // Loads the map of the catalog at db_path (which must exist), or starts a new
    // epoch when there is none that can be trusted.
    explicit PageMap(std::string db_path);

    // The current state: pages written in a step after `since` need copying.
    uint64_t epoch() const { return m_epoch; }
    uint64_t step() const { return m_step; }
    uint32_t page_size() const { return m_page_size; }
    // Pages of the catalog (its size / page size), as of the last seal().
    uint64_t pages() const { return m_versions.size(); }
    // The current step's random id. Each step gets a fresh one, so that a copy made
    // from another history of the catalog (an old image restored and then written,
    // reaching the same step numbers) is never taken for this one's.
    uint64_t step_id() const;
    // Whether step `step` of this map's history had the id `id` (the map keeps the
    // ids of its last 512 steps).
    bool knows(uint64_t step, uint64_t id) const;
    // The 1-based numbers of the pages written after step `since` of this epoch.
    std::vector<uint64_t> written_since(uint64_t since) const;

    // Whether the catalog was written since the last seal().
    bool unsealed() const { return m_unsealed; }
    // Ends a step if the catalog was written since the last one: the written pages
    // get the new step's number and the map is written atomically and durably.
    // Call it with no transaction open (the file as SQLite left it).
    void seal();

    // PageWriteTracker: the first write of a step removes the map file.
    bool before_write() noexcept override;
    void wrote(uint64_t first, uint64_t last) noexcept override;

    // The file name of the map of the catalog at db_path.
    static std::string path_for(const std::string& db_path);
    // Removes the map of the catalog at db_path, durably: before the catalog is
    // written by anything that does not track its pages (a migration, recover).
    static void forget(const std::string& db_path);

private:
    bool load();
    void start_epoch();
    void read_catalog_size();

    std::string m_db_path, m_path;
    uint64_t m_epoch = 0, m_step = 0;
    uint32_t m_page_size = 4096;
    std::vector<std::pair<uint64_t, uint64_t>> m_step_ids; // (step, random id), oldest first
    std::vector<uint32_t> m_versions; // per page (index 0 = page 1): the step that wrote it
    std::vector<bool> m_dirty;        // pages written since the last seal (index 0 = page 1)
    uint64_t m_dirty_from = UINT64_MAX; // ... and every page from this one on
    bool remove_file() noexcept;

    bool m_removed = false;  // the map file is durably gone: writes may land
    bool m_unsealed = false; // writes (or a new epoch) the map file does not show yet
};

} // namespace barge
