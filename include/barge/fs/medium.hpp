#pragma once

#include "barge/hash/blake2b.hpp"
#include "barge/hash/direct_batch.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/trailing.hpp"
#include "barge/util/fd.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace barge {

class HashPipeline;
class TempFile;

// What a failed write, sync or rename on a medium means for the run.
enum class OnFailure {
    stop_run,  // the drive: nothing written since the last barrier can be trusted (MediumError)
    fail_file, // the destination: the file fails, the others go on (SystemError)
};

// A directory barge writes files into under temporary names (the cargo's tmp/,
// DEST/.barge/staging, DRIVE/bin), with the durability rules of its file system
// (docs/durability.md). Where O_DIRECT works: large files are re-read behind their
// writer, one syncfs per batch is the barrier, and re-reads bypass the page cache.
// On FUSE (exfat-fuse), where syncfs may not reach the device: an fdatasync per
// file as it is finished, an fsync of each directory renamed into, and re-reads
// after the file's pages are dropped.
class Medium {
public:
    Medium(Fd dir, std::string display, OnFailure on_failure);
    Medium(const Medium&) = delete;
    Medium& operator=(const Medium&) = delete;

    int dirfd() const { return m_dir.get(); }
    const std::string& display() const { return m_display; }
    // The display path of a file in this directory.
    std::string display(std::string_view name) const;
    bool fuse() const { return m_fuse; }

    // Creates prefix + random hex + suffix exclusively (never through a symlink).
    TempFile create(std::string_view prefix, std::string_view suffix, unsigned mode);
    // Opens (creating when missing) a file kept across runs (an assembly file):
    // unlike a created one, it stays when the TempFile is destroyed uncommitted.
    TempFile open_kept(const std::string& name, unsigned mode);
    // A symlink to target under a temporary name.
    TempFile create_symlink(const std::string& target);
    // A FIFO or device node (mknod type S_IFIFO, S_IFCHR or S_IFBLK) under a
    // temporary name; empty when the file system or the user cannot make one
    // (exFAT refuses, or exfat-fuse makes a regular file and answers EIO; a
    // device without root): checked by its type, and nothing is left behind.
    std::optional<TempFile> create_node(unsigned type, uint64_t rdev);
    // Removes files whose names start with prefix: leftovers of an interrupted run.
    void remove_leftovers(std::string_view prefix);

    // The barrier before re-reading: every file finished so far is on the device.
    void written_barrier();
    // The barrier after renames: every rename done so far is durable.
    void renamed_barrier();

    // Throws for a failed system call on this medium: MediumError when a failure
    // stops the run, SystemError when it fails one file.
    [[noreturn]] void fail(int err, std::string_view operation, std::string_view path) const;

    // A rename into (or out of) dirfd happened: on FUSE the directory is fsynced
    // at the next renamed_barrier (TempFile::commit calls it; so must any other
    // rename on this medium that a barrier is to make durable). A descriptor is
    // held per distinct directory until then; past max_held_dirs of them, the
    // ones held are fsynced at once and let go (a batch of files spread over
    // thousands of directories must not run out of descriptors).
    void renamed_into(int dirfd);
    static constexpr size_t max_held_dirs = 256;

private:
    friend class TempFile;

    Fd m_dir;
    std::string m_display;
    OnFailure m_on_failure;
    bool m_fuse;
    std::mutex m_mutex;
    // Directories renamed into since the last barrier, by device and inode (FUSE only).
    using RenamedDirs = std::map<std::pair<dev_t, ino_t>, Fd>;
    // Makes the renames into these directories durable (FUSE: syncfs may not reach
    // the device). Throws MediumError: a failed barrier stops the run.
    static void fsync_dirs(const RenamedDirs& dirs, const std::string& display);
    RenamedDirs m_renamed_dirs;
};

// A file written under a temporary name on a Medium. Unless it is committed
// (renamed into place), kept, or was opened to be kept (Medium::open_kept), it is
// removed when destroyed: a file abandoned by an error, a stop or a failed
// verification leaves nothing behind. Move-only.
class TempFile : public ByteSink {
public:
    TempFile() = default;
    TempFile(TempFile&& other) noexcept;
    TempFile& operator=(TempFile&& other) noexcept;
    ~TempFile() override;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    explicit operator bool() const { return m_medium != nullptr; }
    int fd() const { return m_fd.get(); }
    const std::string& name() const { return m_name; }
    std::string display() const;

    // Re-reads the file behind its writer while it is written (when the medium allows
    // O_DIRECT); otherwise read_back() reads it after the barrier.
    void follow(TrailingVerifier& verifier);
    void write_at(const char* buf, size_t n, int64_t offset) override;
    // Leaves a hole: nothing written; the file is extended to offset + n if shorter.
    void hole_at(size_t n, int64_t offset) override;
    // Makes the (empty) file share the extents of src_fd, size bytes long
    // (FICLONE: XFS, Btrfs); false where the file system cannot (then nothing
    // changed). It is read back and verified like a written file.
    bool clone_from(int src_fd, int64_t size);
    void truncate(int64_t size);
    // fdatasync: what was written so far is durable (an assembly file's pieces).
    void sync();
    // Writing is over: on FUSE the file is fsynced now, a large file starts its
    // writeback, the trail reads to the end, and the descriptor is closed with its
    // error checked (close can report a deferred write error).
    void finish();
    // The file's digest and size as read back from the medium (behind the writer,
    // or now, bypassing the page cache). Call after the medium's written_barrier().
    Digest read_back(HashPipeline& pipe, uint64_t& bytes);
    // Queues the file's re-read in batch when read_back() would read it whole
    // now with O_DIRECT (not behind its writer, a medium that allows O_DIRECT):
    // its ticket, to give read_back() with the same batch.
    std::optional<size_t> queue_read_back(DirectBatch& batch, int64_t size) const;
    // read_back(), from batch's read of the file when it has one for ticket.
    Digest read_back(HashPipeline& pipe, uint64_t& bytes, DirectBatch& batch,
                     std::optional<size_t> ticket);
    // Renames the file to name (relative to dirfd; may hold a '/'); it is then no
    // longer removed. The medium's barriers make the rename durable.
    void commit(int dirfd, const std::string& name, std::string_view display);
    // The directory the file is in (its medium's), for a caller that renames it
    // itself (Destination::rename_over) and then calls renamed().
    int dirfd() const { return m_medium->dirfd(); }
    // The caller renamed the file out of its name into dirfd: it is no longer
    // removed (whatever now stands at its old name is the caller's), and the
    // medium's barriers make the rename durable.
    void renamed(int dirfd);
    // Leaves the file where it is (an assembly file whose pieces stay recorded).
    void keep() noexcept;
    // Removes the file now.
    void discard() noexcept;

private:
    friend class Medium;
    TempFile(Medium& medium, Fd fd, std::string name, bool owned);
    // Removes the file or leaves it, as it was made to be.
    void release() noexcept;

    Medium* m_medium = nullptr;
    bool m_owned = true; // removed when destroyed uncommitted
    Fd m_fd;
    std::string m_name;
    Trail m_trail;
    int64_t m_written = 0; // bytes written up to, for early writeback
};

} // namespace barge
