#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace barge {

// Asks the kernel for the next files of a list before the reader gets to them,
// on threads of its own: opening a file reads its inode (a wait the reader no
// longer has), and posix_fadvise(WILLNEED) starts reading its bytes into the page
// cache without waiting for them. A tree of many small files is otherwise read
// one wait at a time, the disk idle between a file's read and the next open.
//
// It only reads: a file it cannot open, or that is not a regular file, is left to
// the reader, which reports it. It stays within a window (a number of files and
// of bytes) ahead of the reader, so the cache it fills is used before it is
// evicted, and skips what the reader has already passed.
class ReadAhead {
public:
    struct Window {
        size_t files = 256;
        int64_t bytes = 64 << 20;
        int64_t largest = 4 << 20; // a larger file is read ahead by the kernel itself
        unsigned threads = 4;      // opens in flight (each waits for an inode)
    };

    // root (not owned) must stay open while this lives; paths are below it.
    ReadAhead(int root, Window window);
    explicit ReadAhead(int root) : ReadAhead(root, Window{}) {}
    ~ReadAhead(); // abandons the rest of the list and joins the threads
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;

    // Appends a file of the expected size to the list.
    void add(std::string rel, int64_t size);
    // The reader starts on the next file of the list, in the order added.
    void next();
    // Files opened and advised so far (for tests).
    size_t advised() const;

private:
    struct Item {
        std::string rel;
        int64_t size = 0;
    };
    void work();
    bool room() const; // with m_mutex held

    int m_root;
    Window m_window;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<Item> m_items; // the files the reader has not started, in order
    size_t m_ahead = 0;       // how many at the front its threads have taken
    int64_t m_ahead_bytes = 0;
    size_t m_advised = 0;
    size_t m_waiting = 0; // threads waiting for work or room: wake them
    bool m_closing = false;
    std::vector<std::thread> m_threads;
};

} // namespace barge
