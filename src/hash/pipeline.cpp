#include "barge/hash/pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdlib.h>

namespace barge {

HashPipeline::HashPipeline(size_t block_size, size_t depth) : m_block(block_size) {
    for (size_t i = 0; i < depth; ++i) {
        void* p = nullptr;
        if (::posix_memalign(&p, 4096, block_size) != 0) {
            throw std::bad_alloc();
        }
        m_buffers.emplace_back(static_cast<char*>(p));
        m_free.push_back(static_cast<char*>(p));
    }
    m_thread = std::thread([this] { run(); });
}

HashPipeline::~HashPipeline() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    m_thread.join();
}

char* HashPipeline::acquire() {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [&] { return !m_free.empty(); });
    char* b = m_free.back();
    m_free.pop_back();
    return b;
}

void HashPipeline::submit(char* buf, size_t n) {
    if (m_filter) {
        submit_filtered(buf, n);
        return;
    }
    queue(buf, n);
}

void HashPipeline::submit_filtered(char* buf, size_t n) {
    // On the caller's thread (for a verify read, the reader, which mostly waits
    // for the device): the worker only hashes what the filter yields, so the two
    // costs of a read-back (decrypting, hashing) run side by side.
    std::span<const uint8_t> out;
    if (!m_filter_error) {
        try {
            out = m_filter->update({reinterpret_cast<const uint8_t*>(buf), n});
        } catch (...) {
            m_filter_error = std::current_exception(); // finish() rethrows it
        }
    }
    size_t done = 0;
    char* dst = buf;
    for (;;) {
        size_t part = std::min(out.size() - done, m_block);
        if (part > 0) { // out may be empty (and its data null) after an error
            std::memcpy(dst, out.data() + done, part);
        }
        queue(dst, part);
        done += part;
        if (done >= out.size()) {
            return;
        }
        dst = acquire();
    }
}

void HashPipeline::queue(char* buf, size_t n) {
    {
        std::lock_guard lock(m_mutex);
        if (n <= inline_max && m_queue.empty() && !m_busy) {
            // A small block with the worker idle (a small file, or a file's tail):
            // hashing it here costs less than waking the worker and waiting for it.
            hash(buf, n, m_total_on);
            m_free.push_back(buf);
            return;
        }
        m_queue.emplace_back(buf, n);
    }
    m_cv.notify_all();
}

void HashPipeline::release(char* buf) {
    {
        std::lock_guard lock(m_mutex);
        m_free.push_back(buf);
    }
    m_cv.notify_all();
}

void HashPipeline::track_total(bool on) {
    std::unique_lock lock(m_mutex);
    drain(lock);
    m_total_on = on;
    m_total = Blake2b();
}

void HashPipeline::drain(std::unique_lock<std::mutex>& lock) {
    m_cv.wait(lock, [&] { return m_queue.empty() && !m_busy; });
}

void HashPipeline::hash(const char* buf, size_t n, bool total) {
    m_piece.update(buf, n);
    if (total) {
        m_total.update(buf, n);
    }
}

void HashPipeline::restart_filter() {
    if (!m_filter) {
        return;
    }
    std::exception_ptr error = std::exchange(m_filter_error, nullptr);
    if (!error) {
        try {
            auto out = m_filter->finish();
            m_piece.update(reinterpret_cast<const char*>(out.data()), out.size());
        } catch (...) {
            error = std::current_exception();
        }
    }
    m_filter->start();
    if (error) {
        m_piece = Blake2b();
        std::rethrow_exception(error);
    }
}

void HashPipeline::set_filter(std::unique_ptr<HashFilter> filter) {
    std::unique_lock lock(m_mutex);
    drain(lock);
    m_filter = std::move(filter);
    m_filter_error = nullptr;
    m_piece = Blake2b();
    if (m_filter) {
        m_filter->start();
    }
}

Digest HashPipeline::finish() {
    std::unique_lock lock(m_mutex);
    drain(lock);
    restart_filter();
    return m_piece.final();
}

Digest HashPipeline::finish_total() {
    std::unique_lock lock(m_mutex);
    drain(lock);
    return m_total.final();
}

void HashPipeline::reset() {
    std::unique_lock lock(m_mutex);
    drain(lock);
    m_piece = Blake2b();
    m_total = Blake2b();
    if (m_filter) {
        m_filter_error = nullptr;
        m_filter->start();
    }
}

void HashPipeline::run() {
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_cv.wait(lock, [&] { return !m_queue.empty() || m_stop; });
        if (m_queue.empty()) {
            return; // stopping, nothing left
        }
        auto [buf, n] = m_queue.front();
        m_queue.pop_front();
        m_busy = true;
        bool total = m_total_on;
        lock.unlock();
        // The hashers are touched only here while m_busy, and by finish() only
        // once the queue has drained: no lock needed around the work itself.
        hash(buf, n, total);
        lock.lock();
        m_busy = false;
        m_free.push_back(buf);
        m_cv.notify_all();
    }
}

} // namespace barge
