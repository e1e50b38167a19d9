#pragma once

#include "barge/util/fd.hpp"
#include "barge/util/file_stat.hpp"

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace barge {

// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: rel (relative, may be "")
// is resolved below dirfd without ever following a symlink or escaping through
// "..". Returns an invalid Fd with errno set on failure.
Fd open_beneath(int dirfd, std::string_view rel, int flags, unsigned mode = 0);
// Whether open_beneath's errno says nothing the open asked for stands at the
// path: the name or a parent missing (ENOENT), or a parent that is a file
// (ENOTDIR) or a symlink (ELOOP) now, where another drive, the user or a source
// change put one. For a file opened with O_NOFOLLOW (neither O_DIRECTORY nor
// O_PATH: those give ENOTDIR or the symlink itself), ELOOP also means a symlink
// at the name itself: the file was replaced by one.
inline bool nothing_there(int err) {
    return err == ENOENT || err == ENOTDIR || err == ELOOP;
}
// The same, throwing SystemError naming display_path.
Fd open_beneath_or_throw(int dirfd, std::string_view rel, int flags, std::string_view display_path,
                         unsigned mode = 0);

// Opens a file beneath dirfd for reading, never through a symlink, with O_NOATIME
// where allowed (it needs ownership or root): reading a file must not dirty its
// inode. extra_flags are added to O_RDONLY | O_NOFOLLOW (O_NONBLOCK, ...).
// Returns an invalid Fd with errno set on failure.
Fd open_noatime_beneath(int dirfd, std::string_view rel, int extra_flags = 0);

// The names in a freshly opened directory (not "." or ".."), sorted bytewise;
// it reads from the descriptor's current position.
std::vector<std::string> read_dir_names(int dirfd, std::string_view display_path);

// What lstat found: node is a FIFO or a device node, special a socket (or
// anything else barge does not carry).
enum class StatKind { file, dir, symlink, node, special };
struct EntryStat {
    StatKind type = StatKind::file;
    FileStat st;
};

// fstatat(AT_SYMLINK_NOFOLLOW) plus readlinkat for symlinks; nullopt with errno set
// when the entry could not be examined (ENOENT: it vanished).
std::optional<EntryStat> stat_entry(int dirfd, const std::string& name);

// Whether a failed link(2) or linkat(2) says the file system makes no hard
// links at all (exFAT: EPERM; EOPNOTSUPP, ENOSYS, or EMLINK where a file may
// have one name), not that this one link failed.
bool refuses_hard_links(int err);

// The FileStat of an open file.
FileStat stat_fd(int fd, std::string_view display_path);

// The directories beneath a root that entries looked at in a row stand in, each
// opened once while the entries' parent stays the same (a scan numbers the files
// it adds to a directory together, so a pass in id order opens each directory
// about once), for calls on one name at a time.
class ParentDirs {
public:
    ParentDirs(int root, int flags) : m_root(root), m_flags(flags) {}
    // parent (relative, "" for the root) opened beneath the root with the flags
    // (open_beneath: never through a symlink), or -1 when it cannot be.
    int at(std::string_view parent);

private:
    int m_root;
    int m_flags;
    std::optional<std::string> m_parent; // what m_fd was opened on (or failed to be)
    Fd m_fd;
};

// Whether the entry name in the directory parent_fd (ParentDirs) is the very
// file a catalog saw with inode ino on dev and ctime ctime_ns: it still has that
// inode, and it was born no later than that ctime. A file's ctime never falls
// below its birth time, while a new file on a reused inode is born after the old
// one's last change, so equal inode, size and mtime alone do not tell a rename
// from a new file (docs/scan.md). False when the file system keeps no birth time
// (statx(2) without STATX_BTIME), the entry cannot be examined, parent_fd is -1
// or name is not one component: not proven the same.
bool same_inode_life(int parent_fd, const std::string& name, uint64_t ino, uint64_t dev, int64_t ctime_ns);

} // namespace barge
