#include "barge/engine/cargo.hpp"

#include "barge/catalog/status_store.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/crypto/names.hpp"
#include "barge/fs/dir.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/stop.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
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
    : m_root(layout.cargo()), m_keys(layout.keys), m_dir(open_cargo_dir(m_root)),
      m_tmp(open_beneath_or_throw(m_dir.get(), "tmp", O_RDONLY | O_DIRECTORY, m_root + "/tmp"),
            m_root + "/tmp", OnFailure::stop_run) {}

Cargo::~Cargo() = default;

Digest Cargo::stored_name(const Digest& hash) const {
    return m_keys ? piece_name(m_keys->names, hash) : hash;
}

std::string Cargo::relative_path(const Digest& hash) const {
    std::string hex = digest_hex(stored_name(hash));
    return hex.substr(0, 2) + "/" + hex;
}

int64_t Cargo::stored_size(int64_t plain) const {
    return m_keys ? static_cast<int64_t>(encrypted_piece_size(static_cast<uint64_t>(plain))) : plain;
}

ByteSink& Cargo::piece_sink(ByteSink& file) {
    if (!m_keys) {
        return file;
    }
    if (!m_encrypt) {
        m_encrypt = std::make_unique<EncryptingSink>(m_keys->pieces);
    }
    m_encrypt->begin(file);
    return *m_encrypt;
}

int64_t Cargo::finish_piece(int64_t plain) {
    return m_keys ? m_encrypt->finish() : plain;
}

std::unique_ptr<HashFilter> Cargo::read_filter() const {
    if (!m_keys) {
        return nullptr;
    }
    return std::make_unique<PieceDecryptFilter>(m_keys->pieces);
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

void Cargo::copy_piece(const PieceRow& piece, HashPipeline& pipe, ByteSink& to, int64_t offset) {
    Fd in = open_piece(piece.hash);
    struct stat st{};
    if (!in || ::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size != stored_size(piece.size)) {
        throw CorruptPiece(piece);
    }
    ::posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    pipe.reset();
    if (m_keys) {
        copy_encrypted(in.get(), piece, pipe, to, offset);
        return;
    }
    uint64_t n = copy_through(pipe, in.get(), 0, piece.size, path(piece.hash), &to, offset);
    if (pipe.finish() != piece.hash || static_cast<int64_t>(n) != piece.size) {
        throw CorruptPiece(piece);
    }
}

void Cargo::copy_encrypted(int fd, const PieceRow& piece, HashPipeline& pipe, ByteSink& to,
                           int64_t offset) {
    // Whole sealed segments per read; only authenticated plaintext is written or hashed.
    constexpr size_t chunk = 16 * piece_sealed_segment_size;
    if (!m_decrypt) {
        m_decrypt = std::make_unique<PieceDecryptor>(m_keys->pieces, unnamed_piece);
        m_cipher.resize(chunk);
        m_plain.resize(PieceDecryptor::max_update_output(chunk));
    }
    int64_t stored = stored_size(piece.size);
    std::string where = path(piece.hash);
    int64_t pos = 0, out = 0;
    auto emit = [&](size_t n) {
        if (n == 0) {
            return;
        }
        to.write_at(reinterpret_cast<const char*>(m_plain.data()), n, offset + out);
        for (size_t k = 0; k < n;) {
            HeldBlock b(pipe);
            size_t part = std::min(n - k, pipe.block_size());
            std::memcpy(b.get(), m_plain.data() + k, part);
            b.submit(part);
            k += part;
        }
        out += static_cast<int64_t>(n);
    };
    try {
        m_decrypt->reset(unnamed_piece, static_cast<uint64_t>(stored));
        while (pos < stored) {
            throw_if_stopped();
            size_t want = static_cast<size_t>(std::min<int64_t>(stored - pos, chunk));
            size_t n;
            try {
                n = pread_full(fd, reinterpret_cast<char*>(m_cipher.data()), want, pos, where);
            } catch (const SystemError& e) {
                throw ReadError(e.err(), "read", where);
            }
            if (n < want) {
                throw CorruptPiece(piece); // shorter than it was a moment ago
            }
            emit(m_decrypt->update({m_cipher.data(), n}, m_plain));
            pos += static_cast<int64_t>(n);
        }
        emit(m_decrypt->finish(m_plain));
    } catch (const TamperedPiece& e) {
        spdlog::info("piece {}: {}", digest_hex(piece.hash).substr(0, 16), e.what());
        pipe.reset();
        throw CorruptPiece(piece);
    }
    if (pipe.finish() != piece.hash || out != piece.size) {
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

namespace {

// The first eight bytes of a name on the cargo, as a number.
uint64_t name_prefix(const Digest& name) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) {
        v = v << 8 | name[i];
    }
    return v;
}

// A fan-out directory under cargo/: its name and the byte it stands for (-1 for
// a name that is not two hex digits: nothing of barge's is in it).
struct Fan {
    std::string name;
    int byte;
};

std::vector<Fan> list_fans(const Cargo& cargo, const DriveLayout& layout) {
    std::vector<Fan> fans;
    for (auto& name : read_dir_names(cargo.dirfd(), layout.cargo())) {
        if (name == "tmp" || name.size() != 2) {
            continue;
        }
        auto raw = from_hex(name);
        int byte = raw ? static_cast<uint8_t>((*raw)[0]) : -1;
        fans.push_back({std::move(name), byte});
    }
    return fans;
}

// Deletes the files in `fan` that are not pieces the catalog puts on the cargo
// (a name out of its fan-out directory is not where a piece is read). On a
// plain drive a file's name is its digest, looked up in the catalog. On an
// encrypted drive keyed names cannot be turned back into digests: `kept` holds,
// sorted, the name prefixes of the kept pieces of this fan's group. A file whose
// prefix matches one but whose name differs is left (harmless space, 2^-64 odds
// per file), never the other way round.
void remove_strays(const Cargo& cargo, const DriveLayout& layout, TransitStore& store, const Fan& fan,
                   const std::vector<uint64_t>& kept) {
    Fd dir = open_beneath(cargo.dirfd(), fan.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dir) {
        return;
    }
    for (const auto& name : read_dir_names(dir.get(), layout.cargo() + "/" + fan.name)) {
        auto raw = from_hex(name);
        bool ok = raw && raw->size() == 64 && static_cast<uint8_t>((*raw)[0]) == fan.byte;
        if (ok && cargo.encrypted()) {
            ok = std::binary_search(kept.begin(), kept.end(), name_prefix(digest_from_bytes(*raw)));
        } else if (ok) {
            auto row = store.piece_by_hash(digest_from_bytes(*raw));
            ok = row && row->on_cargo;
        }
        if (!ok) {
            ::unlinkat(dir.get(), name.c_str(), 0);
        }
    }
}

} // namespace

int64_t check_cargo(Catalog& catalog, const DriveLayout& layout, int64_t kept_per_pass) {
    Cargo cargo(layout);
    cargo.tmp().remove_leftovers("");
    TransitStore store(catalog.db());
    int64_t requeued = 0;
    Transaction tx(catalog.db());
    // On an encrypted drive the kept pieces' name prefixes are gathered from the
    // catalog, 8 bytes each, for a group of fan-out directories per pass over the
    // pieces: at most about kept_per_pass at a time (ten million pieces on the cargo
    // are three passes, not a gigabyte of names). cargo_total says how many there
    // are; a wrong count costs memory or a pass, never a kept piece.
    int64_t groups = 1;
    if (cargo.encrypted()) {
        int64_t n = StatusStore(catalog.db()).cargo().files;
        groups = std::clamp<int64_t>((std::max<int64_t>(n, 1) - 1) / std::max<int64_t>(kept_per_pass, 1) + 1, 1, 256);
    }
    auto group_of = [&](int byte) { return byte < 0 ? 0 : byte * groups / 256; };
    std::vector<Fan> fans = list_fans(cargo, layout);
    std::vector<uint64_t> kept;
    int64_t started_ns = now_ns(), pieces = 0;
    for (int64_t g = 0; g < groups; ++g) {
        if (g > 0 && stop_requested()) {
            break; // the pieces are checked; the strays left wait for the next load
        }
        kept.clear();
        store.each_piece_on_cargo(4096, [&](std::vector<PieceRow>& page) {
            pieces += g == 0 ? static_cast<int64_t>(page.size()) : 0;
            for (const auto& p : page) {
                if (g == 0) { // the first pass checks every piece
                    auto size = cargo.piece_size(p.hash);
                    if (!size || *size != cargo.stored_size(p.size)) {
                        spdlog::warn("piece {} is {} on the cargo: it will be carried again",
                                     digest_hex(p.hash).substr(0, 16),
                                     size ? "of the wrong size" : "missing");
                        store.set_off_cargo(p.id);
                        ++requeued;
                        continue;
                    }
                }
                if (cargo.encrypted()) {
                    Digest name = cargo.stored_name(p.hash);
                    if (group_of(name[0]) == g) {
                        kept.push_back(name_prefix(name));
                    }
                }
            }
            return true;
        });
        std::sort(kept.begin(), kept.end());
        // Files the catalog does not hold as on the cargo: pieces whose commit never
        // happened (an interrupted load) or that were reclaimed. The cargo is barge's.
        for (const auto& fan : fans) {
            if (group_of(fan.byte) == g) {
                remove_strays(cargo, layout, store, fan, kept);
            }
        }
    }
    tx.commit();
    spdlog::info("the cargo check read {} on the cargo in {} ({:.2f} s)", plural(pieces, "piece"),
                 plural(groups, "pass", "passes"), static_cast<double>(now_ns() - started_ns) / 1e9);
    return requeued;
}

std::pair<int64_t, int64_t> reclaim_pieces(Catalog& catalog, const DriveLayout& layout) {
    Cargo cargo(layout);
    TransitStore store(catalog.db());
    int64_t n = 0, bytes = 0;
    // A page at a time, the catalog first: a crash after a page's commit leaves
    // files check_cargo removes; the other order would leave the catalog naming
    // pieces that are gone.
    store.each_reclaimable_piece(4096, [&](std::vector<PieceRow>& page) {
        Transaction tx(catalog.db());
        for (const auto& p : page) {
            store.set_off_cargo(p.id);
        }
        tx.commit();
        for (const auto& p : page) {
            cargo.remove(p.hash);
            bytes += p.size; // content bytes, as status and the dry run count them
        }
        n += static_cast<int64_t>(page.size());
        return true;
    });
    return {n, bytes};
}

} // namespace barge
