#include "barge/fs/read_ahead.hpp"

#include "barge/fs/dir.hpp"

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>

namespace barge {

namespace {

// Opens rel without blocking (a FIFO put there since the scan must not hang the
// thread) and, if it is a regular file, asks for its bytes.
bool advise(int root, const std::string& rel, int64_t size) {
    Fd fd = open_noatime_beneath(root, rel, O_NONBLOCK);
    struct stat st{};
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return false;
    }
    ::posix_fadvise(fd.get(), 0, size, POSIX_FADV_WILLNEED);
    return true;
}

} // namespace

ReadAhead::ReadAhead(int root, Window window)
    : m_root(root), m_window(window) {
    for (unsigned i = 0; i < std::max(1u, window.threads); ++i) {
        m_threads.emplace_back([this] { work(); });
    }
}

ReadAhead::~ReadAhead() {
    {
        std::lock_guard lock(m_mutex);
        m_closing = true;
    }
    m_cv.notify_all();
    for (auto& t : m_threads) {
        t.join();
    }
}

void ReadAhead::add(std::string rel, int64_t size) {
    std::lock_guard lock(m_mutex);
    m_items.push_back({std::move(rel), size});
    if (m_waiting > 0 && room()) {
        m_cv.notify_all();
    }
}

void ReadAhead::next() {
    std::lock_guard lock(m_mutex);
    if (m_items.empty()) {
        return;
    }
    if (m_ahead > 0) {
        --m_ahead;
        m_ahead_bytes -= std::min(m_items.front().size, m_window.largest);
    }
    m_items.pop_front();
    if (m_waiting > 0 && room()) {
        m_cv.notify_all();
    }
}

size_t ReadAhead::advised() const {
    std::lock_guard lock(m_mutex);
    return m_advised;
}

bool ReadAhead::room() const {
    return m_ahead < m_items.size() && m_ahead < m_window.files && m_ahead_bytes < m_window.bytes;
}

void ReadAhead::work() {
    std::unique_lock lock(m_mutex);
    for (;;) {
        while (!m_closing && !room()) {
            ++m_waiting;
            m_cv.wait(lock);
            --m_waiting;
        }
        if (m_closing) {
            return;
        }
        const Item& item = m_items[m_ahead];
        int64_t counted = std::min(item.size, m_window.largest);
        ++m_ahead;
        m_ahead_bytes += counted;
        if (item.size <= 0 || item.size > m_window.largest) {
            continue; // nothing to read, or large enough for the kernel's own read-ahead
        }
        std::string rel = item.rel;
        int64_t size = item.size;
        lock.unlock();
        bool done = advise(m_root, rel, size);
        lock.lock();
        m_advised += done ? 1 : 0;
    }
}

} // namespace barge
