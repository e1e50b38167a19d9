#include "barge/hash/direct_batch.hpp"

#include "barge/hash/pipeline.hpp"
#include "barge/util/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace barge {

namespace {

constexpr size_t direct_page = 4096; // O_DIRECT alignment and length unit

} // namespace

// One file: where it is, and once submitted its descriptor, its aligned buffer
// (room for the file and a page more, so that a short read proves the end) and
// the read's outcome.
struct DirectBatch::Slot {
    struct AlignedFree {
        void operator()(char* p) const { std::free(p); }
    };
    int dirfd = -1;
    std::string name;
    int64_t size = 0;
    Fd fd;
    std::unique_ptr<char, AlignedFree> buf;
    size_t want = 0;
    iocb cb{};
    bool submitted = false, done = false, failed = false;
    long long res = 0;
};

DirectBatch::DirectBatch(size_t depth) : m_depth(std::max<size_t>(depth, 1)) {}

DirectBatch::~DirectBatch() {
    if (m_ctx) {
        // Cancels or waits for every read still in flight, before the buffers go.
        ::syscall(SYS_io_destroy, static_cast<aio_context_t>(m_ctx));
    }
}

std::optional<size_t> DirectBatch::add(int dirfd, std::string name, int64_t size) {
    if (size < 0 || size > max_size || m_broken) {
        return std::nullopt;
    }
    if (!m_ctx) { // set up with the first file: a batch of large files needs none
        aio_context_t ctx = 0;
        if (::syscall(SYS_io_setup, static_cast<unsigned>(m_depth), &ctx) != 0) {
            m_broken = true; // no AIO (ENOSYS, or aio-max-nr reached): read the ordinary way
            return std::nullopt;
        }
        m_ctx = ctx;
    }
    Slot s;
    s.dirfd = dirfd;
    s.name = std::move(name);
    s.size = size;
    m_slots.push_back(std::move(s));
    return m_slots.size() - 1;
}

void DirectBatch::submit(size_t i) {
    Slot& s = m_slots[i];
    s.failed = true; // until the read is queued
    if (m_broken) {
        return;
    }
    int fd = ::openat(s.dirfd, s.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_DIRECT);
    if (fd < 0) {
        return;
    }
    s.fd = Fd(fd);
    s.want = (static_cast<size_t>(s.size) / direct_page + 1) * direct_page;
    void* p = nullptr;
    if (::posix_memalign(&p, direct_page, s.want) != 0) {
        s.fd = Fd();
        return;
    }
    s.buf.reset(static_cast<char*>(p));
    s.cb = iocb{};
    s.cb.aio_data = i;
    s.cb.aio_lio_opcode = IOCB_CMD_PREAD;
    s.cb.aio_fildes = static_cast<uint32_t>(fd);
    s.cb.aio_buf = reinterpret_cast<uintptr_t>(s.buf.get());
    s.cb.aio_nbytes = s.want;
    s.cb.aio_offset = 0;
    iocb* list[1] = {&s.cb};
    long r;
    do {
        r = ::syscall(SYS_io_submit, static_cast<aio_context_t>(m_ctx), 1, list);
    } while (r < 0 && errno == EINTR);
    if (r != 1) {
        s.fd = Fd(); // not queued: nothing in flight into the buffer
        return;
    }
    s.failed = false;
    s.submitted = true;
    ++m_in_flight;
}

void DirectBatch::submit_through(size_t last) {
    last = std::min(last, m_slots.size() - 1);
    while (m_submitted <= last && m_in_flight < m_depth) {
        submit(m_submitted++);
    }
}

void DirectBatch::reap() {
    io_event ev[16];
    long r;
    do {
        r = ::syscall(SYS_io_getevents, static_cast<aio_context_t>(m_ctx), 1, 16, ev, nullptr);
    } while (r < 0 && errno == EINTR);
    if (r < 1) {
        // Cannot happen with valid arguments. Reads may still be in flight into
        // their buffers: this context is not used again (the destructor waits for
        // them, and only then are the buffers freed); the rest is read the
        // ordinary way.
        m_broken = true;
        return;
    }
    for (long k = 0; k < r; ++k) {
        Slot& t = m_slots[static_cast<size_t>(ev[k].data)];
        t.done = true;
        t.res = ev[k].res;
        t.fd = Fd(); // the descriptor is done with
        --m_in_flight;
    }
}

int DirectBatch::error(size_t ticket) const {
    if (ticket >= m_slots.size()) {
        return 0;
    }
    const Slot& s = m_slots[ticket];
    // EINVAL is O_DIRECT refused for this file's alignment, not a failing device.
    return s.done && s.res < 0 && s.res != -EINVAL ? static_cast<int>(-s.res) : 0;
}

std::optional<std::span<const char>> DirectBatch::take(size_t ticket) {
    if (ticket >= m_slots.size() || ticket < m_free_from) {
        return std::nullopt; // no such file, or one whose bytes are gone
    }
    // The bytes of the files before this one were valid until now. A file
    // skipped (never taken) may still be read into its buffer: it is kept
    // until its read is reaped, or until the destructor waits for it.
    while (m_free_from < ticket) {
        Slot& old = m_slots[m_free_from];
        if (m_broken || (old.submitted && !old.done)) {
            break;
        }
        old.buf.reset();
        ++m_free_from;
    }
    // This file's read, queued if it is not yet (room made by reaping reads
    // of files skipped), then the queue kept full ahead of it.
    while (m_submitted <= ticket && !m_broken) {
        if (m_submitted < ticket) {
            m_slots[m_submitted++].failed = true; // skipped before it was read: never read
        } else if (m_in_flight >= m_depth) {
            reap();
        } else {
            submit(m_submitted++);
        }
    }
    Slot& s = m_slots[ticket];
    while (s.submitted && !s.done && !m_broken) {
        reap();
    }
    if (!m_broken) {
        submit_through(ticket + m_depth);
    }
    if (m_broken || s.failed || !s.submitted || !s.done || s.res < 0 || static_cast<size_t>(s.res) >= s.want) {
        // An error, or the file is longer than it was written (the whole buffer
        // filled): the ordinary read decides and names it.
        return std::nullopt;
    }
    return std::span<const char>(s.buf.get(), static_cast<size_t>(s.res));
}

Digest hash_bytes(HashPipeline& pipeline, std::span<const char> bytes, uint64_t& bytes_read) {
    pipeline.reset();
    bytes_read = 0;
    size_t block = pipeline.block_size();
    size_t off = 0;
    do {
        size_t n = std::min(block, bytes.size() - off);
        char* b = pipeline.acquire();
        std::memcpy(b, bytes.data() + off, n);
        pipeline.submit(b, n);
        off += n;
    } while (off < bytes.size());
    bytes_read = bytes.size();
    return pipeline.finish();
}

} // namespace barge
