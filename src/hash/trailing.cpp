#include "barge/hash/trailing.hpp"

#include "barge/hash/hash_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/stop.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <optional>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace barge {

namespace {

constexpr int64_t sync_step = 64ll << 20;

Error stopped_before(const std::string& path) {
    return Error("stopped before the re-read of '" + path + "'");
}

VerifyError shorter_than_written(const std::string& path) {
    return VerifyError("'" + path + "' is shorter than what was written to it");
}

} // namespace

// One O_DIRECT read at a time through Linux AIO (io_submit), by raw system calls:
// glibc has no wrappers, and libaio would be a dependency for three calls. Why not
// pread: a synchronous O_DIRECT read on ext4 holds the inode lock (shared) until
// the device answers, and the writer needs that lock exclusively for its next
// write; behind a flush on the same device that took 0.45 s, during which nothing
// was copied. An AIO read holds the lock only while it is submitted.
class TrailingVerifier::DirectReader {
public:
    DirectReader() {
        if (::syscall(SYS_io_setup, 1, &m_ctx) != 0) {
            m_ctx = 0; // no AIO (ENOSYS, or aio-max-nr reached): pread instead
        }
    }
    ~DirectReader() {
        if (m_ctx) {
            ::syscall(SYS_io_destroy, m_ctx); // waits for a read still in flight
        }
    }
    DirectReader(const DirectReader&) = delete;
    DirectReader& operator=(const DirectReader&) = delete;

    // Like pread(2): the bytes read, or -1 with errno set.
    ssize_t read(int fd, char* buf, size_t n, off_t offset) {
        if (!m_ctx) {
            return plain(fd, buf, n, offset);
        }
        iocb cb{};
        cb.aio_lio_opcode = IOCB_CMD_PREAD;
        cb.aio_fildes = static_cast<uint32_t>(fd);
        cb.aio_buf = reinterpret_cast<uintptr_t>(buf);
        cb.aio_nbytes = n;
        cb.aio_offset = offset;
        iocb* list[1] = {&cb};
        long r;
        do {
            r = ::syscall(SYS_io_submit, m_ctx, 1, list);
        } while (r < 0 && errno == EINTR);
        if (r != 1) {
            return plain(fd, buf, n, offset); // not queued (EAGAIN, EINVAL): nothing in flight
        }
        io_event ev{};
        do {
            r = ::syscall(SYS_io_getevents, m_ctx, 1, 1, &ev, nullptr);
        } while (r < 0 && errno == EINTR);
        if (r != 1) {
            // Cannot happen with valid arguments; the read may still be in flight
            // into buf, so this context is not used again (its destructor waits).
            int err = errno;
            ::syscall(SYS_io_destroy, m_ctx);
            m_ctx = 0;
            errno = err;
            return -1;
        }
        if (ev.res < 0) {
            errno = static_cast<int>(-ev.res);
            return -1;
        }
        return static_cast<ssize_t>(ev.res);
    }

private:
    static ssize_t plain(int fd, char* buf, size_t n, off_t offset) {
        ssize_t r;
        do {
            r = ::pread(fd, buf, n, offset);
        } while (r < 0 && errno == EINTR);
        return r;
    }

    aio_context_t m_ctx = 0;
};

struct Trail::Job {
    Fd fd;
    std::string path;
    std::mutex mutex;
    std::condition_variable cv;
    int64_t written = 0;
    bool closed = false, abandoned = false, finished = false;
    Digest digest{};
    uint64_t bytes_read = 0;
    std::exception_ptr error;

    void finish(std::exception_ptr e = nullptr) {
        {
            std::lock_guard lock(mutex);
            finished = true;
            error = std::move(e);
        }
        cv.notify_all();
    }
};

Trail& Trail::operator=(Trail&& other) noexcept {
    if (this != &other) {
        abandon();
        m_job = std::move(other.m_job);
        m_closed = other.m_closed;
    }
    return *this;
}

Trail::~Trail() {
    abandon();
}

void Trail::written(int64_t upto) {
    if (!m_job) {
        return;
    }
    {
        std::lock_guard lock(m_job->mutex);
        m_job->written = upto;
    }
    m_job->cv.notify_all();
}

void Trail::close() {
    if (!m_job) {
        return;
    }
    {
        std::lock_guard lock(m_job->mutex);
        m_job->closed = true;
    }
    m_closed = true;
    m_job->cv.notify_all();
}

void Trail::abandon() {
    if (!m_job || m_closed) {
        return;
    }
    {
        std::lock_guard lock(m_job->mutex);
        m_job->abandoned = true;
    }
    m_job->cv.notify_all();
    m_job.reset();
}

Digest Trail::digest(uint64_t& bytes_read) {
    if (!m_job || !m_closed) {
        throw Error("internal: the digest of a trail that was not closed");
    }
    std::unique_lock lock(m_job->mutex);
    m_job->cv.wait(lock, [&] { return m_job->finished; });
    if (m_job->error) {
        std::rethrow_exception(m_job->error);
    }
    bytes_read = m_job->bytes_read;
    return m_job->digest;
}

TrailingVerifier::TrailingVerifier(size_t block_size)
    : m_pipe(block_size), m_reader(std::make_unique<DirectReader>()) {
    m_thread = std::thread([this] { run(); });
}

TrailingVerifier::~TrailingVerifier() {
    std::shared_ptr<Trail::Job> current;
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        current = m_current;
    }
    m_cv.notify_all();
    if (current) {
        // Wake a follow waiting for a writer that will not write any more.
        std::lock_guard lock(current->mutex);
        current->cv.notify_all();
    }
    m_thread.join();
}

Trail TrailingVerifier::follow(int dirfd, const std::string& name, std::string_view display_path) {
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_DIRECT);
    if (fd < 0 && errno == EINVAL) {
        return Trail(); // FUSE, some tmpfs: no O_DIRECT, so no reading behind the writer
    }
    if (fd < 0) {
        throw_errno("open", display_path);
    }
    auto job = std::make_shared<Trail::Job>();
    job->fd = Fd(fd);
    job->path = std::string(display_path);
    {
        std::lock_guard lock(m_mutex);
        m_jobs.push_back(job);
    }
    m_cv.notify_all();
    return Trail(std::move(job));
}

void TrailingVerifier::run() {
    for (;;) {
        std::shared_ptr<Trail::Job> job;
        {
            std::unique_lock lock(m_mutex);
            m_cv.wait(lock, [&] { return !m_jobs.empty() || m_stop; });
            if (m_stop) {
                // Whoever still waits for a digest gets an error, not a hang.
                for (auto& j : m_jobs) {
                    j->finish(std::make_exception_ptr(stopped_before(j->path)));
                }
                return;
            }
            job = std::move(m_jobs.front());
            m_jobs.pop_front();
            m_current = job;
        }
        try {
            verify(*job);
        } catch (const Error&) {
            m_pipe.reset();
            job->finish(std::current_exception());
        }
        std::lock_guard lock(m_mutex);
        m_current.reset();
    }
}

void TrailingVerifier::verify(Trail::Job& job) {
    const size_t block = m_pipe.block_size();
    m_pipe.reset();
    int64_t pos = 0;
    std::optional<int64_t> final_size; // known once the writer closed the file
    for (;;) {
        {
            std::unique_lock lock(job.mutex);
            // A whole block behind the writer, or to the end once it is closed.
            job.cv.wait(lock, [&] {
                return job.abandoned || job.closed || job.written >= pos + static_cast<int64_t>(block) || m_stop;
            });
            if (job.abandoned || (!job.closed && job.written < pos + static_cast<int64_t>(block))) {
                lock.unlock(); // abandoned, or the verifier is being destroyed
                m_pipe.reset();
                job.finish(std::make_exception_ptr(stopped_before(job.path)));
                return;
            }
            if (job.closed && !final_size) {
                struct stat st{};
                if (::fstat(job.fd.get(), &st) != 0) {
                    throw_errno("stat", job.path);
                }
                final_size = st.st_size;
                if (*final_size < job.written) {
                    throw shorter_than_written(job.path);
                }
            }
        }
        throw_if_stopped(); // the file is abandoned: the writer stops too
        size_t want = final_size ? direct_read_length(*final_size, pos, block) : block;
        // Write the range back first, without the inode lock: an O_DIRECT read would
        // do it too, but holding the lock the writer needs for its next write.
        ::sync_file_range(job.fd.get(), pos, static_cast<off_t>(want),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        HeldBlock buf(m_pipe);
        ssize_t r = m_reader->read(job.fd.get(), buf.get(), want, static_cast<off_t>(pos));
        if (r < 0) {
            throw ReadError(errno, "read back", job.path);
        }
        buf.submit(static_cast<size_t>(r));
        pos += r;
        if (pos / sync_step != (pos - r) / sync_step) {
            // Durable in steps while the writer goes on: the barrier at the end of
            // the batch then has little left to wait for.
            if (::fdatasync(job.fd.get()) != 0) {
                throw_errno("sync", job.path);
            }
        }
        if (static_cast<size_t>(r) < want) {
            if (!final_size) {
                // The writer said this block was written, yet the file ends here.
                throw shorter_than_written(job.path);
            }
            break;
        }
    }
    Digest d = m_pipe.finish();
    {
        std::lock_guard lock(job.mutex);
        job.digest = d;
        job.bytes_read = static_cast<uint64_t>(pos);
    }
    job.finish();
}

} // namespace barge
