#include "barge/engine/cargo.hpp"

#include "barge/fs/atomic_file.hpp"
#include "barge/fs/dir.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge {

Cargo::Cargo(const DriveLayout& layout) : m_root(layout.cargo()) {
    ensure_dir(m_root);
    ensure_dir(m_root + "/tmp");
    m_dir = open_or_throw(m_root, O_RDONLY | O_DIRECTORY);
    m_tmp = open_beneath_or_throw(m_dir.get(), "tmp", O_RDONLY | O_DIRECTORY, m_root + "/tmp");
}

std::string Cargo::relative_path(const Digest& hash) {
    std::string hex = digest_hex(hash);
    return hex.substr(0, 2) + "/" + hex;
}

std::string Cargo::path(const Digest& hash) const {
    return m_root + "/" + relative_path(hash);
}

TempPiece Cargo::create_temp() {
    unsigned char r[8];
    if (::getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
        throw_errno("getrandom", m_root);
    }
    TempPiece t;
    t.name = to_hex(r) + ".part";
    int fd = ::openat(m_tmp.get(), t.name.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw_errno("create", m_root + "/tmp/" + t.name);
    }
    t.fd = Fd(fd);
    return t;
}

void Cargo::commit(TempPiece& piece, const Digest& hash) {
    // close(2) can report a write error the file system deferred (EIO, ENOSPC on
    // some file systems): then the piece is not trusted, whatever was read back.
    if (piece.fd) {
        piece.fd.close(m_root + "/tmp/" + piece.name);
    }
    std::string rel = relative_path(hash);
    std::string fan = rel.substr(0, 2);
    if (::mkdirat(m_dir.get(), fan.c_str(), 0755) != 0 && errno != EEXIST) {
        throw_errno("mkdir", m_root + "/" + fan);
    }
    if (::renameat(m_tmp.get(), piece.name.c_str(), m_dir.get(), rel.c_str()) != 0) {
        throw_errno("rename", m_root + "/" + rel);
    }
    piece.name.clear();
}

void Cargo::discard(TempPiece& piece) {
    piece.fd = Fd();
    if (!piece.name.empty()) {
        ::unlinkat(m_tmp.get(), piece.name.c_str(), 0);
        piece.name.clear();
    }
}

Fd Cargo::open_piece(const Digest& hash) const {
    // O_NOATIME: reading a piece for the first time would otherwise update its
    // atime (relatime), a journal write per piece that the next catalog commit on
    // the drive waits for. It needs ownership (or root): retry without it.
    Fd fd = open_beneath(m_dir.get(), relative_path(hash), O_RDONLY | O_NOFOLLOW | O_NOATIME);
    if (!fd && errno == EPERM) {
        fd = open_beneath(m_dir.get(), relative_path(hash), O_RDONLY | O_NOFOLLOW);
    }
    return fd;
}

std::optional<int64_t> Cargo::piece_size(const Digest& hash) const {
    struct stat st{};
    if (::fstatat(m_dir.get(), relative_path(hash).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
        return std::nullopt;
    }
    return st.st_size;
}

void Cargo::remove(const Digest& hash) {
    std::string rel = relative_path(hash);
    if (::unlinkat(m_dir.get(), rel.c_str(), 0) != 0 && errno != ENOENT) {
        throw_errno("unlink", m_root + "/" + rel);
    }
}

void Cargo::clear_temp() {
    Fd dir = open_beneath_or_throw(m_dir.get(), "tmp", O_RDONLY | O_DIRECTORY, m_root + "/tmp");
    for (const auto& name : read_dir_names(dir.get(), m_root + "/tmp")) {
        ::unlinkat(m_tmp.get(), name.c_str(), 0);
    }
}

} // namespace barge
