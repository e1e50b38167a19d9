#include "barge/fs/dest_tree.hpp"

#include "barge/fs/dir.hpp"
#include "barge/util/path.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

namespace barge {

DestTree::DestTree(const std::string& root) : m_root(root) {
    m_fd = open_or_throw(root, O_RDONLY | O_DIRECTORY);
}

std::string DestTree::display(std::string_view rel) const {
    return rel.empty() ? m_root : join_path(m_root, rel);
}

namespace {

// A scan never enters a directory named .barge (SPEC §3), so no catalog path
// holds one: such a path would reach barge's own trash, versions or staging.
bool names_barge_dir(std::string_view rel) {
    return rel == ".barge" || rel.starts_with(".barge/") || rel.ends_with("/.barge") ||
           rel.find("/.barge/") != std::string_view::npos;
}

} // namespace

bool DestTree::is_safe(std::string_view rel) {
    return is_safe_relative_path(rel) && !names_barge_dir(rel);
}

void DestTree::check_path(std::string_view rel) {
    if (!is_safe(rel)) {
        throw Error(fmt::format("refusing the catalog path '{}': not a safe relative path "
                                "(absolute, '..', '.', empty component, NUL, or a .barge "
                                "directory); the catalog may be damaged or tampered with",
                                escape_bytes(rel)));
    }
}

namespace {

std::string joined(std::string_view parent, std::string_view name) {
    return parent.empty() ? std::string(name) : fmt::format("{}/{}", parent, name);
}

} // namespace

bool DestTree::is_safe(std::string_view parent, std::string_view name) {
    return name.find('/') == std::string_view::npos && is_safe(joined(parent, name));
}

void DestTree::check_path(std::string_view parent, std::string_view name) {
    if (name.find('/') != std::string_view::npos) {
        throw Error(fmt::format("refusing the catalog path '{}': its name '{}' holds a '/'; the "
                                "catalog may be damaged or tampered with",
                                escape_bytes(joined(parent, name)), escape_bytes(name)));
    }
    check_path(joined(parent, name));
}

Fd DestTree::open_dir(std::string_view rel, Create create) const {
    if (rel.empty()) {
        return open_beneath_or_throw(m_fd.get(), "", O_RDONLY | O_DIRECTORY, m_root);
    }
    // Not check_path: barge opens its own .barge/ directories through here too
    // (catalog paths were checked by check_path before they got here).
    if (!is_safe_relative_path(rel)) {
        check_path(rel); // throws, naming the reason
    }
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
    Fd fd = open_beneath(m_fd.get(), rel, flags);
    if (fd || create == Create::no || errno != ENOENT) {
        if (!fd) {
            int err = errno;
            throw SystemError(err, err == ELOOP ? "open directory (a symlink is in the way)"
                                                : "open directory",
                              display(rel));
        }
        return fd;
    }
    // Create the missing components one at a time, each relative to its verified parent.
    Fd cur = open_beneath_or_throw(m_fd.get(), "", O_RDONLY | O_DIRECTORY, m_root);
    size_t start = 0;
    while (start <= rel.size()) {
        size_t slash = rel.find('/', start);
        std::string part(rel.substr(start, slash == std::string_view::npos ? std::string_view::npos
                                                                          : slash - start));
        std::string so_far(rel.substr(0, slash == std::string_view::npos ? rel.size() : slash));
        if (::mkdirat(cur.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
            throw_errno("mkdir", display(so_far));
        }
        Fd next = open_beneath(cur.get(), part, flags);
        if (!next) {
            int err = errno;
            throw SystemError(err, err == ELOOP ? "open directory (a symlink is in the way)"
                                                : "open directory",
                              display(so_far));
        }
        cur = std::move(next);
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    return cur;
}

} // namespace barge
