#include "barge/engine/cargo.hpp"

#include "barge/catalog/transit.hpp"
#include "barge/fs/dir.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge {

CorruptPiece::CorruptPiece(const PieceRow& piece)
    : FileError(fmt::format("piece {} on the cargo is corrupt or missing (its bytes do not match "
                            "its hash); it was removed and will be carried again on the next load",
                            digest_hex(piece.hash).substr(0, 16))),
      m_piece(piece) {}

namespace {
Fd open_cargo_dir(const std::string& root) {
    ensure_dir(root);
    ensure_dir(root + "/tmp");
    return open_or_throw(root, O_RDONLY | O_DIRECTORY);
}
} // namespace

Cargo::Cargo(const DriveLayout& layout)
    : m_root(layout.cargo()), m_dir(open_cargo_dir(m_root)),
      m_tmp(open_beneath_or_throw(m_dir.get(), "tmp", O_RDONLY | O_DIRECTORY, m_root + "/tmp"),
            m_root + "/tmp", OnFailure::stop_run) {}

std::string Cargo::relative_path(const Digest& hash) {
    std::string hex = digest_hex(hash);
    return hex.substr(0, 2) + "/" + hex;
}

std::string Cargo::path(const Digest& hash) const {
    return m_root + "/" + relative_path(hash);
}

void Cargo::commit(TempFile& piece, const Digest& hash) {
    std::string rel = relative_path(hash);
    std::string fan = rel.substr(0, 2);
    if (::mkdirat(m_dir.get(), fan.c_str(), 0755) != 0 && errno != EEXIST) {
        throw MediumError(errno, "mkdir", m_root + "/" + fan);
    }
    // Kept open: the rename goes into it, and on FUSE it is fsynced (docs/durability.md).
    Fd& fan_fd = m_fans[std::stoul(fan, nullptr, 16)];
    if (!fan_fd) {
        fan_fd = open_beneath(m_dir.get(), fan, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!fan_fd) {
            throw MediumError(errno, "open", m_root + "/" + fan);
        }
    }
    piece.commit(fan_fd.get(), rel.substr(3), m_root + "/" + rel);
}

Fd Cargo::open_piece(const Digest& hash) const {
    // O_NOATIME: reading a piece for the first time would otherwise update its
    // atime (relatime), a journal write per piece that the next catalog commit on
    // the drive waits for.
    return open_noatime_beneath(m_dir.get(), relative_path(hash));
}

void Cargo::copy_piece(const PieceRow& piece, HashPipeline& pipe, ByteSink& to, int64_t offset) const {
    Fd in = open_piece(piece.hash);
    struct stat st{};
    if (!in || ::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != piece.size) {
        throw CorruptPiece(piece);
    }
    ::posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    pipe.reset();
    uint64_t n = copy_through(pipe, in.get(), 0, piece.size, path(piece.hash), &to, offset);
    if (pipe.finish() != piece.hash || static_cast<int64_t>(n) != piece.size) {
        throw CorruptPiece(piece);
    }
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
        throw MediumError(errno, "unlink", m_root + "/" + rel);
    }
}

int64_t check_cargo(Catalog& catalog, const DriveLayout& layout) {
    Cargo cargo(layout);
    cargo.tmp().remove_leftovers("");
    TransitStore store(catalog.db());
    int64_t requeued = 0;
    Transaction tx(catalog.db());
    for (const auto& p : store.pieces_on_cargo()) {
        auto size = cargo.piece_size(p.hash);
        if (!size || *size != p.size) {
            spdlog::warn("piece {} is {} on the cargo: it will be carried again",
                         digest_hex(p.hash).substr(0, 16), size ? "of the wrong size" : "missing");
            store.set_off_cargo(p.id);
            ++requeued;
        }
    }
    // Files the catalog does not hold as on the cargo: pieces whose commit never
    // happened (an interrupted load) or that were reclaimed. The cargo is barge's.
    for (const auto& fan : read_dir_names(cargo.dirfd(), layout.cargo())) {
        if (fan == "tmp" || fan.size() != 2) {
            continue;
        }
        Fd dir = open_beneath(cargo.dirfd(), fan, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!dir) {
            continue;
        }
        for (const auto& name : read_dir_names(dir.get(), layout.cargo() + "/" + fan)) {
            auto raw = from_hex(name);
            std::optional<PieceRow> row;
            if (raw && raw->size() == 64) {
                row = store.piece_by_hash(digest_from_bytes(*raw));
            }
            if (!row || !row->on_cargo) {
                ::unlinkat(dir.get(), name.c_str(), 0);
            }
        }
    }
    tx.commit();
    return requeued;
}

std::pair<int64_t, int64_t> reclaim_pieces(Catalog& catalog, const DriveLayout& layout) {
    Cargo cargo(layout);
    TransitStore store(catalog.db());
    auto pieces = store.reclaimable_pieces();
    if (pieces.empty()) {
        return {0, 0};
    }
    // The catalog first: a crash after the commit leaves files check_cargo removes;
    // the other order would leave the catalog naming pieces that are gone.
    {
        Transaction tx(catalog.db());
        for (const auto& p : pieces) {
            store.set_off_cargo(p.id);
        }
        tx.commit();
    }
    int64_t bytes = 0;
    for (const auto& p : pieces) {
        cargo.remove(p.hash);
        bytes += p.size;
    }
    return {static_cast<int64_t>(pieces.size()), bytes};
}

} // namespace barge
