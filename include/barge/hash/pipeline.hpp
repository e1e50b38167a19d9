#pragma once

#include "barge/hash/blake2b.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

namespace barge {

// A transformation of the bytes a HashPipeline is given, applied on the thread
// that submits them (the worker hashes the result): an encrypted piece read back from the drive is
// authenticated and decrypted, and its plaintext hashed (crypto/piece_stream.hpp).
// One stream runs from start() to finish(); either may throw (the pipeline
// rethrows from its own finish()).
class HashFilter {
public:
    virtual ~HashFilter() = default;
    // A new stream begins.
    virtual void start() = 0;
    // The bytes to hash for these (valid until the next call).
    virtual std::span<const uint8_t> update(std::span<const uint8_t> in) = 0;
    // The stream ended: the last bytes to hash; throws when the stream is invalid.
    virtual std::span<const uint8_t> finish() = 0;
};

// Hashes, on a worker thread, the blocks the caller reads, so that reading and
// writing (this thread) overlap with hashing (the other core):
//   char* b = p.acquire(); n = read(b); write(b, n); p.submit(b, n); ... p.finish();
// Two digests run side by side: the current piece's (finish()) and, when
// enabled, the whole file's across pieces (finish_total()).
class HashPipeline {
public:
    explicit HashPipeline(size_t block_size = 1 << 20, size_t depth = 4);
    ~HashPipeline();
    HashPipeline(const HashPipeline&) = delete;
    HashPipeline& operator=(const HashPipeline&) = delete;

    size_t block_size() const { return m_block; }
    // A buffer to fill; waits while every buffer is queued for hashing.
    char* acquire();
    // Hands the first n bytes of a buffer from acquire() to the hashing thread.
    void submit(char* buf, size_t n);
    // Gives a buffer from acquire() back unused.
    void release(char* buf);
    // Hashes what filter makes of the submitted bytes instead of the bytes
    // themselves (null: no filter). Only between streams.
    void set_filter(std::unique_ptr<HashFilter> filter);
    // Also hash every submitted byte into the whole-file digest.
    void track_total(bool on);
    // Waits for the queue to drain; the digest of the bytes since the last finish().
    // With a filter, rethrows what the filter threw for this stream.
    Digest finish();
    // Waits for the queue to drain; the whole-file digest since track_total(true).
    Digest finish_total();
    // Waits for the queue to drain and forgets everything hashed so far.
    void reset();

    // Blocks up to this size are hashed on the calling thread when the worker is idle.
    static constexpr size_t inline_max = 64 << 10;

private:
    void run();
    void drain(std::unique_lock<std::mutex>& lock);
    // Hashes n bytes of buf; only the worker while m_busy, or a caller holding the
    // lock with the worker idle.
    void hash(const char* buf, size_t n, bool total);
    // Queues n bytes of buf for hashing (or hashes a small block at once).
    void queue(char* buf, size_t n);
    // Runs the filter over buf on this thread and queues what it yields.
    void submit_filtered(char* buf, size_t n);
    // Ends the filter's stream (hashing its last bytes) and starts the next one.
    void restart_filter();

    struct FreeDeleter {
        void operator()(char* p) const { std::free(p); }
    };
    size_t m_block;
    // Page-aligned, so that O_DIRECT reads can land in them.
    std::vector<std::unique_ptr<char, FreeDeleter>> m_buffers;
    std::vector<char*> m_free;
    std::deque<std::pair<char*, size_t>> m_queue;
    bool m_busy = false, m_stop = false, m_total_on = false;
    Blake2b m_piece, m_total;
    std::unique_ptr<HashFilter> m_filter;
    std::exception_ptr m_filter_error; // what the filter threw in this stream (caller's thread)
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::thread m_thread;
};

// A buffer acquired from a HashPipeline, given back when destroyed unless it
// was submitted: a read or write that throws leaves no buffer behind.
class HeldBlock {
public:
    explicit HeldBlock(HashPipeline& pipe) : m_pipe(pipe), m_buf(pipe.acquire()) {}
    ~HeldBlock() {
        if (m_buf) {
            m_pipe.release(m_buf);
        }
    }
    HeldBlock(const HeldBlock&) = delete;
    HeldBlock& operator=(const HeldBlock&) = delete;
    char* get() const { return m_buf; }
    // Hands the first n bytes to the hashing thread.
    void submit(size_t n) { m_pipe.submit(std::exchange(m_buf, nullptr), n); }

private:
    HashPipeline& m_pipe;
    char* m_buf;
};

} // namespace barge
