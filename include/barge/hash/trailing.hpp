#pragma once

#include "barge/hash/blake2b.hpp"
#include "barge/hash/pipeline.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace barge {

class TrailingVerifier;

// Files of at least one read block are re-read behind their writer; smaller ones
// after their batch's barrier, where one syncfs serves hundreds of them.
inline constexpr int64_t trail_from = 1 << 20;

// The writer's end of one file a TrailingVerifier follows. Move-only. The writer
// reports each write with written(), then close() once the file is complete;
// digest() (any thread) waits for the re-read to reach the end. Destroyed or
// moved-over before close(), the follow is abandoned (the verifier moves on).
class Trail {
public:
    Trail() = default;
    Trail(Trail&&) noexcept = default;
    Trail& operator=(Trail&& other) noexcept;
    ~Trail();
    Trail(const Trail&) = delete;
    Trail& operator=(const Trail&) = delete;

    // Whether this trail follows a file (false: the caller verifies the old way).
    explicit operator bool() const { return m_job != nullptr; }
    // The file's bytes [0, upto) are written (in page cache or beyond).
    void written(int64_t upto);
    // The file is complete: the verifier reads it to its end.
    void close();
    // Waits for the re-read of the closed file; its digest and bytes_read. Rethrows
    // the re-read's error (SystemError naming the file).
    Digest digest(uint64_t& bytes_read);
    // Stops following (the file is being discarded); idempotent.
    void abandon();

    struct Job;

private:
    friend class TrailingVerifier;
    explicit Trail(std::shared_ptr<Job> job) : m_job(std::move(job)) {}
    std::shared_ptr<Job> m_job;
    bool m_closed = false;
};

// Re-reads files from the medium while they are still being written, a block
// behind the writer, and hashes what it reads: the verify pass overlaps the copy
// instead of following it. Reads use O_DIRECT, which goes to the device by
// construction: for a range the writer left dirty in the page cache, the kernel
// first writes it back and waits, then reads the device (never the cache). Files
// are followed one at a time, in the order follow() was called, on its own thread
// (hashing on a second one). The caller still needs its durability barrier
// before it trusts the file (docs/durability.md).
class TrailingVerifier {
public:
    explicit TrailingVerifier(size_t block_size = 1 << 20);
    ~TrailingVerifier();
    TrailingVerifier(const TrailingVerifier&) = delete;
    TrailingVerifier& operator=(const TrailingVerifier&) = delete;

    // Hashes what filter makes of the bytes read back (HashPipeline::set_filter);
    // only before the first follow().
    void set_filter(std::unique_ptr<HashFilter> filter) { m_pipe.set_filter(std::move(filter)); }
    // Starts following name beneath dirfd (never through a symlink). An empty
    // Trail when the file system refuses O_DIRECT (FUSE): the caller then verifies
    // after its barrier, with the page cache dropped first. Throws SystemError.
    Trail follow(int dirfd, const std::string& name, std::string_view display_path);

private:
    void run();
    void verify(Trail::Job& job);

    class DirectReader;
    HashPipeline m_pipe;
    std::unique_ptr<DirectReader> m_reader; // used by the thread only
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<std::shared_ptr<Trail::Job>> m_jobs;
    std::shared_ptr<Trail::Job> m_current;
    std::atomic<bool> m_stop = false;
    std::thread m_thread;
};

} // namespace barge
