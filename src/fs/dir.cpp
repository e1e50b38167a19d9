#include "barge/fs/dir.hpp"

#include "barge/util/error.hpp"
#include "barge/util/path.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace barge {

Fd open_beneath(int dirfd, std::string_view rel, int flags, unsigned mode) {
    std::string path = rel.empty() ? std::string(".") : std::string(rel);
    open_how how{};
    how.flags = static_cast<__u64>(static_cast<unsigned>(flags | O_CLOEXEC));
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (;;) {
        long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
        if (fd >= 0) {
            return Fd(static_cast<int>(fd));
        }
        // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
        if (errno != EINTR && errno != EAGAIN) {
            return Fd();
        }
    }
}

Fd open_beneath_or_throw(int dirfd, std::string_view rel, int flags, std::string_view display_path,
                         unsigned mode) {
    Fd fd = open_beneath(dirfd, rel, flags, mode);
    if (!fd) {
        // ELOOP from RESOLVE_NO_SYMLINKS means a symlink stands where a directory or
        // file was expected; say so plainly.
        if (errno == ELOOP) {
            throw SystemError(ELOOP, "open (refusing to follow a symlink)", display_path);
        }
        if (errno == EXDEV) {
            throw SystemError(EXDEV, "open (path escapes its root)", display_path);
        }
        throw_errno("open", display_path);
    }
    return fd;
}

Fd open_noatime_beneath(int dirfd, std::string_view rel, int extra_flags) {
    Fd fd = open_beneath(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_NOATIME | extra_flags);
    if (!fd && errno == EPERM) {
        fd = open_beneath(dirfd, rel, O_RDONLY | O_NOFOLLOW | extra_flags); // not the owner: without
    }
    return fd;
}

int ParentDirs::at(std::string_view parent) {
    if (m_parent != parent) {
        m_fd = open_beneath(m_root, parent, m_flags);
        m_parent = std::string(parent);
    }
    return m_fd ? m_fd.get() : -1;
}

bool same_inode_life(int parent_fd, const std::string& name, uint64_t ino, uint64_t dev, int64_t ctime_ns) {
    // One component, so that statx follows no symlink and leaves no directory
    // (a catalog's name is one; a hostile one may not be).
    if (parent_fd < 0 || !is_safe_relative_path(name) || name.find('/') != std::string::npos) {
        return false;
    }
    struct statx sx{};
    if (::statx(parent_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &sx) != 0) {
        return false;
    }
    if ((sx.stx_mask & STATX_BTIME) == 0 || sx.stx_ino != ino ||
        makedev(sx.stx_dev_major, sx.stx_dev_minor) != dev) {
        return false;
    }
    int64_t born = static_cast<int64_t>(sx.stx_btime.tv_sec) * 1'000'000'000 + sx.stx_btime.tv_nsec;
    return born <= ctime_ns;
}

std::vector<std::string> read_dir_names(int dirfd, std::string_view display_path) {
    // getdents64 straight into a 64 KiB buffer: readdir(3) would need a dup,
    // fdopendir's checks and a rewind per directory, a third of a rescan's syscalls.
    struct linux_dirent64 {
        uint64_t d_ino;
        int64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[1];
    };
    alignas(linux_dirent64) static thread_local char buf[65536];
    std::vector<std::string> names;
    for (;;) {
        long n = ::syscall(SYS_getdents64, dirfd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("getdents", display_path);
        }
        if (n == 0) {
            break;
        }
        for (long off = 0; off < n;) {
            auto* e = reinterpret_cast<linux_dirent64*>(buf + off);
            off += e->d_reclen;
            const char* name = e->d_name;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
                continue;
            }
            names.emplace_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

namespace {

FileStat from_stat(const struct stat& s) {
    FileStat f;
    f.mode = static_cast<uint32_t>(s.st_mode & 07777);
    f.uid = s.st_uid;
    f.gid = s.st_gid;
    f.size = s.st_size;
    f.mtime_ns = int64_t{s.st_mtim.tv_sec} * 1'000'000'000 + s.st_mtim.tv_nsec;
    f.ctime_ns = int64_t{s.st_ctim.tv_sec} * 1'000'000'000 + s.st_ctim.tv_nsec;
    f.ino = s.st_ino;
    f.dev = s.st_dev;
    if (S_ISDIR(s.st_mode)) {
        f.kind = Kind::dir;
    } else if (S_ISLNK(s.st_mode)) {
        f.kind = Kind::symlink;
    } else if (S_ISFIFO(s.st_mode)) {
        f.kind = Kind::fifo;
    } else if (S_ISCHR(s.st_mode)) {
        f.kind = Kind::chardev;
    } else if (S_ISBLK(s.st_mode)) {
        f.kind = Kind::blockdev;
    } else {
        f.kind = Kind::file;
    }
    if (S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode)) {
        f.rdev = s.st_rdev;
    }
    return f;
}

} // namespace

bool refuses_hard_links(int err) {
    return err == EPERM || err == EOPNOTSUPP || err == EMLINK || err == ENOSYS;
}

std::optional<EntryStat> stat_entry(int dirfd, const std::string& name) {
    struct stat s{};
    if (::fstatat(dirfd, name.c_str(), &s, AT_SYMLINK_NOFOLLOW) != 0) {
        return std::nullopt;
    }
    EntryStat out;
    out.st = from_stat(s);
    if (S_ISREG(s.st_mode)) {
        out.type = StatKind::file;
    } else if (S_ISDIR(s.st_mode)) {
        out.type = StatKind::dir;
        out.st.size = 0; // a directory's size is file-system noise, not data
    } else if (S_ISLNK(s.st_mode)) {
        out.type = StatKind::symlink;
        std::string target(static_cast<size_t>(s.st_size) + 1, '\0');
        for (;;) {
            ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
            if (n < 0) {
                return std::nullopt;
            }
            if (static_cast<size_t>(n) < target.size()) {
                target.resize(static_cast<size_t>(n));
                break;
            }
            target.resize(target.size() * 2);
        }
        out.st.target = std::move(target);
        out.st.size = 0;
    } else if (S_ISFIFO(s.st_mode) || S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode)) {
        out.type = StatKind::node;
        out.st.size = 0;
    } else {
        out.type = StatKind::special;
    }
    return out;
}

FileStat stat_fd(int fd, std::string_view display_path) {
    struct stat s{};
    if (::fstat(fd, &s) != 0) {
        throw_errno("fstat", display_path);
    }
    return from_stat(s);
}

} // namespace barge
