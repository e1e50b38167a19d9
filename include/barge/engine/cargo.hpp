#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/crypto/drive_keys.hpp"
#include "barge/crypto/piece_format.hpp"
#include "barge/crypto/piece_stream.hpp"
#include "barge/fs/drive.hpp"
#include "barge/fs/medium.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace barge {

class HashPipeline;

// A piece on the cargo that is missing or whose bytes do not match its name: it
// is never written anywhere, and is carried again.
class CorruptPiece : public FileError {
public:
    explicit CorruptPiece(const PieceRow& piece);
    const PieceRow& piece() const { return m_piece; }

private:
    PieceRow m_piece;
};

// The cargo: content-addressed pieces under DRIVE/cargo/<2 hex>/<128 hex>, named by
// their BLAKE2b-512. Original names never touch the drive's file system. Pieces
// are written under cargo/tmp (a Medium whose failures stop the run) and renamed
// into place only once verified. On an encrypted drive (layout.keys) a piece is
// stored encrypted (crypto/piece_format.hpp) under its keyed name (crypto/names.hpp);
// the catalog keeps the plaintext's digest and size, and every read authenticates.
class Cargo {
public:
    explicit Cargo(const DriveLayout& layout);
    ~Cargo();

    const std::string& root() const { return m_root; }
    int dirfd() const { return m_dir.get(); }
    bool encrypted() const { return m_keys != nullptr; }
    // Where pieces are written before they are verified.
    Medium& tmp() { return m_tmp; }
    // "ab/abcd…" relative to the cargo directory (the keyed name on an encrypted
    // drive), and the full path for messages.
    std::string relative_path(const Digest& hash) const;
    // The name a piece has on the cargo: its digest, or its keyed name.
    Digest stored_name(const Digest& hash) const;
    std::string path(const Digest& hash) const;
    // The size on the drive of a piece of `plain` bytes.
    int64_t stored_size(int64_t plain) const;
    // The sink a piece's plaintext is written through to its temporary file: the
    // file itself, or (encrypted) an encrypter writing to it; finish_piece() then
    // completes it and returns its size on the drive.
    ByteSink& piece_sink(ByteSink& file);
    int64_t finish_piece(int64_t plain);
    // A filter for the pipelines that re-read pieces (HashPipeline::set_filter):
    // null on a plain drive; on an encrypted one, authenticate and decrypt, so the
    // digest is the plaintext's.
    std::unique_ptr<HashFilter> read_filter() const;

    // Renames a verified temporary piece to its content address (creating the
    // fan-out directory). The tmp medium's barriers make it durable. One thread at a time.
    void commit(TempFile& piece, const Digest& hash);
    // Opens a piece for reading, never following a symlink; empty when it is missing.
    Fd open_piece(const Digest& hash) const;
    // Copies a piece into `to` at offset, re-hashing it as it is read (the drive is
    // untrusted: SPEC §7.4; an encrypted piece is authenticated and decrypted first).
    // Throws CorruptPiece before a wrong byte could be used (the caller discards what
    // was written), ReadError when the drive cannot be read. One thread at a time.
    void copy_piece(const PieceRow& piece, HashPipeline& pipe, ByteSink& to, int64_t offset);
    // The piece's size on the drive, empty when missing or not a regular file.
    std::optional<int64_t> piece_size(const Digest& hash) const;
    // Removes a piece (missing is fine).
    void remove(const Digest& hash);

private:
    void copy_encrypted(int fd, const PieceRow& piece, HashPipeline& pipe, ByteSink& to, int64_t offset);

    std::string m_root;
    std::shared_ptr<const DriveKeys> m_keys;
    Fd m_dir;
    Medium m_tmp;
    std::array<Fd, 256> m_fans; // the fan-out directories committed into, opened once
    std::unique_ptr<EncryptingSink> m_encrypt;    // encrypted drives: writes pieces
    std::unique_ptr<PieceDecryptor> m_decrypt;    // encrypted drives: reads pieces
    std::vector<uint8_t> m_cipher, m_plain;       // copy_encrypted's buffers
};

// Once per load: removes temporary files left by an interrupted run, queues again
// the pieces the catalog puts on the cargo that are missing or of the wrong size,
// and deletes files under cargo/ the catalog does not know (a piece whose catalog
// commit never happened). Returns how many pieces were queued again. On an
// encrypted drive, memory holds 8 bytes for each of at most about kept_per_pass
// pieces: more on the cargo take more passes over the pieces.
inline constexpr int64_t kept_names_per_pass = int64_t{4} << 20;
int64_t check_cargo(Catalog& catalog, const DriveLayout& layout, int64_t kept_per_pass = kept_names_per_pass);

// Removes pieces no undelivered file needs; returns {pieces, bytes}.
std::pair<int64_t, int64_t> reclaim_pieces(Catalog& catalog, const DriveLayout& layout);

} // namespace barge
