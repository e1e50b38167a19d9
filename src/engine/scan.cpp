#include "barge/engine/scan.hpp"

#include "barge/catalog/entries.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/marker.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/error.hpp"
#include "barge/util/glob.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_set>

namespace barge {

void check_source_visible(const Pair& pair) {
    struct stat st{};
    if (::stat(pair.source.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw Refusal(fmt::format("source '{}' of pair '{}' is not visible here: it is not a "
                                  "directory (is its disk mounted?)",
                                  escape_bytes(pair.source), pair.name));
    }
    if (pair.source_marker) {
        if (!has_marker(pair.source, pair.uuid, Role::source)) {
            throw Refusal(fmt::format(
                "source '{}' of pair '{}' lacks its marker '{}': refusing to scan it (an "
                "unmounted disk or a different tree must never read as \"everything was "
                "deleted\"); if this really is the source, re-add the pair",
                escape_bytes(pair.source), pair.name,
                escape_bytes(marker_path(pair.source, pair.uuid, Role::source))));
        }
    } else if (!dir_has_content(pair.source)) {
        throw Refusal(fmt::format("source '{}' of pair '{}' is empty: refusing to scan it (an "
                                  "empty mount point must never read as \"everything was "
                                  "deleted\")",
                                  escape_bytes(pair.source), pair.name));
    }
}

namespace {

bool same_metadata(const FileStat& a, const FileStat& b) {
    return a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime_ns == b.mtime_ns &&
           a.ctime_ns == b.ctime_ns && a.ino == b.ino && a.dev == b.dev;
}

// What the file-system side of the walk found in one directory.
struct Listing {
    std::string dir;
    std::string error; // the directory could not be read: leave its rows alone
    struct Item {
        std::string name;
        std::optional<EntryStat> es; // empty: could not be examined (err)
        int err = 0;
        bool excluded = false;
        bool skipped_dir = false; // the drive itself
    };
    std::vector<Item> items;
};

// The file-system half of the walk, on its own thread: opens, lists and stats
// directories depth first and hands complete listings to the catalog half through
// a bounded queue, so the syscalls of one directory overlap the SQL of another.
class Lister {
public:
    Lister(const Pair& pair, const ScanOptions& options, double deadline)
        : m_pair(pair), m_excludes(pair.excludes), m_deadline(deadline) {
        m_root = open_or_throw(pair.source, O_RDONLY | O_DIRECTORY);
        struct stat st{};
        if (!options.skip_dir.empty() && ::stat(options.skip_dir.c_str(), &st) == 0) {
            m_skip_dev = st.st_dev;
            m_skip_ino = st.st_ino;
        }
        m_thread = std::thread([this] { run(); });
    }

    ~Lister() {
        {
            std::lock_guard lock(m_mutex);
            m_cancel = true;
        }
        m_cv.notify_all();
        m_thread.join();
    }

    // The next listing; nullopt when the walk is over. stopped() then tells whether
    // it ended early (deadline or stop request) rather than by reaching the end.
    std::optional<Listing> next() {
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [&] { return !m_queue.empty() || m_done; });
        if (m_queue.empty()) {
            return std::nullopt;
        }
        Listing l = std::move(m_queue.front());
        m_queue.pop_front();
        m_cv.notify_all();
        return l;
    }

    bool stopped() const { return m_stopped; }

private:
    static constexpr size_t max_queued = 64;

    void run() {
        std::vector<std::string> stack{""};
        while (!stack.empty()) {
            if (monotonic_seconds() > m_deadline || stop_requested()) {
                m_stopped = true;
                break;
            }
            std::string dir = std::move(stack.back());
            stack.pop_back();
            Listing l = list(dir, stack);
            std::unique_lock lock(m_mutex);
            m_cv.wait(lock, [&] { return m_queue.size() < max_queued || m_cancel; });
            if (m_cancel) {
                break;
            }
            m_queue.push_back(std::move(l));
            m_cv.notify_all();
        }
        std::lock_guard lock(m_mutex);
        m_done = true;
        m_cv.notify_all();
    }

    Listing list(const std::string& dir, std::vector<std::string>& stack) {
        Listing l;
        l.dir = dir;
        Fd fd = open_beneath(m_root.get(), dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!fd) {
            l.error = fmt::format("cannot open directory: {}", std::strerror(errno));
            return l;
        }
        std::vector<std::string> names;
        try {
            names = read_dir_names(fd.get(), dir);
        } catch (const SystemError& e) {
            l.error = e.what();
            return l;
        }
        std::vector<std::string> subdirs;
        l.items.reserve(names.size());
        for (auto& name : names) {
            Listing::Item item;
            item.name = std::move(name);
            if (item.name != ".barge") { // SPEC §3: scans never enter any .barge/ directory
                item.es = stat_entry(fd.get(), item.name);
                item.err = item.es ? 0 : errno;
                if (item.es && item.es->type != StatKind::special) {
                    bool is_dir = item.es->type == StatKind::dir;
                    std::string rel = join_path(dir, item.name);
                    if (is_dir && item.es->st.dev == m_skip_dev && item.es->st.ino == m_skip_ino) {
                        item.skipped_dir = true; // never carry the cargo inside the cargo
                    } else if (m_excludes.excluded(rel, is_dir)) {
                        item.excluded = true;
                    } else if (is_dir) {
                        subdirs.push_back(std::move(rel));
                    }
                }
            }
            l.items.push_back(std::move(item));
        }
        // Depth first, in name order: push in reverse so the smallest pops first.
        for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) {
            stack.push_back(std::move(*it));
        }
        return l;
    }

    const Pair& m_pair;
    ExcludeSet m_excludes;
    double m_deadline;
    Fd m_root;
    dev_t m_skip_dev = 0;
    ino_t m_skip_ino = 0;
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<Listing> m_queue;
    bool m_done = false, m_cancel = false;
    std::atomic<bool> m_stopped{false};
};

// The catalog half of the walk: merges each listing with the directory's rows.
class Walker {
public:
    Walker(Catalog& catalog, const Pair& pair, ScanResult& result, int64_t gen)
        : m_store(catalog.db()), m_pair(pair), m_result(result), m_gen(gen) {}

    void walk(Lister& lister) {
        while (auto listing = lister.next()) {
            merge(*listing);
        }
        if (lister.stopped()) {
            m_result.stopped_early = true;
        }
    }

    const std::unordered_set<int64_t>& modified_ids() const { return m_modified_ids; }

private:
    std::string display(std::string_view rel) const {
        return rel.empty() ? m_pair.source : join_path(m_pair.source, rel);
    }

    void problem(std::string_view rel, const std::string& reason) {
        m_result.problems.push_back({display(rel), reason});
    }

    void merge(const Listing& l) {
        const std::string& dir = l.dir;
        if (!l.error.empty()) {
            // The directory's catalog rows stay as they are: unreadable is not deleted.
            problem(dir, l.error);
            return;
        }
        std::vector<EntryRow> rows = m_store.children(m_pair.id, dir);
        size_t r = 0;
        for (const auto& item : l.items) {
            const std::string& name = item.name;
            while (r < rows.size() && rows[r].name < name) {
                gone(dir, rows[r++]);
            }
            EntryRow* row = (r < rows.size() && rows[r].name == name) ? &rows[r++] : nullptr;
            if (name == ".barge" || item.skipped_dir) {
                continue;
            }
            std::string rel = join_path(dir, name);
            if (!item.es) {
                if (item.err == ENOENT) {
                    if (row) {
                        gone(dir, *row); // vanished between listing and stat
                    }
                } else {
                    problem(rel, fmt::format("cannot examine: {}", std::strerror(item.err)));
                }
                continue;
            }
            if (item.es->type == StatKind::special) {
                ++m_result.special_skipped;
                m_result.notes.push_back(fmt::format("skipped '{}': not a regular file, directory "
                                                     "or symlink (device, FIFO or socket)",
                                                     escape_bytes(display(rel))));
                if (row) {
                    gone(dir, *row);
                }
                continue;
            }
            if (item.excluded) {
                ++m_result.excluded;
                if (row) {
                    gone(dir, *row);
                }
                continue;
            }
            present(dir, name, rel, item.es->st, row);
        }
        while (r < rows.size()) {
            gone(dir, rows[r++]);
        }
    }

    void present(const std::string& dir, const std::string& name, const std::string& rel,
                 const FileStat& st, EntryRow* row) {
        bool is_dir = st.kind == Kind::dir;
        if (!row) {
            m_store.insert(m_pair.id, dir, name, st, m_gen);
            ++(is_dir ? m_result.new_dirs : m_result.new_files);
            return;
        }
        if (!row->kind) {
            m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::yes);
            ++(is_dir ? m_result.new_dirs : m_result.new_files);
            return;
        }
        if (*row->kind != st.kind) {
            if (*row->kind == Kind::dir) {
                m_result.deleted += m_store.mark_subtree_gone(m_pair.id, rel, m_gen);
            }
            m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::yes);
            if (is_dir) {
                ++m_result.new_dirs;
                ++m_result.deleted; // a file or symlink became a directory
            } else if (*row->kind == Kind::dir) {
                ++m_result.new_files; // a directory became a file: the file is new
            } else {
                ++m_result.modified; // a file became a symlink or the other way round
                m_modified_ids.insert(row->id);
            }
            return;
        }
        switch (st.kind) {
        case Kind::file:
            if (!same_file_stat(row->st, st)) {
                m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::yes);
                ++m_result.modified;
                m_modified_ids.insert(row->id);
            } else {
                if (row->st.mode != st.mode || row->st.uid != st.uid || row->st.gid != st.gid) {
                    m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::no);
                }
                ++m_result.unchanged;
            }
            break;
        case Kind::symlink:
            if (row->st.target != st.target) {
                m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::yes);
                ++m_result.modified;
                m_modified_ids.insert(row->id);
            } else {
                if (!same_metadata(row->st, st)) {
                    m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::no);
                }
                ++m_result.unchanged;
            }
            break;
        case Kind::dir:
            if (!same_metadata(row->st, st)) {
                m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::no);
            }
            break;
        }
    }

    void gone(const std::string& dir, const EntryRow& row) {
        if (!row.kind) {
            return; // already known to be gone
        }
        m_store.mark_gone(row.id, m_gen);
        if (*row.kind == Kind::dir) {
            ++m_result.deleted_dirs;
            m_result.deleted += m_store.mark_subtree_gone(m_pair.id, join_path(dir, row.name), m_gen);
        } else {
            ++m_result.deleted;
        }
    }

    EntryStore m_store;
    const Pair& m_pair;
    ScanResult& m_result;
    int64_t m_gen;
    std::unordered_set<int64_t> m_modified_ids;
};

// One file's hash, computed by a worker thread.
struct HashOutcome {
    bool ok = false;
    Digest digest{};
    bool racy = false;
    std::string error;
};

// Hashes a file beneath root, refusing a result if the file changed while read
// (SPEC §7.7). Never throws.
HashOutcome hash_one(int root, const HashJob& job, const std::string& display,
                     std::vector<char>& buf) {
    HashOutcome out;
    // O_NOATIME keeps a full read from dirtying every inode; only the owner (or
    // root) may ask for it, so fall back without.
    Fd fd = open_beneath(root, job.path, O_RDONLY | O_NOFOLLOW | O_NOATIME);
    if (!fd && errno == EPERM) {
        fd = open_beneath(root, job.path, O_RDONLY | O_NOFOLLOW);
    }
    if (!fd) {
        out.error = fmt::format("open: {}", std::strerror(errno));
        return out;
    }
    try {
        int64_t started = now_ns();
        FileStat before = stat_fd(fd.get(), display);
        if (!same_file_stat(before, job.st)) {
            out.error = "changed since the scan listed it; it will be examined on the next run";
            return out;
        }
        ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        Blake2b h;
        int64_t total = 0;
        for (;;) {
            size_t n = read_full(fd.get(), buf.data(), buf.size(), display);
            h.update(buf.data(), n);
            total += static_cast<int64_t>(n);
            if (n < buf.size()) {
                break;
            }
        }
        FileStat after = stat_fd(fd.get(), display);
        if (!same_file_stat(after, before) || total != before.size) {
            out.error = "changed while being read; it will be examined on the next run";
            return out;
        }
        out.digest = h.final();
        out.racy = before.mtime_ns >= started - racy_margin_ns;
        out.ok = true;
    } catch (const Error& e) {
        out.error = e.what();
    }
    return out;
}

void hash_phase(Catalog& catalog, const Pair& pair, ScanResult& result, double deadline,
                Progress* progress) {
    EntryStore store(catalog.db());
    Fd root = open_or_throw(pair.source, O_RDONLY | O_DIRECTORY);
    unsigned nthreads = std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
    if (progress) {
        auto todo = store.hash_work(pair.id, 0);
        progress->phase("hash", static_cast<uint64_t>(todo.files), static_cast<uint64_t>(todo.bytes));
    }
    int64_t after = 0;
    constexpr int batch_size = 256;
    // Results are committed every few seconds, not per batch: each commit costs
    // several fsyncs (synchronous=FULL), which would dominate a tree of small files.
    // A crash loses at most that much hashing, never correctness.
    constexpr double commit_every_seconds = 2.0;
    std::optional<Transaction> tx;
    double last_commit = monotonic_seconds();
    for (;;) {
        std::vector<HashJob> jobs = store.hash_jobs(pair.id, after, batch_size);
        if (jobs.empty()) {
            if (tx) {
                tx->commit();
            }
            return;
        }
        after = jobs.back().id;
        std::vector<HashOutcome> outcomes(jobs.size());
        // char, not bool: vector<bool> packs bits, and two threads would race on a word.
        std::vector<char> done(jobs.size(), 0);
        std::atomic<size_t> next{0};
        auto worker = [&] {
            std::vector<char> buf(1 << 20);
            for (;;) {
                if (monotonic_seconds() > deadline || stop_requested()) {
                    return;
                }
                size_t i = next.fetch_add(1);
                if (i >= jobs.size()) {
                    return;
                }
                outcomes[i] = hash_one(root.get(), jobs[i], join_path(pair.source, jobs[i].path), buf);
                done[i] = 1;
            }
        };
        std::vector<std::thread> threads;
        for (unsigned t = 1; t < nthreads; ++t) {
            threads.emplace_back(worker);
        }
        worker();
        for (auto& t : threads) {
            t.join();
        }
        if (!tx) {
            tx.emplace(catalog.db());
        }
        for (size_t i = 0; i < jobs.size(); ++i) {
            if (!done[i]) {
                result.stopped_early = true;
                ++result.left_to_hash;
                continue;
            }
            const HashJob& job = jobs[i];
            const HashOutcome& o = outcomes[i];
            if (!o.ok) {
                result.problems.push_back({join_path(pair.source, job.path), o.error});
                continue;
            }
            int64_t cid = store.content_id(o.digest, job.st.size);
            if (job.content_id && *job.content_id != cid) {
                // A racy file whose bytes changed without its stat moving.
                ++result.modified;
            }
            store.set_content(job.id, cid, o.racy);
            ++result.files_hashed;
            result.bytes_hashed += job.st.size;
            if (progress) {
                progress->advance(1, static_cast<uint64_t>(job.st.size), job.path);
            }
        }
        if (result.stopped_early || monotonic_seconds() - last_commit > commit_every_seconds) {
            tx->commit();
            tx.reset();
            last_commit = monotonic_seconds();
        }
        if (result.stopped_early) {
            // Count what is still waiting, for the summary.
            result.left_to_hash += store.hash_work(pair.id, after).files;
            return;
        }
    }
}

} // namespace

ScanResult scan_pair(Catalog& catalog, const Pair& pair, const ScanOptions& options,
                     Progress* progress) {
    check_source_visible(pair);
    double deadline = options.max_seconds ? monotonic_seconds() + *options.max_seconds : 1e300;
    ScanResult result;
    if (progress) {
        progress->phase("scan", 0, 0);
    }
    {
        Transaction tx(catalog.db());
        EntryStore store(catalog.db());
        int64_t known = store.count_present(pair.id);
        int64_t gen = pair.scan_gen + 1;
        Walker walker(catalog, pair, result, gen);
        {
            Lister lister(pair, options, deadline);
            walker.walk(lister);
        }
        std::set<int64_t> renamed_from;
        auto matches = result.deleted > 0 ? store.match_renames(pair.id, gen)
                                          : std::vector<EntryStore::RenameMatch>{};
        for (const auto& m : matches) {
            if (walker.modified_ids().contains(m.new_id)) {
                --result.modified;
            } else {
                --result.new_files;
            }
            if (renamed_from.insert(m.old_id).second) {
                --result.deleted;
            }
            ++result.renamed;
        }
        store.drop_undelivered_gone(pair.id);
        int64_t changed = result.modified + result.deleted;
        if (known > 0 && !options.accept_mass_change &&
            static_cast<double>(changed) * 100.0 > pair.mass_change_limit * static_cast<double>(known)) {
            throw Refusal(fmt::format(
                "pair '{}': this scan found {} of {} known files deleted or modified ({:.1f}%, "
                "more than the limit of {}%); nothing was recorded. If the source really "
                "changed this much, run again with --accept-mass-change",
                pair.name, changed, known,
                100.0 * static_cast<double>(changed) / static_cast<double>(known),
                pair.mass_change_limit));
        }
        if (!result.stopped_early) {
            Statement st = catalog.db().prepare(
                "UPDATE pairs SET scan_gen = ?, last_scan_ns = ? WHERE id = ?");
            st.bind(1, gen).bind(2, now_ns()).bind(3, pair.id).run();
        } else {
            catalog.db().prepare("UPDATE pairs SET scan_gen = ? WHERE id = ?").bind(1, gen).bind(2, pair.id).run();
        }
        tx.commit();
    }
    if (options.hash == ScanOptions::Hash::yes && !result.stopped_early) {
        hash_phase(catalog, pair, result, deadline, progress);
    }
    return result;
}

} // namespace barge
