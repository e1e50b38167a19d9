#include "barge/fs/xattrs.hpp"

#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace barge {

namespace {

bool not_supported(int err) {
    return err == ENOTSUP || err == EOPNOTSUPP;
}

// An attribute's target: an open file (fd), else the symlink `path`.
struct Target {
    int fd = -1;
    std::string path;

    ssize_t list(char* buf, size_t n) const {
        return fd >= 0 ? ::flistxattr(fd, buf, n) : ::llistxattr(path.c_str(), buf, n);
    }
    ssize_t get(const char* name, void* buf, size_t n) const {
        return fd >= 0 ? ::fgetxattr(fd, name, buf, n) : ::lgetxattr(path.c_str(), name, buf, n);
    }
    int set(const char* name, const std::string& v) const {
        return fd >= 0 ? ::fsetxattr(fd, name, v.data(), v.size(), 0)
                       : ::lsetxattr(path.c_str(), name, v.data(), v.size(), 0);
    }
    int remove(const char* name) const {
        return fd >= 0 ? ::fremovexattr(fd, name) : ::lremovexattr(path.c_str(), name);
    }
};

// The names listed, or none with errno set (0 when the file system holds none).
std::optional<std::vector<std::string>> list_names(const Target& t) {
    std::string buf(256, '\0');
    for (;;) {
        ssize_t n = t.list(buf.data(), buf.size());
        if (n >= 0) {
            buf.resize(static_cast<size_t>(n));
            break;
        }
        if (errno == ERANGE) {
            ssize_t need = t.list(nullptr, 0);
            if (need < 0) {
                return std::nullopt;
            }
            buf.assign(static_cast<size_t>(need) + 256, '\0');
            continue;
        }
        if (not_supported(errno)) {
            errno = 0;
            return std::vector<std::string>{};
        }
        return std::nullopt;
    }
    std::vector<std::string> names;
    for (size_t at = 0; at < buf.size();) {
        size_t end = buf.find('\0', at);
        if (end == std::string::npos) {
            end = buf.size();
        }
        if (end > at) {
            names.emplace_back(buf.substr(at, end - at));
        }
        at = end + 1;
    }
    return names;
}

// A value, or none with errno set (ENODATA: removed since it was listed).
std::optional<std::string> get_value(const Target& t, const std::string& name) {
    std::string v(256, '\0');
    for (;;) {
        ssize_t n = t.get(name.c_str(), v.data(), v.size());
        if (n >= 0) {
            v.resize(static_cast<size_t>(n));
            return v;
        }
        if (errno != ERANGE) {
            return std::nullopt;
        }
        ssize_t need = t.get(name.c_str(), nullptr, 0);
        if (need < 0) {
            return std::nullopt;
        }
        v.assign(static_cast<size_t>(need) + 256, '\0');
    }
}

// The carried attributes of t (errno-checked), throwing for a failure.
Xattrs read_carried(const Target& t, bool root, std::string_view display_path) {
    auto names = list_names(t);
    if (!names) {
        throw_errno("list extended attributes of", display_path);
    }
    Xattrs out;
    for (const auto& name : *names) {
        if (!carried_xattr(name, root)) {
            continue;
        }
        auto value = get_value(t, name);
        if (!value) {
            if (errno == ENODATA) {
                continue;
            }
            throw_errno(fmt::format("read extended attribute '{}' of", escape_bytes(name)),
                        display_path);
        }
        out.emplace_back(name, std::move(*value));
    }
    return out;
}

void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
}

} // namespace

bool carried_xattr(std::string_view name, bool root) {
    if (starts_with(name, "user.")) {
        return true;
    }
    return root && (starts_with(name, "security.") || starts_with(name, "trusted.") ||
                    name == "system.posix_acl_access" || name == "system.posix_acl_default");
}

std::string encode_xattrs(Xattrs attrs) {
    std::sort(attrs.begin(), attrs.end());
    std::string out;
    for (const auto& [name, value] : attrs) {
        out += name;
        out.push_back('\0');
        put_u32(out, static_cast<uint32_t>(value.size()));
        out += value;
    }
    return out;
}

Xattrs decode_xattrs(std::string_view blob) {
    Xattrs out;
    size_t at = 0;
    while (at < blob.size()) {
        size_t nul = blob.find('\0', at);
        if (nul == std::string_view::npos || nul == at || nul + 5 > blob.size()) {
            throw CatalogError("the catalog holds malformed extended attributes");
        }
        uint32_t len = 0;
        for (int i = 0; i < 4; ++i) {
            len |= static_cast<uint32_t>(static_cast<unsigned char>(blob[nul + 1 + static_cast<size_t>(i)]))
                   << (8 * i);
        }
        size_t value_at = nul + 5;
        if (len > blob.size() - value_at) {
            throw CatalogError("the catalog holds malformed extended attributes");
        }
        out.emplace_back(std::string(blob.substr(at, nul - at)),
                         std::string(blob.substr(value_at, len)));
        at = value_at + len;
    }
    return out;
}

std::string beneath_fd(int dirfd, const std::string& name, const std::string& fallback) {
    static const bool proc = ::access("/proc/self/fd", X_OK) == 0;
    return proc ? fmt::format("/proc/self/fd/{}/{}", dirfd, name) : fallback;
}

std::string read_xattrs(const std::string& path, bool root, std::string_view display_path) {
    return encode_xattrs(read_carried(Target{-1, path}, root, display_path));
}

XattrOutcome apply_xattrs(int fd, const std::string& path, std::string_view blob, bool root,
                          std::string_view display_path) {
    Target t{fd, path};
    Xattrs want = decode_xattrs(blob);
    XattrOutcome out;
    auto names = list_names(t);
    if (!names) {
        throw_errno("list extended attributes of", display_path);
    }
    // Count a refusal the caller reports once, or throw.
    auto failed = [&](const char* what, const std::string& attr) {
        if (not_supported(errno)) {
            ++out.unsupported;
        } else if (errno == EPERM || errno == EACCES) {
            ++out.refused;
        } else if (errno == E2BIG || errno == ENOSPC ||
                   (errno == EINVAL && attr.starts_with("security."))) {
            ++out.rejected;
        } else {
            throw_errno(fmt::format("{} extended attribute '{}' of", what, escape_bytes(attr)),
                        display_path);
        }
    };
    for (const auto& have : *names) {
        if (!carried_xattr(have, root) || have == "security.selinux") {
            continue;
        }
        bool wanted = std::any_of(want.begin(), want.end(),
                                  [&](const auto& w) { return w.first == have; });
        if (wanted) {
            continue;
        }
        if (t.remove(have.c_str()) == 0) {
            ++out.changed;
        } else if (errno != ENODATA) {
            failed("remove", have);
        }
    }
    for (const auto& [attr, value] : want) {
        if (!carried_xattr(attr, true)) {
            throw CatalogError(fmt::format("the catalog asks for extended attribute '{}' of '{}', "
                                           "which barge never carries",
                                           escape_bytes(attr), display_path));
        }
        if (std::find(names->begin(), names->end(), attr) != names->end()) {
            auto current = get_value(t, attr);
            if (current && *current == value) {
                continue;
            }
        }
        if (t.set(attr.c_str(), value) != 0) {
            failed("set", attr);
        } else {
            ++out.changed;
        }
    }
    return out;
}

} // namespace barge
