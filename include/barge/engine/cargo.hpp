#pragma once

#include "barge/fs/drive.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/fd.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace barge {

// A piece being written: a temporary file under DRIVE/cargo/tmp.
struct TempPiece {
    Fd fd;
    std::string name; // inside cargo/tmp
};

// The cargo: content-addressed pieces under DRIVE/cargo/<2 hex>/<128 hex>, named by
// their BLAKE2b-512. Original names never touch the drive's file system. Pieces
// are written under cargo/tmp and renamed into place only once verified.
class Cargo {
public:
    explicit Cargo(const DriveLayout& layout);

    const std::string& root() const { return m_root; }
    int dirfd() const { return m_dir.get(); }
    int tmp_dirfd() const { return m_tmp.get(); }
    // "ab/abcd…" relative to the cargo directory, and the full path for messages.
    static std::string relative_path(const Digest& hash);
    std::string path(const Digest& hash) const;

    TempPiece create_temp();
    // Renames a verified temporary piece to its content address (creating the fan-out
    // directory). The caller makes the rename durable (sync_file_system).
    void commit(TempPiece& piece, const Digest& hash);
    void discard(TempPiece& piece);
    // Opens a piece for reading, never following a symlink; empty when it is missing.
    Fd open_piece(const Digest& hash) const;
    // The piece's size on the drive, empty when missing or not a regular file.
    std::optional<int64_t> piece_size(const Digest& hash) const;
    // Removes a piece (missing is fine).
    void remove(const Digest& hash);
    // Removes every leftover temporary file (from an interrupted run).
    void clear_temp();

private:
    std::string m_root;
    Fd m_dir;
    Fd m_tmp;
};

} // namespace barge
