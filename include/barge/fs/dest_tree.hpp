#pragma once

#include "barge/util/fd.hpp"

#include <string>
#include <string_view>

namespace barge {

// The destination tree, written to only beneath its root (SPEC §7.4): every path
// comes from the (untrusted) catalog, so each is validated, every directory is
// opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), and entries are
// created and renamed relative to those descriptors. A symlink found at the
// destination is never followed.
class DestTree {
public:
    explicit DestTree(const std::string& root);

    const std::string& root() const { return m_root; }
    int fd() const { return m_fd.get(); }
    std::string display(std::string_view rel) const;

    // Throws Error when rel is not a safe relative path ("", absolute, "..", NUL).
    static void check_path(std::string_view rel);
    // Whether check_path accepts rel.
    static bool is_safe(std::string_view rel);
    // The same for a catalog entry's path, its parent and name apart. The name
    // must be one component: barge opens the parent and works on the name
    // within it, where a '/' would walk through whatever stands at the
    // destination (a symlink: a hostile catalog's file placed outside it).
    static void check_path(std::string_view parent, std::string_view name);
    static bool is_safe(std::string_view parent, std::string_view name);
    // Opens directory rel ("" = the root); with Create::yes, missing directories
    // are made one component at a time. Throws SystemError: ELOOP for a symlink
    // in the way above rel's last component, ENOTDIR for a file in the way or a
    // symlink at rel itself.
    enum class Create { yes, no };
    Fd open_dir(std::string_view rel, Create create) const;

private:
    std::string m_root;
    Fd m_fd;
};

} // namespace barge
