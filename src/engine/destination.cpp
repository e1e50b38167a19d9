#include "barge/engine/destination.hpp"

#include "barge/fs/dir.hpp"
#include "barge/fs/marker.hpp"
#include "barge/fs/path.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge {

namespace {

// Removes a tree barge owns (trash or versions past retention) without following
// symlinks: each level is opened beneath its parent with O_NOFOLLOW.
void remove_tree(int parent_fd, const std::string& name, const std::string& display) {
    Fd dir = open_beneath(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (dir) {
        for (const auto& child : read_dir_names(dir.get(), display)) {
            if (::unlinkat(dir.get(), child.c_str(), 0) != 0) {
                remove_tree(dir.get(), child, display + "/" + child);
            }
        }
    }
    if (::unlinkat(parent_fd, name.c_str(), dir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT) {
        throw_errno("remove", display);
    }
}

// "2026-11-22T025507.123456789Z" back to seconds since the epoch; -1 if malformed.
int64_t parse_stamp(const std::string& s) {
    tm t{};
    int ns = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d%2d%2d.%9dZ", &t.tm_year, &t.tm_mon, &t.tm_mday,
                    &t.tm_hour, &t.tm_min, &t.tm_sec, &ns) != 7) {
        return -1;
    }
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    return static_cast<int64_t>(timegm(&t));
}

} // namespace

DestState dest_state(const Pair& pair) {
    if (has_marker(pair.dest, pair.uuid, Role::dest)) {
        return DestState::visible;
    }
    struct stat st{};
    if (!pair.dest_claimed_ns && ::stat(parent_path(pair.dest).c_str(), &st) == 0 &&
        S_ISDIR(st.st_mode)) {
        return DestState::claimable;
    }
    return DestState::not_visible;
}

Refusal dest_marker_missing(const Pair& pair) {
    return Refusal(fmt::format("destination '{}' of pair '{}' lacks its marker '{}': refusing to "
                               "write there (is its disk mounted?)",
                               escape_bytes(pair.dest), pair.name,
                               escape_bytes(marker_path(pair.dest, pair.uuid, Role::dest))));
}

void claim_destination(Catalog& catalog, const Pair& pair) {
    std::string parent = parent_path(pair.dest);
    struct stat st{};
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw Refusal(fmt::format("cannot claim destination '{}' of pair '{}': its parent '{}' "
                                  "does not exist (a missing parent usually means a disk that is "
                                  "not mounted)",
                                  escape_bytes(pair.dest), pair.name, escape_bytes(parent)));
    }
    if (::mkdir(pair.dest.c_str(), 0755) != 0 && errno != EEXIST) {
        throw_errno("mkdir", pair.dest);
    }
    write_marker(pair.dest, {pair.uuid, pair.name, catalog.drive_id(), Role::dest});
    catalog.set_dest_claimed(pair.id, now_ns());
}

int64_t prune_expired(const DestTree& tree, int retention_days) {
    int64_t now = now_ns() / 1'000'000'000;
    int64_t pruned = 0;
    for (const char* area : {"trash", "versions"}) {
        std::string rel_area = std::string(".barge/") + area;
        Fd dir = open_beneath(tree.fd(), rel_area, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!dir) {
            continue;
        }
        for (const auto& name : read_dir_names(dir.get(), tree.display(rel_area))) {
            int64_t t = parse_stamp(name);
            if (t >= 0 && now - t > int64_t{retention_days} * 86400) {
                remove_tree(dir.get(), name, tree.display(rel_area + "/" + name));
                ++pruned;
            }
        }
    }
    return pruned;
}

} // namespace barge
