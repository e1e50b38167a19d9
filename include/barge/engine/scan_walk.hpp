#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/engine/scan.hpp"
#include "barge/fs/dir.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/glob.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace barge {

// What the file-system side of the walk found in one directory.
struct Listing {
    std::string dir;
    Fd fd; // the directory, open: entries' attributes are read beneath it
    std::string error; // the directory could not be read: leave its rows alone
    // With error: it was gone or no longer a directory when opened (removed or
    // replaced since its parent's listing), a race rather than a failure.
    bool vanished = false;
    struct Item {
        std::string name;
        std::optional<EntryStat> es; // empty: could not be examined (err)
        int err = 0;
        bool excluded = false;
        bool skipped_dir = false; // the drive itself
    };
    std::vector<Item> items;
};

// The file-system half of a scan's walk, on its own thread: opens, lists and
// stats directories depth first, in name order, and hands complete listings to
// the catalog half through a bounded queue, so the system calls of one directory
// overlap the SQL of another. Never enters a .barge directory (SPEC §3) nor the
// drive itself; marks excluded entries.
class Lister {
public:
    Lister(const Pair& pair, const ScanOptions& options, double deadline);
    ~Lister();
    Lister(const Lister&) = delete;
    Lister& operator=(const Lister&) = delete;

    // The next listing; nullopt when the walk is over. stopped() then tells whether
    // it ended early (deadline or stop request) rather than by reaching the end.
    std::optional<Listing> next();
    bool stopped() const { return m_stopped; }

private:
    static constexpr size_t max_queued = 64;
    void run();
    Listing list(const std::string& dir, std::vector<std::string>& stack);

    ExcludeSet m_excludes;
    double m_deadline;
    Fd m_root;
    dev_t m_skip_dev = 0;
    ino_t m_skip_ino = 0;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<Listing> m_queue;
    bool m_done = false, m_cancel = false;
    std::atomic<bool> m_stopped{false};
    std::thread m_thread; // last: started once everything above exists
};

} // namespace barge
