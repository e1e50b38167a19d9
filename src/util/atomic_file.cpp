#include "barge/util/atomic_file.hpp"

#include "barge/util/path.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge {

void fsync_file(const std::string& path) {
    Fd fd = open_or_throw(path, O_RDONLY);
    if (::fsync(fd.get()) != 0) {
        throw_errno("fsync", path);
    }
}

void fsync_dir(const std::string& dir) {
    Fd fd = open_or_throw(dir, O_RDONLY | O_DIRECTORY);
    if (::fsync(fd.get()) != 0) {
        throw_errno("fsync", dir);
    }
}

PendingFile::~PendingFile() {
    if (!m_kept) {
        ::unlink(m_path.c_str());
    }
}

void write_file_atomic(const std::string& path, std::string_view content, unsigned mode) {
    PendingFile tmp(path + ".tmp-" + std::to_string(::getpid()));
    {
        Fd fd = open_or_throw(tmp.path(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
        write_full(fd.get(), content.data(), content.size(), tmp.path());
        if (::fsync(fd.get()) != 0) {
            throw_errno("fsync", tmp.path());
        }
        fd.close(tmp.path());
    }
    tmp.keep(); // rename_into_place removes it itself on failure
    rename_into_place(tmp.path(), path);
}

void rename_into_place(const std::string& tmp, const std::string& path) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw SystemError(err, "rename", path);
    }
    fsync_dir(parent_path(path));
}

void ensure_dir(const std::string& path, unsigned mode) {
    if (::mkdir(path.c_str(), mode) == 0) {
        return;
    }
    if (errno != EEXIST) {
        throw_errno("mkdir", path);
    }
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
        throw_errno("stat", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        throw SystemError(ENOTDIR, "mkdir", path);
    }
}

} // namespace barge
