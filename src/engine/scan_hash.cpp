#include "barge/engine/scan_hash.hpp"

#include "barge/catalog/entries.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/fs/dir.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <optional>
#include <thread>

namespace barge {

namespace {

// One file's hash, computed by a worker thread.
struct HashOutcome {
    bool ok = false;
    bool stopped = false; // a stop was requested while it was read
    Digest digest{};
    bool racy = false;
    // A race with the user, not a failure (the file changed, vanished or was
    // replaced since the walk listed it): error is a note's reason.
    bool raced = false;
    int64_t raced_at = 0; // when it was found, for the miss (the batch ends later)
    std::string error;
};

// Hashes a file beneath root, refusing a result if the file changed while read
// (SPEC §7.7). Never throws.
HashOutcome hash_one(int root, const HashJob& job, const std::string& display,
                     std::vector<char>& buf) {
    HashOutcome out;
    // O_NONBLOCK: a FIFO put in the file's place since the walk must not hang
    // the scan until a writer comes (its stat then differs: a note).
    Fd fd = open_noatime_beneath(root, job.path, O_NONBLOCK);
    if (!fd) {
        out.raced = nothing_there(errno);
        out.error = out.raced ? "vanished or was replaced since the scan listed it"
                              : fmt::format("open: {}", std::strerror(errno));
        return out;
    }
    try {
        int64_t started = now_ns();
        FileStat before = stat_fd(fd.get(), display);
        if (!same_file_stat(before, job.st)) {
            out.raced = true;
            out.error = "changed since the scan listed it";
            return out;
        }
        ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        Blake2b h;
        int64_t total = 0;
        for (;;) {
            if (stop_requested()) {
                out.stopped = true; // not a problem: the next scan hashes it
                return out;
            }
            size_t n = read_full(fd.get(), buf.data(), buf.size(), display);
            h.update(buf.data(), n);
            total += static_cast<int64_t>(n);
            if (n < buf.size()) {
                break;
            }
        }
        FileStat after = stat_fd(fd.get(), display);
        if (!same_file_stat(after, before) || total != before.size) {
            out.raced = true;
            out.error = "changed while being read";
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

// Records a hashed file's content.
void record_hash(EntryStore& store, const HashJob& job, const Digest& digest, bool racy,
                 ScanResult& result, Progress* progress) {
    int64_t cid = store.content_id(digest, job.st.size);
    if (job.content_id && *job.content_id != cid) {
        // A racy file whose bytes changed without its stat moving.
        ++result.modified;
    }
    store.set_content(job.id, cid, racy);
    ++result.files_hashed;
    result.bytes_hashed += job.st.size;
    if (progress) {
        progress->advance(1, static_cast<uint64_t>(job.st.size), job.path);
    }
}

unsigned hash_threads() {
    return std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
}

} // namespace

struct InlineHasher::Done {
    HashJob job;
    Digest digest; // of a file hashed whole, unchanged, and not racy
};

InlineHasher::InlineHasher(const Pair& pair, double deadline, EntryStore& store, ScanResult& result,
                           Progress* progress, std::function<void()> on_wait)
    : m_pair(pair), m_deadline(deadline), m_store(store), m_result(result), m_progress(progress),
      m_on_wait(std::move(on_wait)), m_root(open_or_throw(pair.source, O_RDONLY | O_DIRECTORY)),
      m_thread_count(hash_threads()) {
    for (unsigned t = 0; t < m_thread_count; ++t) {
        m_threads.emplace_back([this] { work(); });
    }
}

InlineHasher::~InlineHasher() {
    {
        std::lock_guard lock(m_mutex);
        m_closing = true;
        m_queue.clear();
    }
    m_work_cv.notify_all();
    for (auto& t : m_threads) {
        t.join();
    }
}

namespace {
constexpr size_t max_queued = 1024; // jobs the walk may queue ahead
constexpr size_t wake_at = 16;      // queued jobs that wake an idle worker
constexpr size_t max_batch = 64;    // jobs a worker takes at once
} // namespace

void InlineHasher::work() {
    std::vector<char> buf(1 << 20);
    std::vector<HashJob> batch;
    std::vector<Done> done;
    std::unique_lock lock(m_mutex);
    for (;;) {
        ++m_idle;
        m_work_cv.wait(lock, [&] { return !m_queue.empty() || m_closing; });
        --m_idle;
        if (m_closing) {
            return;
        }
        // A fair share of what is queued, so that the other workers get some.
        size_t take = std::clamp<size_t>(m_queue.size() / m_thread_count, 1, max_batch);
        for (size_t i = 0; i < take; ++i) {
            batch.push_back(std::move(m_queue.front()));
            m_queue.pop_front();
        }
        ++m_busy;
        if (m_walk_waiting) {
            m_walk_cv.notify_one(); // room in the queue
        }
        lock.unlock();
        for (auto& job : batch) {
            if (m_closing || monotonic_seconds() > m_deadline || stop_requested()) {
                break;
            }
            HashOutcome out = hash_one(m_root.get(), job, join_path(m_pair.source, job.path), buf);
            // A racy outcome is not kept: the hash phase looks at racy files again,
            // and hashes this one then, once.
            if (out.ok && !out.racy) {
                done.push_back({std::move(job), out.digest});
            }
        }
        batch.clear();
        lock.lock();
        --m_busy;
        std::move(done.begin(), done.end(), std::back_inserter(m_done));
        done.clear();
        if (m_walk_waiting) {
            m_walk_cv.notify_one();
        }
    }
}

void InlineHasher::record_locked(std::unique_lock<std::mutex>& lock) {
    if (m_done.empty()) {
        return;
    }
    std::vector<Done> done;
    done.swap(m_done);
    lock.unlock();
    for (const auto& d : done) {
        record_hash(m_store, d.job, d.digest, false, m_result, m_progress);
    }
    lock.lock();
}

void InlineHasher::wait_until(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready) {
    while (!ready()) {
        if (m_idle > 0 && !m_queue.empty()) {
            m_work_cv.notify_all(); // fewer than wake_at jobs queued: wake them now
        }
        m_walk_waiting = true;
        m_walk_cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return ready() || !m_done.empty(); });
        m_walk_waiting = false;
        record_locked(lock);
        if (m_on_wait) {
            lock.unlock();
            m_on_wait();
            lock.lock();
        }
    }
}

void InlineHasher::submit(HashJob job) {
    std::unique_lock lock(m_mutex);
    record_locked(lock); // finished outcomes never pile up in a large directory
    wait_until(lock, [&] { return m_queue.size() < max_queued; });
    m_queue.push_back(std::move(job));
    bool wake = m_idle > 0 && m_queue.size() >= wake_at;
    lock.unlock();
    if (wake) {
        m_work_cv.notify_one();
    }
}

void InlineHasher::record() {
    std::unique_lock lock(m_mutex);
    record_locked(lock);
}

void InlineHasher::finish() {
    std::unique_lock lock(m_mutex);
    wait_until(lock, [&] { return m_queue.empty() && m_busy == 0; });
    record_locked(lock);
}

void hash_phase(Catalog& catalog, const Pair& pair, ScanResult& result, double deadline,
                Progress* progress) {
    EntryStore store(catalog.db(), 0);
    TransitStore transit(catalog.db());
    Fd root = open_or_throw(pair.source, O_RDONLY | O_DIRECTORY);
    unsigned nthreads = hash_threads();
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
                if (outcomes[i].raced) {
                    outcomes[i].raced_at = now_ns();
                }
                done[i] = outcomes[i].stopped ? 0 : 1;
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
            if (o.raced) {
                // As load says of a file that changed while read (SPEC §7.7): it
                // stays unhashed, and the next scan sees what stands there.
                result.notes.push_back(fmt::format("'{}' {}: the next scan examines it",
                                                   escape_bytes(join_path(pair.source, job.path)),
                                                   o.error));
                transit.note_miss(job.id, o.raced_at); // in this batch's transaction
                continue;
            }
            if (!o.ok) {
                result.problems.push_back({join_path(pair.source, job.path), o.error});
                continue;
            }
            record_hash(store, job, o.digest, o.racy, result, progress);
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

} // namespace barge
