#pragma once

#include "barge/hash/blake2b.hpp"
#include "barge/util/error.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace barge {

class HashPipeline;

// Reads an open file from offset 0 to its end, hashing it on the pipeline's
// thread; returns the digest and sets bytes_read.
Digest hash_fd(int fd, HashPipeline& pipeline, uint64_t& bytes_read, std::string_view path);

// Opens name (beneath dirfd, never following a symlink) for a verify read that
// must come from the medium: with O_DIRECT when the file system allows it (the read
// then bypasses the page cache by construction, and costs no copy), else normally
// after dropping its cached pages. Throws SystemError naming display_path, or
// NotRegularFile: a FIFO or a device at the name is never read (a FIFO's open
// once blocked for ever, holding the drive lock; a device read without end).
struct NotRegularFile : Error {
    using Error::Error;
};
struct VerifyFd {
    int fd() const;
    bool direct = false;
    struct Impl;
    std::shared_ptr<Impl> impl;
};
VerifyFd open_for_verify(int dirfd, const std::string& name, std::string_view display_path);
// Throws NotRegularFile, without opening it, when what stands at name is not a
// regular file (opening some devices does something: a tape rewinds on close).
// For what another program may have put there (the destination, the cargo),
// not for the files barge just wrote (a read-back), where open_for_verify's own
// check is enough and a lookup more per file is not needed.
void refuse_if_not_regular(int dirfd, const std::string& name, std::string_view display_path);
// Hashes a file opened by open_for_verify, to its end.
Digest hash_for_verify(const VerifyFd& f, HashPipeline& pipeline, uint64_t& bytes_read,
                       std::string_view path);

// How much an O_DIRECT read at pos should ask for, in a file of `size` bytes:
// a block, or less at the end, rounded up to whole pages (4 KiB, aligned for any
// device) and at least one page, so that a file that grew is noticed. Asking for
// a whole block past the end would make the kernel zero-fill the rest of the
// buffer (iomap treats it as a hole): 1 MiB of memset per small file.
size_t direct_read_length(int64_t size, int64_t pos, size_t block);

// Where copy_through writes what it reads (a temporary file on a medium).
class ByteSink {
public:
    virtual ~ByteSink() = default;
    // Writes all n bytes at offset; throws SystemError (or a subclass) naming the file.
    virtual void write_at(const char* buf, size_t n, int64_t offset) = 0;
    // n zero bytes at offset that are a hole in what is copied (a sparse file):
    // a sink that can leaves a hole (nothing written, nothing allocated); the
    // default writes the zeros.
    virtual void hole_at(size_t n, int64_t offset);
};

// The holes of an open file (SEEK_DATA / SEEK_HOLE), for copying it sparse. A
// file with as many allocated blocks as its size needs has none, and is never
// asked (no lseek for an ordinary file).
class HoleMap {
public:
    explicit HoleMap(int fd);
    bool sparse() const { return m_sparse; }
    int64_t size() const { return m_size; } // when it was opened
    // The run of all data or all hole that starts at pos, at most max bytes long:
    // its length, and whether it is a hole.
    int64_t run(int64_t pos, int64_t max, bool& hole);

private:
    int m_fd;
    bool m_sparse = false;
    int64_t m_size = 0;
    int64_t m_start = 0, m_end = 0; // the last run found: [m_start, m_end)
    bool m_hole = false;
};

// Streams [offset, offset + size) of `from` through the pipeline (the caller
// collects the digest with finish()), writing each block to `to`, when given, at
// to_offset + (position - offset). Returns the bytes read: fewer than size at end
// of file. A failed read throws ReadError; a failed write, what the sink throws.
// The holes of a sparse `from` are hashed as the zeros they read as, never read
// when a whole block is a hole, and handed to the sink as holes (hole_at).
uint64_t copy_through(HashPipeline& pipeline, int from, int64_t offset, int64_t size,
                      std::string_view from_path, ByteSink* to = nullptr, int64_t to_offset = 0);

} // namespace barge
