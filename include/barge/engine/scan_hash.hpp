#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/engine/progress.hpp"
#include "barge/engine/scan.hpp"
#include "barge/util/fd.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace barge {

// The hashing half of `barge scan`: hashes the pair's files that have no content
// yet (or a racy one) on two threads, refusing a file that changed while it was
// read (SPEC §7.7), and records the contents. A file changed, gone or replaced
// since the walk listed it is a note; the next scan examines it. Stops at the
// deadline or a stop request; the next scan continues where it stopped.
void hash_phase(Catalog& catalog, const Pair& pair, ScanResult& result, double deadline,
                Progress* progress);

// Hashes new files while the walk is still listing, so that a first scan reads
// the tree once with the listing and the reads overlapping (SPEC §8) instead of
// listing it whole and then reading it. The walking thread submits jobs and
// records the outcomes through its own store, in its own transaction; two
// workers hash. Only successes are recorded: a file that failed, changed while
// read, was racy (modified too recently to trust its stat), or was not reached
// (deadline, stop) keeps no content, and hash_phase, which runs after the walk,
// takes it up and reports it as before.
class InlineHasher {
public:
    // on_wait is called on the walking thread, every quarter second or so while
    // submit or finish waits for the workers (the walk's checkpoints).
    InlineHasher(const Pair& pair, double deadline, EntryStore& store, ScanResult& result,
                 Progress* progress, std::function<void()> on_wait);
    ~InlineHasher(); // abandons what is queued and joins the workers
    InlineHasher(const InlineHasher&) = delete;
    InlineHasher& operator=(const InlineHasher&) = delete;

    // Queues a job; while the queue is full, records finished outcomes and waits.
    void submit(HashJob job);
    // Records the outcomes finished so far.
    void record();
    // Waits for every queued job, then records all outcomes.
    void finish();

private:
    struct Done;
    void work();
    // Records outcomes (unlocking while it does) until ready(), calling m_on_wait.
    void wait_until(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready);
    void record_locked(std::unique_lock<std::mutex>& lock);

    const Pair& m_pair;
    double m_deadline;
    EntryStore& m_store;
    ScanResult& m_result;
    Progress* m_progress;
    std::function<void()> m_on_wait;
    Fd m_root;
    // The walk and the workers hand jobs and outcomes over in batches, and wake
    // each other only when the other side waits: a wake-up per file cost a
    // quarter of a million-file first scan's CPU (docs/benchmarks.md).
    std::mutex m_mutex;
    std::condition_variable m_work_cv; // workers wait here for jobs
    std::condition_variable m_walk_cv; // the walk waits here for room or outcomes
    std::deque<HashJob> m_queue;
    std::vector<Done> m_done;
    size_t m_busy = 0;                // batches being hashed
    size_t m_idle = 0;                // workers waiting for jobs
    bool m_walk_waiting = false;
    std::atomic<bool> m_closing = false;
    unsigned m_thread_count;
    std::vector<std::thread> m_threads;
};

} // namespace barge
