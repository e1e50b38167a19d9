#pragma once

#include <string>
#include <string_view>

namespace barge {

// fsync of a file's data and metadata, by path.
void fsync_file(const std::string& path);

// fsync of a directory, so that entries created or renamed in it are durable.
void fsync_dir(const std::string& dir);

// Writes content to path atomically and durably: a temporary file in the same
// directory, fsync, rename over path, fsync of the directory.
void write_file_atomic(const std::string& path, std::string_view content, unsigned mode = 0644);

// Renames a complete, synced temporary file over path and syncs the directory, so
// path names either the old file or the whole new one. On failure the temporary
// file is removed and SystemError names path.
void rename_into_place(const std::string& tmp, const std::string& path);

// A temporary file being written: removed when this goes out of scope, unless
// kept (after it was renamed into place, or handed on).
class PendingFile {
public:
    explicit PendingFile(std::string path) : m_path(std::move(path)) {}
    ~PendingFile();
    PendingFile(const PendingFile&) = delete;
    PendingFile& operator=(const PendingFile&) = delete;
    const std::string& path() const { return m_path; }
    void keep() { m_kept = true; }

private:
    std::string m_path;
    bool m_kept = false;
};

// mkdir that accepts an existing directory; throws otherwise.
void ensure_dir(const std::string& path, unsigned mode = 0755);

} // namespace barge
