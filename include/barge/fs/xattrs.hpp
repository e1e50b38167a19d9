#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace barge {

// Extended attributes (SPEC §6). In the catalog an entry's attributes are one
// blob, sorted by name: for each, the name, a NUL, the value's length (4 bytes,
// little-endian) and the value; "" when it has none. Equal sets encode equally,
// so the catalog compares them as bytes (d_xattrs IS xattrs).
using Xattrs = std::vector<std::pair<std::string, std::string>>;
std::string encode_xattrs(Xattrs attrs);
// Throws CatalogError for a blob encode_xattrs did not write.
Xattrs decode_xattrs(std::string_view blob);

// Which attributes travel: user.* always; as root also security.*, trusted.*
// and the POSIX ACLs (system.posix_acl_access, system.posix_acl_default).
bool carried_xattr(std::string_view name, bool root);

// The carried attributes of path (never following a final symlink), encoded;
// "" when it has none or its file system holds none. Throws SystemError naming
// display_path for any other failure.
std::string read_xattrs(const std::string& path, bool root, std::string_view display_path);

// A path for the *xattr calls (which have no *at form before Linux 6.13) that
// names `name` beneath the open directory dirfd without resolving the
// directory's path again: /proc/self/fd/DIRFD/NAME; `fallback` (the full path)
// where /proc is not mounted.
std::string beneath_fd(int dirfd, const std::string& name, const std::string& fallback);

// What setting a file's attributes at the destination ran into.
struct XattrOutcome {
    int changed = 0;     // attributes set or removed
    int unsupported = 0; // the file system holds none (exFAT, no user_xattr)
    int refused = 0;     // not permitted (trusted.* or security.* without root)
    int rejected = 0;    // too large for the file system (E2BIG, ENOSPC), or a
                         // security.* value its policy does not accept (EINVAL)
};

// Makes the carried attributes of an open file or directory (fd), or of the
// entry at `path` (fd < 0; a symlink is not followed), equal to `blob`: sets
// those that differ, removes carried ones the blob lacks, except
// security.selinux, which the destination's policy owns when the source has no
// label. Failures other than the XattrOutcome counts throw SystemError naming
// display_path; a name barge never carries throws CatalogError.
XattrOutcome apply_xattrs(int fd, const std::string& path, std::string_view blob, bool root,
                          std::string_view display_path);

} // namespace barge
