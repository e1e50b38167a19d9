#include "barge/fs/marker.hpp"

#include "barge/fs/dir.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/time.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge {

namespace {

const char* role_text(Role r) {
    return r == Role::source ? "source" : "dest";
}

std::string marker_text(const MarkerInfo& info) {
    return fmt::format("barge-marker 1\nrole {}\npair {}\nname {}\ndrive {}\ncreated {}\n",
                       role_text(info.role), info.pair_uuid, info.pair_name, info.drive_id,
                       format_utc(now_ns()));
}

// The marker at path, if it is a barge marker with a role and a pair (lines it
// does not know are passed over: a later barge may add some).
std::optional<MarkerInfo> read_marker(const std::string& path) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 4096) {
        return std::nullopt;
    }
    std::string text;
    try {
        text = read_file(path);
    } catch (const SystemError&) {
        return std::nullopt;
    }
    MarkerInfo info;
    bool header = false, role_ok = false;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        if (start == 0) {
            header = line == "barge-marker 1";
        } else if (line.starts_with("role ")) {
            for (Role r : {Role::source, Role::dest}) {
                if (line.substr(5) == role_text(r)) { // the words marker_text writes
                    info.role = r;
                    role_ok = true;
                }
            }
        } else if (line.starts_with("pair ")) {
            info.pair_uuid = line.substr(5);
        } else if (line.starts_with("name ")) {
            info.pair_name = line.substr(5);
        } else if (line.starts_with("drive ")) {
            info.drive_id = line.substr(6);
        }
        if (nl == std::string::npos) {
            break;
        }
        start = nl + 1;
    }
    if (!header || !role_ok || info.pair_uuid.empty()) {
        return std::nullopt;
    }
    return info;
}

} // namespace

std::string barge_dir(const std::string& root) {
    return root == "/" ? "/.barge" : root + "/.barge";
}

std::vector<std::string> barge_dir_names(const std::string& root) {
    std::string dir = barge_dir(root);
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    return fd ? read_dir_names(fd.get(), dir) : std::vector<std::string>{};
}

void remove_endpoint_file(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
        throw_errno("unlink", path);
    }
}

std::string seen_generation_path(const std::string& root, const std::string& drive_id) {
    return barge_dir(root) + "/drive-" + drive_id + ".generation";
}

std::string catalog_backup_path(const std::string& root, const std::string& drive_id) {
    return barge_dir(root) + "/catalog-" + drive_id + ".db";
}

std::optional<int64_t> read_seen_generation(const std::string& root, const std::string& drive_id) {
    std::string path = seen_generation_path(root, drive_id);
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        return std::nullopt;
    }
    char buf[32] = {};
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n <= 0) {
        return std::nullopt;
    }
    char* end = nullptr;
    long long g = std::strtoll(buf, &end, 10);
    if (end == buf || g < 0) {
        return std::nullopt;
    }
    return g;
}

void write_seen_generation(const std::string& root, const std::string& drive_id, int64_t generation) {
    write_file_atomic(seen_generation_path(root, drive_id), std::to_string(generation) + "\n");
}

std::string marker_path(const std::string& root, const std::string& pair_uuid, Role role) {
    return barge_dir(root) + "/" + pair_uuid + "." + role_text(role);
}

void write_marker(const std::string& root, const MarkerInfo& info) {
    ensure_dir(barge_dir(root));
    write_file_atomic(marker_path(root, info.pair_uuid, info.role), marker_text(info));
}

bool has_marker(const std::string& root, const std::string& pair_uuid, Role role) {
    auto info = read_marker(marker_path(root, pair_uuid, role));
    return info && info->pair_uuid == pair_uuid && info->role == role;
}

std::vector<MarkerInfo> markers_at(const std::string& root, Role role) {
    std::vector<MarkerInfo> out;
    std::string dir = barge_dir(root);
    std::string suffix = std::string(".") + role_text(role);
    for (const auto& name : barge_dir_names(root)) {
        if (!name.ends_with(suffix)) {
            continue;
        }
        std::string uuid = name.substr(0, name.size() - suffix.size());
        auto info = read_marker(dir + "/" + name);
        if (info && info->pair_uuid == uuid && info->role == role) {
            out.push_back(std::move(*info));
        }
    }
    return out;
}

void remove_marker(const std::string& root, const std::string& pair_uuid, Role role) {
    remove_endpoint_file(marker_path(root, pair_uuid, role));
}

std::string left_pair_path(const std::string& root, const std::string& pair_uuid,
                           const std::string& drive_id) {
    return fmt::format("{}/left-{}-{}", barge_dir(root), pair_uuid, drive_id);
}

void write_left_pair(const std::string& root, const std::string& pair_uuid,
                     const std::string& drive_id) {
    write_file_atomic(
        left_pair_path(root, pair_uuid, drive_id),
        fmt::format("drive {} left pair {} at {}\n", drive_id, pair_uuid, format_utc(now_ns())));
}

std::vector<std::string> drives_left_pair(const std::string& root, const std::string& pair_uuid) {
    std::vector<std::string> out;
    // A drive id is a UUID (new_uuid): not a leftover of a write killed midway
    // ("...-<id>.tmp-<pid>"), nor a name another program put there.
    auto is_uuid = [](std::string_view id) {
        if (id.size() != 36) {
            return false;
        }
        for (size_t i = 0; i < id.size(); ++i) {
            bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash ? id[i] != '-' : std::isxdigit(static_cast<unsigned char>(id[i])) == 0) {
                return false;
            }
        }
        return true;
    };
    std::string prefix = "left-" + pair_uuid + "-";
    for (const auto& name : barge_dir_names(root)) {
        if (name.starts_with(prefix) && is_uuid(std::string_view(name).substr(prefix.size()))) {
            out.push_back(name.substr(prefix.size()));
        }
    }
    return out;
}

void remove_left_pair(const std::string& root, const std::string& pair_uuid,
                      const std::string& drive_id) {
    remove_endpoint_file(left_pair_path(root, pair_uuid, drive_id));
}

bool dir_has_content(const std::string& root) {
    DIR* d = ::opendir(root.c_str());
    if (!d) {
        return false;
    }
    bool found = false;
    while (dirent* e = ::readdir(d)) {
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0 &&
            std::strcmp(e->d_name, ".barge") != 0) {
            found = true;
            break;
        }
    }
    ::closedir(d);
    return found;
}

} // namespace barge
