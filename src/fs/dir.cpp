#include "barge/fs/dir.hpp"

#include "barge/util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

std::vector<std::string> read_dir_names(int dirfd, std::string_view display_path) {
    // fdopendir takes ownership of its descriptor: give it a duplicate.
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        throw_errno("dup", display_path);
    }
    DIR* d = ::fdopendir(dup);
    if (!d) {
        int err = errno;
        ::close(dup);
        throw SystemError(err, "opendir", display_path);
    }
    ::rewinddir(d);
    std::vector<std::string> names;
    for (;;) {
        errno = 0;
        dirent* e = ::readdir(d);
        if (!e) {
            if (errno != 0) {
                int err = errno;
                ::closedir(d);
                throw SystemError(err, "readdir", display_path);
            }
            break;
        }
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) {
            continue;
        }
        names.emplace_back(e->d_name);
    }
    ::closedir(d);
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
    } else {
        f.kind = Kind::file;
    }
    return f;
}

} // namespace

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
