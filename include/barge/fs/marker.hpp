#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace barge {

// Which end of a pair a root is.
enum class Role { source, dest };

// The identity a marker records (SPEC §4): written into ROOT/.barge/<uuid>.<role>.
struct MarkerInfo {
    std::string pair_uuid;
    std::string pair_name;
    std::string drive_id;
    Role role = Role::source;
};

// ROOT/.barge
std::string barge_dir(const std::string& root);
// The names in ROOT/.barge; none when it cannot be opened (not there, or a
// symlink).
std::vector<std::string> barge_dir_names(const std::string& root);
// Removes a file barge keeps at an endpoint (a marker, a mark, a catalog copy,
// an order record); silent when it or its directory is gone.
void remove_endpoint_file(const std::string& path);
// ROOT/.barge/<uuid>.source or .dest
std::string marker_path(const std::string& root, const std::string& pair_uuid, Role role);

// Writes the marker durably (creating ROOT/.barge when needed). ROOT must exist.
void write_marker(const std::string& root, const MarkerInfo& info);
// True when ROOT holds this pair's marker for this role, and it parses and matches.
bool has_marker(const std::string& root, const std::string& pair_uuid, Role role);
// The markers of this role in ROOT/.barge that parse and match their file's
// name, of any pair, in name order; none when ROOT/.barge cannot be opened.
std::vector<MarkerInfo> markers_at(const std::string& root, Role role);
// Removes the marker if present; silent when ROOT or the marker is gone.
void remove_marker(const std::string& root, const std::string& pair_uuid, Role role);

// What an endpoint remembers of a drive (docs/recovery.md), in ROOT/.barge:
// drive-<drive id>.generation, the drive catalog's generation when a run last
// began here, and catalog-<drive id>.db, a copy of the catalog after the last
// successful run here.
std::string seen_generation_path(const std::string& root, const std::string& drive_id);
std::string catalog_backup_path(const std::string& root, const std::string& drive_id);
// The generation recorded at ROOT for the drive, if any (unreadable = none).
std::optional<int64_t> read_seen_generation(const std::string& root, const std::string& drive_id);
void write_seen_generation(const std::string& root, const std::string& drive_id, int64_t generation);

// ROOT/.barge/left-<pair uuid>-<drive id>: the drive removed the pair (`pair
// remove`). The other drives serving the pair count it lost for the pair at
// their next visit of ROOT: what it carried is not waited for (docs/rotation.md).
std::string left_pair_path(const std::string& root, const std::string& pair_uuid,
                           const std::string& drive_id);
// Writes it durably (ROOT/.barge must exist).
void write_left_pair(const std::string& root, const std::string& pair_uuid,
                     const std::string& drive_id);
// The drives whose mark of leaving the pair ROOT holds, in name order.
std::vector<std::string> drives_left_pair(const std::string& root, const std::string& pair_uuid);
// Removes the drive's mark if present; silent when ROOT or the mark is gone.
void remove_left_pair(const std::string& root, const std::string& pair_uuid,
                      const std::string& drive_id);

// True when the directory holds anything besides .barge/ (a --no-source-marker
// source must not be empty: an empty mount point reads as "everything deleted").
bool dir_has_content(const std::string& root);

} // namespace barge
