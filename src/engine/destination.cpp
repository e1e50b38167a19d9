#include "barge/engine/destination.hpp"

#include "barge/fs/dir.hpp"
#include "barge/fs/durable.hpp"
#include "barge/fs/marker.hpp"
#include "barge/fs/xattrs.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/util/path.hpp"
#include "barge/util/system.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <utility>

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

void check_claimable(const Pair& pair) {
    std::string parent = parent_path(pair.dest);
    struct stat st{};
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw Refusal(fmt::format("cannot claim destination '{}' of pair '{}': its parent '{}' "
                                  "does not exist (a missing parent usually means a disk that is "
                                  "not mounted)",
                                  escape_bytes(pair.dest), pair.name, escape_bytes(parent)));
    }
    // Two pairs delivering into one tree undo each other's deliveries: nothing
    // orders the one's versions against the other's (an older one went over a
    // newer, exit 0), and the one's deletions reach the other's files. A second
    // drive joins the pair instead (SPEC §9); a drive's own pairs cannot share
    // one (pair add). DEST and each directory above it are looked at (a tree
    // inside another pair's); one inside DEST is not (a walk of the whole tree).
    // A destination both pairs claimed already keeps working.
    for (std::string root = pair.dest;; root = parent_path(root)) {
        for (const auto& m : markers_at(root, Role::dest)) {
            if (m.pair_uuid == pair.uuid) {
                continue;
            }
            throw Refusal(fmt::format(
                "cannot claim destination '{}' of pair '{}': {} the destination of pair '{}' "
                "({}, of drive {}) already, and two pairs delivering into one tree undo each "
                "other's deliveries. Give this pair a destination of its own ('barge pair "
                "remove {}', then 'pair add' with another), or join that pair ('barge pair add' "
                "where its source marker is, without --separate; a pair without one cannot be "
                "joined); if no drive serves it any more, remove its marker '{}' first",
                escape_bytes(pair.dest), pair.name,
                root == pair.dest ? std::string("it is")
                                  : fmt::format("it is inside '{}',", escape_bytes(root)),
                m.pair_name, m.pair_uuid, m.drive_id, pair.name,
                escape_bytes(marker_path(root, m.pair_uuid, Role::dest))));
        }
        if (root == "/" || root.empty()) {
            break;
        }
    }
}

void claim_destination(Catalog& catalog, const Pair& pair) {
    check_claimable(pair);
    if (::mkdir(pair.dest.c_str(), 0755) != 0 && errno != EEXIST) {
        throw_errno("mkdir", pair.dest);
    }
    write_marker(pair.dest, {pair.uuid, pair.name, catalog.drive_id(), Role::dest});
    catalog.set_dest_claimed(pair.id, now_ns());
}

int64_t prune_expired(const DestTree& tree, int retention_days, std::string_view run_stamp) {
    int64_t now = now_ns() / 1'000'000'000;
    int64_t pruned = 0;
    for (const char* area : {"trash", "versions"}) {
        std::string rel_area = std::string(".barge/") + area;
        Fd dir = open_beneath(tree.fd(), rel_area, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!dir) {
            continue;
        }
        for (const auto& name : read_dir_names(dir.get(), tree.display(rel_area))) {
            if (!run_stamp.empty() &&
                (name == run_stamp || name.starts_with(std::string(run_stamp) + "-"))) {
                continue;
            }
            int64_t t = parse_stamp(name);
            if (t >= 0 && now - t > int64_t{retention_days} * 86400) {
                remove_tree(dir.get(), name, tree.display(rel_area + "/" + name));
                ++pruned;
            }
        }
    }
    return pruned;
}

namespace {
Medium open_staging(const DestTree& tree) {
    std::string rel = ".barge/staging";
    return Medium(tree.open_dir(rel, DestTree::Create::yes), tree.display(rel), OnFailure::fail_file);
}
} // namespace

Destination::Destination(const Pair& pair)
    : m_tree(pair.dest), m_staging(open_staging(m_tree)),
      m_stamp(utc_stamp(now_ns())), m_root(::geteuid() == 0) {
    tidy_staging();
}

void Destination::apply_metadata(int fd, const FileStat& st, const std::string& where) {
    if (m_root && ::fchown(fd, st.uid, st.gid) != 0) {
        throw_errno("chown", where);
    }
    // After chown, which clears security.capability, and before chmod, which
    // sets an ACL's mask from the group bits (the source's mask equals them).
    apply_xattrs(fd, "", st, where);
    if (::fchmod(fd, st.mode & 07777) != 0) {
        throw_errno("chmod", where);
    }
    timespec times[2] = {{0, UTIME_OMIT}, to_timespec(st.mtime_ns)};
    if (::futimens(fd, times) != 0) {
        throw_errno("set mtime", where);
    }
}

void Destination::write_into(int dirfd, const std::string& rel) {
    constexpr mode_t needed = S_IWUSR | S_IXUSR;
    struct stat st{};
    if (m_root || rel.empty() || ::fstat(dirfd, &st) != 0 || st.st_uid != ::geteuid() ||
        (st.st_mode & needed) == needed) {
        // (Never the root, whose mode the run does not set; a failed fstat: the
        // write itself says what is wrong.)
        return;
    }
    {
        std::lock_guard lock(m_mutex);
        m_touched.insert(rel); // before the chmod: its mode is set back at the end
    }
    if (::fchmod(dirfd, (st.st_mode & 07777) | needed) != 0) {
        throw_errno("chmod u+wx (to write into a read-only directory)", display(rel));
    }
}

Fd Destination::dir_to_write(const std::string& rel) {
    Fd dir = m_tree.open_dir(rel, DestTree::Create::yes);
    write_into(dir.get(), rel);
    return dir;
}

bool Destination::apply_xattrs(int fd, const std::string& name, const FileStat& st,
                               const std::string& where) {
    std::string path = fd >= 0 ? std::string()
                               : beneath_fd(m_staging.dirfd(), name, m_staging.display(name));
    // Not root, reading and writing user.* attributes takes the owner's read and
    // write permission: a read-only file or directory of ours gets them for the
    // moment (one of another user's is left alone: its refusals are counted).
    struct stat now{};
    bool widen = !m_root && fd >= 0 && ::fstat(fd, &now) == 0 && now.st_uid == ::geteuid() &&
                 (now.st_mode & (S_IRUSR | S_IWUSR)) != (S_IRUSR | S_IWUSR);
    if (widen && ::fchmod(fd, (now.st_mode & 07777) | S_IRUSR | S_IWUSR) != 0) {
        throw_errno("chmod", where);
    }
    XattrOutcome out;
    try {
        out = barge::apply_xattrs(fd, path, st.xattrs, m_root, where);
    } catch (...) {
        if (widen) {
            ::fchmod(fd, now.st_mode & 07777); // as it was; the error is what is reported
        }
        throw;
    }
    if (widen && ::fchmod(fd, now.st_mode & 07777) != 0) {
        throw_errno("chmod", where);
    }
    m_xattrs_unsupported += out.unsupported > 0 ? 1 : 0;
    m_xattrs_refused += out.refused;
    m_xattrs_rejected += out.rejected;
    return out.changed > 0;
}

namespace {

// name with the case of its ASCII letters swapped ("Foo.jpg" -> "fOO.JPG"), or
// nothing when that says nothing of how a directory finds it: no letter, a byte
// outside ASCII (a normalizing file system may fold it), a trailing dot or
// space (which Windows-minded file systems drop), or a ':', '\\' or '~' (a
// stream, a separator, a DOS short name there).
std::optional<std::string> case_swapped(const std::string& name) {
    if (name.empty() || name.back() == '.' || name.back() == ' ') {
        return std::nullopt;
    }
    std::string out = name;
    bool letter = false;
    for (char& c : out) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x80 || c == ':' || c == '\\' || c == '~') {
            return std::nullopt;
        }
        if (u >= 'a' && u <= 'z') {
            c = static_cast<char>(u - 'a' + 'A');
            letter = true;
        } else if (u >= 'A' && u <= 'Z') {
            c = static_cast<char>(u - 'A' + 'a');
            letter = true;
        }
    }
    return letter ? std::optional<std::string>(std::move(out)) : std::nullopt;
}

// Whether dirfd's file system looks a name up by its bytes, but where a
// directory folds case (ext4, F2FS and tmpfs casefold, XFS ascii-ci: the
// case-swapped twin is found there too): ext2/3/4, XFS, Btrfs, tmpfs, F2FS.
// Not FUSE (exFAT, NTFS with its DOS short names), ZFS or Ceph (Unicode
// normalization: U+212A, the Kelvin sign, answers for "K"), NFS, SMB,
// overlays: there the directory is listed.
bool looks_up_bytes(int dirfd) {
    struct statfs sf{};
    if (::fstatfs(dirfd, &sf) != 0) {
        return false;
    }
    switch (static_cast<uint32_t>(sf.f_type)) {
    case 0xEF53U:     // ext2, ext3, ext4
    case 0x58465342U: // XFS
    case 0x9123683EU: // Btrfs
    case 0x01021994U: // tmpfs
    case 0xF2F52010U: // F2FS
        return true;
    default:
        return false;
    }
}

// Whether two names differ, and only in the case of ASCII letters.
bool differ_in_case_only(const std::string& a, const std::string& b) {
    if (a == b || a.size() != b.size()) {
        return false;
    }
    auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; };
    for (size_t i = 0; i < a.size(); ++i) {
        auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x != y && (x >= 0x80 || y >= 0x80 || lower(x) != lower(y))) {
            return false;
        }
    }
    return true;
}

// exact_name_present without a listing: true when the lookups alone show it.
bool exact_name_looked_up(int parent_fd, const EntryPath& e) {
    // Asked only when something answers to the name. On a file system that
    // looks names up by their bytes, only case folding (a casefold directory)
    // could make another name answer to an ASCII one: the name found and its
    // case-swapped twin not found is the answer, with no listing. A directory
    // of 100,000 names redelivered whole (its delivered times forgotten)
    // listed itself once per name before. Elsewhere (exFAT, NTFS, ZFS, a
    // casefold directory, a twin that exists, a name with no letter) the
    // listing says.
    auto twin = case_swapped(e.name);
    struct stat st {};
    return twin && looks_up_bytes(parent_fd) &&
           ::fstatat(parent_fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           ::fstatat(parent_fd, twin->c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT;
}

} // namespace

bool exact_name_present(const DestTree& tree, int parent_fd, const EntryPath& e) {
    if (exact_name_looked_up(parent_fd, e)) {
        return true;
    }
    ::lseek(parent_fd, 0, SEEK_SET);
    auto names = read_dir_names(parent_fd, tree.display(e.parent));
    return std::find(names.begin(), names.end(), e.name) != names.end();
}

bool Destination::exact_name_to_delete(int parent_fd, const EntryPath& e) {
    if (exact_name_looked_up(parent_fd, e)) {
        return true;
    }
    // The deletions come grouped by directory: the last listing is kept for
    // the next name, so that N deletions from one directory where names must
    // be listed (exFAT) list it once, not N times. Names it lists that are
    // moved away meanwhile are never asked for again (each is deleted once).
    std::lock_guard lock(m_mutex);
    if (!m_listed || m_listed->first != e.parent) {
        ::lseek(parent_fd, 0, SEEK_SET);
        auto names = read_dir_names(parent_fd, m_tree.display(e.parent));
        std::sort(names.begin(), names.end());
        m_listed.emplace(e.parent, std::move(names));
    }
    return std::binary_search(m_listed->second.begin(), m_listed->second.end(), e.name);
}

Destination::Aside Destination::aside_dir(const char* area, const EntryPath& e) {
    // DEST/.barge/<area>/<stamp>/<path>. A path this run already set aside
    // there (the old file of a file that became a directory, then a file under
    // that directory; a name set aside twice) goes under <stamp>-2, -3, ...:
    // nothing set aside replaces or blocks another (rotation_faults.sh 23;
    // random_rotation_partial.sh with three drives, seed 25). The suffix keeps
    // the folder's time for prune_expired.
    constexpr int most = 100;
    for (int n = 1; n <= most; ++n) {
        std::string folder =
            fmt::format(".barge/{}/{}{}", area, m_stamp, n > 1 ? fmt::format("-{}", n) : "");
        std::string dir = e.parent.empty() ? folder : folder + "/" + e.parent;
        Fd fd;
        try {
            fd = m_tree.open_dir(dir, DestTree::Create::yes);
        } catch (const SystemError& err) {
            if ((err.err() != ENOTDIR && err.err() != ELOOP) || dir == folder) {
                throw;
            }
            // A file or symlink set aside stands where this needs a directory:
            // the next folder. Not when the folder itself is in the way (a
            // symlink planted at .barge/versions): this throws, naming it
            // (hostile_paths.sh).
            m_tree.open_dir(folder, DestTree::Create::no);
            continue;
        }
        struct stat st{};
        if (::fstatat(fd.get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            continue; // set aside already
        }
        if (errno != ENOENT) {
            throw_errno("stat", m_tree.display(dir + "/" + e.name));
        }
        return {std::move(fd), std::move(dir)};
    }
    throw Error(fmt::format("'{}' was set aside {} times in this run: not again", display(e.rel()), most));
}

std::optional<std::pair<dev_t, ino_t>> Destination::move_aside(int parent_fd, const EntryPath& e,
                                                               const char* area, bool keep_link) {
    // A regular file replaced by a new version is hard-linked there first, so
    // the final name never goes missing; elsewhere (exFAT, symlinks,
    // directories) it is renamed.
    if (keep_link) {
        Fd dir = aside_dir(area, e).fd;
        if (::linkat(parent_fd, e.name.c_str(), dir.get(), e.name.c_str(), 0) == 0) {
            // Synced by the next barrier on FUSE too (elsewhere syncfs covers
            // it), as for every rename at the destination.
            m_staging.renamed_into(dir.get());
            struct stat st{};
            if (::fstatat(dir.get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                throw_errno("stat", display(e.rel()) + " (its version just kept)");
            }
            return std::pair{st.st_dev, st.st_ino};
        }
    }
    rename_aside(parent_fd, e.name, e, area);
    return std::nullopt;
}

Destination::Aside Destination::rename_aside(int dir, const std::string& name, const EntryPath& e,
                                             const char* area) {
    Aside aside = aside_dir(area, e);
    if (::renameat(dir, name.c_str(), aside.fd.get(), e.name.c_str()) != 0) {
        throw_errno("move aside", display(e.rel()));
    }
    m_staging.renamed_into(aside.fd.get());
    m_staging.renamed_into(dir);
    return aside;
}

bool Destination::already_there(const DeliveryItem& d, const Digest& hash, HashPipeline& pipe,
                                const std::function<bool(uint64_t, uint64_t)>& shared) {
    Fd parent = m_tree.open_dir(d.parent, DestTree::Create::yes);
    struct stat st{};
    if (::fstatat(parent.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || st.st_size != d.st.size || !exact_name_present(parent.get(), d)) {
        return false;
    }
    Fd fd = open_beneath(parent.get(), d.name, O_RDONLY | O_NOFOLLOW);
    if (!fd) {
        return false;
    }
    struct stat file{};
    if (::fstat(fd.get(), &file) != 0 ||
        (file.st_nlink > 1 &&
         shared(static_cast<uint64_t>(file.st_dev), static_cast<uint64_t>(file.st_ino)))) {
        return false; // its metadata would be set on another file's names too
    }
    uint64_t n = 0;
    if (hash_fd(fd.get(), pipe, n, display(d.rel())) != hash) {
        return false;
    }
    // The descriptor read: metadata calls need ownership, not write access (a
    // read-only file's owner may set them).
    apply_metadata(fd.get(), d.st, display(d.rel()));
    full_sync(fd.get(), display(d.rel()));
    return true;
}

bool Destination::is_file_at(const EntryPath& at, uint64_t dev, uint64_t ino) const {
    DestTree::check_path(at.parent, at.name);
    Fd parent = open_beneath(m_tree.fd(), at.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    return parent && is_file_in(parent.get(), at, dev, ino);
}

bool Destination::is_file_in(int parent_fd, const EntryPath& e, uint64_t dev, uint64_t ino) const {
    struct stat st{};
    return ::fstatat(parent_fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino &&
           exact_name_present(parent_fd, e);
}

void Destination::place(TempFile& file, const EntryPath& e) {
    Fd parent = dir_to_write(e.parent);
    {
        std::lock_guard lock(m_mutex);
        m_touched.insert(e.parent);
    }
    rename_over(file.dirfd(), file.name(), parent.get(), e, display(e.rel()),
                [&] { file.renamed(parent.get()); });
}

void Destination::place_version(TempFile& file, const EntryPath& e) {
    Aside aside = aside_dir("versions", e);
    file.commit(aside.fd.get(), e.name, display(aside.rel + "/" + e.name));
    ++m_versions;
}

Fd Destination::parent_of(const EntryPath& at, bool dir) const {
    DestTree::check_path(at.parent, at.name);
    Fd parent = open_beneath(m_tree.fd(), at.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    struct stat st{};
    if (!parent || ::fstatat(parent.get(), at.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) || !exact_name_present(parent.get(), at)) {
        return Fd();
    }
    return parent;
}

void Destination::renamed_in(int dirfd, const std::string& rel) {
    m_staging.renamed_into(dirfd);
    std::lock_guard lock(m_mutex);
    m_touched.insert(rel);
}

Destination::FromCopy Destination::check_copy(const EntryPath& at, const DeliveryItem& d,
                                              const Digest& hash, HashPipeline& pipe, Fd& dir,
                                              Fd& fd, FileStat& st, bool alone) {
    dir = parent_of(at, false);
    if (!dir) {
        return FromCopy::missing;
    }
    fd = open_beneath(dir.get(), at.name, O_RDONLY | O_NOFOLLOW);
    if (!fd) {
        return FromCopy::missing;
    }
    struct stat links{};
    if (alone && ::fstat(fd.get(), &links) == 0 && links.st_nlink > 1) {
        return FromCopy::shared;
    }
    st = stat_fd(fd.get(), display(at.rel()));
    uint64_t n = 0;
    if (st.kind != Kind::file || st.size != d.st.size ||
        hash_fd(fd.get(), pipe, n, display(at.rel())) != hash || static_cast<int64_t>(n) != d.st.size) {
        return FromCopy::damaged;
    }
    // A rename or a link keeps the inode's mode, owner and mtime: set only when
    // the source changed them too.
    if (st.mode != (d.st.mode & 07777) || st.mtime_ns != d.st.mtime_ns ||
        (m_root && (st.uid != d.st.uid || st.gid != d.st.gid))) {
        apply_metadata(fd.get(), d.st, display(at.rel()));
        full_sync(fd.get(), display(at.rel()));
    } else if (apply_xattrs(fd.get(), "", d.st, display(at.rel()))) {
        full_sync(fd.get(), display(at.rel()));
    }
    return FromCopy::done;
}

Destination::FromCopy Destination::move_into_place(const EntryPath& from, const DeliveryItem& d,
                                                   const Digest& hash, HashPipeline& pipe, bool alone) {
    Fd from_parent, fd;
    FileStat st;
    if (auto how = check_copy(from, d, hash, pipe, from_parent, fd, st, alone); how != FromCopy::done) {
        return how;
    }
    Fd parent = dir_to_write(d.parent);
    if (respell(from_parent.get(), from, parent.get(), d)) {
        return FromCopy::done;
    }
    if (is_file_in(parent.get(), d, st.dev, st.ino)) {
        // d's name is already a link to it (a group broken at the source, d's
        // file to be its own): a rename would do nothing, and the old name stay.
        return FromCopy::shared;
    }
    write_into(from_parent.get(), from.parent);
    rename_over(from_parent.get(), from.name, parent.get(), d,
                fmt::format("{} -> {}", display(from.rel()), display(d.rel())), [] {});
    renamed_in(from_parent.get(), from.parent);
    renamed_in(parent.get(), d.parent);
    return FromCopy::done;
}

Destination::FromCopy Destination::link_into_place(const EntryPath& leader, const DeliveryItem& d,
                                                   const Digest& hash, HashPipeline& pipe) {
    Fd leader_parent, fd;
    FileStat file;
    if (auto how = check_copy(leader, d, hash, pipe, leader_parent, fd, file, false);
        how != FromCopy::done) {
        return how;
    }
    Fd parent = dir_to_write(d.parent);
    if (is_file_in(parent.get(), d, file.dev, file.ino)) {
        return FromCopy::done; // linked already (by an interrupted run)
    }
    // A link cannot replace a name: it is made under a free name in staging,
    // checked to be the file just hashed, then renamed over d's path.
    std::string tmp = "tmp-link-" + random_hex(8);
    if (::linkat(leader_parent.get(), leader.name.c_str(), m_staging.dirfd(), tmp.c_str(), 0) != 0) {
        if (refuses_hard_links(errno)) {
            return FromCopy::unsupported;
        }
        throw_errno("link", fmt::format("{} -> {}", display(leader.rel()), display(d.rel())));
    }
    struct stat made{};
    if (::fstatat(m_staging.dirfd(), tmp.c_str(), &made, AT_SYMLINK_NOFOLLOW) != 0 ||
        made.st_ino != file.ino || made.st_dev != file.dev) {
        ::unlinkat(m_staging.dirfd(), tmp.c_str(), 0); // a name in staging, not user data
        return FromCopy::damaged; // replaced between the hash and the link
    }
    bool moved = false;
    try {
        rename_over(m_staging.dirfd(), tmp, parent.get(), d, display(d.rel()),
                    [&] { moved = true; });
    } catch (...) {
        if (!moved) { // else d's name holds it (and tmp is gone)
            ::unlinkat(m_staging.dirfd(), tmp.c_str(), 0);
        }
        throw;
    }
    renamed_in(parent.get(), d.parent);
    return FromCopy::done;
}

bool Destination::respell(int from_parent, const EntryPath& from, int parent, const EntryPath& to) {
    // Where the new spelling answers but does not stand, and the old one does,
    // what answers is the old one: two spellings that fold alike cannot both
    // stand in a case-insensitive directory. (Its inode cannot tell: exfat-fuse
    // numbers the two spellings apart.) It was refused as another entry, at
    // every unload, until renamed by hand.
    struct stat st {};
    if (from.parent != to.parent || !differ_in_case_only(from.name, to.name) ||
        ::fstatat(parent, to.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        exact_name_present(parent, to) || !exact_name_present(from_parent, from)) {
        return false;
    }
    std::string what = fmt::format("{} -> {}", display(from.rel()), display(to.rel()));
    write_into(from_parent, from.parent);
    if (::renameat(from_parent, from.name.c_str(), parent, to.name.c_str()) != 0) {
        throw_errno("rename", what);
    }
    if (!exact_name_present(parent, to)) {
        throw SystemError(EEXIST, "rename (the destination's file system kept the old spelling)",
                          what);
    }
    renamed_in(from_parent, from.parent);
    renamed_in(parent, to.parent);
    return true;
}

bool Destination::move_dir(const EntryPath& from, const EntryPath& to) {
    DestTree::check_path(to.parent, to.name);
    Fd from_parent = parent_of(from, true);
    if (!from_parent) {
        return false;
    }
    Fd parent;
    try {
        parent = dir_to_write(to.parent);
    } catch (const SystemError& e) {
        if (e.err() != ENOTDIR && e.err() != ELOOP) {
            throw;
        }
        // A file or a symlink stands in the new parent's path yet (the source
        // replaced it by a directory, made after the moves): the files move one
        // by one (kind_changes.sh).
        return false;
    }
    if (respell(from_parent.get(), from, parent.get(), to)) {
        return true;
    }
    struct stat st{};
    if (::fstatat(parent.get(), to.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
        return false; // something stands there: the files move one by one
    }
    write_into(from_parent.get(), from.parent);
    if (::renameat2(from_parent.get(), from.name.c_str(), parent.get(), to.name.c_str(),
                    RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST || errno == EINVAL || errno == ENOTDIR || errno == ENOSYS ||
            errno == EOPNOTSUPP || errno == EACCES) {
            // EINVAL, ENOSYS, EOPNOTSUPP: a file system without RENAME_NOREPLACE
            // (some FUSE ones), or `to` under `from`. EACCES: a read-only
            // directory of ours, moved to another parent (its ".." changes),
            // not root: it is left as it is.
            return false;
        }
        throw_errno("rename", fmt::format("{} -> {}", display(from.rel()), display(to.rel())));
    }
    renamed_in(from_parent.get(), from.parent);
    renamed_in(parent.get(), to.parent);
    return true;
}

namespace {

// A rename flag the file system does not know (many FUSE ones, NFS; the kernel's
// exFAT knows RENAME_NOREPLACE only).
bool flag_unsupported(int err) {
    return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

} // namespace

void Destination::rename_over(int from_dir, std::string from_name, int parent_fd,
                              const EntryPath& e, const std::string& what,
                              const std::function<void()>& moved) {
    // Another program may put something at e's name while this runs: what
    // stands there is never replaced unless it was kept first. Where nothing
    // stands, RENAME_NOREPLACE. Where a regular file stands, it is linked into
    // versions/ (the name never goes missing), the entry gets a swap- name in
    // staging, and RENAME_EXCHANGE swaps it in: what comes out (the file just
    // linked, or another program's entry put there meanwhile) is then in
    // staging, never at a name of the user's, and a run stopped before it is
    // dealt with leaves it to the next (tidy_staging). The swap- name is a
    // hard link where the entry is under a tmp- name in staging (a run stopped
    // before the exchange then leaves a second name, removed at the next
    // start), else a rename (an assembly file, a delivered copy moved), put
    // back on an error before the exchange. Anything else at e's name, or a
    // regular file where the file system has RENAME_NOREPLACE alone, is
    // renamed aside first. A file system with neither flag, or a rename
    // within a mount point below the destination's root, gets a plain rename:
    // the instant between the look and the rename stays open (docs/unload.md).
    auto rename_failed = [&] {
        if (errno == EXDEV) { // a mount point below the destination's root
            throw SystemError(EXDEV, "rename (across a mount point below the destination)", what);
        }
        throw_errno("rename", what);
    };
    int dir = from_dir; // where the entry is: its name, or its swap- name
    std::string name = from_name;
    enum class Swap { none, renamed, linked } swap = Swap::none;
    bool placed = false; // at e's name: moved() is called
    auto place_done = [&] {
        placed = true;
        if (swap == Swap::linked) { // its tmp- name (else removed at the next start)
            ::unlinkat(from_dir, from_name.c_str(), 0);
        }
        moved();
    };
    auto plain_rename = [&] {
        if (::renameat(dir, name.c_str(), parent_fd, e.name.c_str()) != 0) {
            rename_failed();
        }
        place_done();
    };
    try {
        constexpr int most = 100;
        for (int tries = 0; tries < most; ++tries) {
            bool noreplace = m_noreplace;
            bool exchange = m_exchange;
            struct stat st{};
            if (::fstatat(parent_fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno != ENOENT) {
                    throw_errno("stat", display(e.rel()));
                }
                if (!noreplace) {
                    plain_rename();
                    return;
                }
                int r = ::renameat2(dir, name.c_str(), parent_fd, e.name.c_str(), RENAME_NOREPLACE);
                if (r == 0) {
                    place_done();
                    return;
                }
                if (errno == EEXIST) {
                    continue; // something appeared: kept next turn
                }
                if (!flag_unsupported(errno)) {
                    rename_failed();
                }
                m_noreplace = false;
                plain_rename();
                return;
            }
            if (!exact_name_present(parent_fd, e)) {
                // A case-insensitive or normalizing file system (exFAT, ext4
                // casefold) found another name: never replace "Foo" with "foo".
                throw SystemError(EEXIST,
                                  "deliver (the destination's file system takes this name for "
                                  "an existing different one, as exFAT does with 'Foo' and "
                                  "'foo'; not delivered, so as not to replace it)",
                                  display(e.rel()));
            }
            std::optional<std::pair<dev_t, ino_t>> kept = move_aside(
                parent_fd, e, "versions", S_ISREG(st.st_mode) && (exchange || !noreplace));
            ++m_versions;
            if (!kept) {
                continue; // renamed aside: the name is free
            }
            if (!exchange) { // neither flag
                plain_rename();
                return;
            }
            if (swap == Swap::none) {
                // The kept file's inode in the name: the next start knows it.
                std::string to = fmt::format("swap-{}-{}", kept->second, random_hex(8));
                bool link = dir == m_staging.dirfd() && starts_with(name, "tmp-") &&
                            ::linkat(dir, name.c_str(), dir, to.c_str(), 0) == 0;
                if (!link && ::renameat(dir, name.c_str(), m_staging.dirfd(), to.c_str()) != 0) {
                    if (errno != EXDEV) {
                        rename_failed();
                    }
                    plain_rename(); // a move within a mount point below the root
                    return;
                }
                swap = link ? Swap::linked : Swap::renamed;
                dir = m_staging.dirfd();
                name = to;
            }
            if (::renameat2(dir, name.c_str(), parent_fd, e.name.c_str(), RENAME_EXCHANGE) == 0) {
                place_done();
                m_staging.renamed_into(dir);
                try {
                    keep_displaced(name, *kept, e);
                } catch (const Error& x) {
                    if (x.stops_run()) {
                        throw;
                    }
                    // Left under its swap- name: the next unload keeps it
                    // (tidy_staging). The entry itself is delivered.
                }
                return;
            }
            int err = errno;
            struct stat self{};
            if (err == ENOENT && ::fstatat(dir, name.c_str(), &self, AT_SYMLINK_NOFOLLOW) == 0) {
                continue; // e's name went meanwhile (its version stays kept)
            }
            if (!flag_unsupported(err)) {
                errno = err;
                rename_failed();
            }
            m_exchange = false;
            if (!noreplace) {
                plain_rename();
                return;
            }
            // RENAME_NOREPLACE alone: what stands at the name goes aside too
            // (the file just kept loses that second name in versions/), and
            // the next turn renames into the free name.
            Aside aside = rename_aside(parent_fd, e.name, e, "versions");
            struct stat out{};
            if (::fstatat(aside.fd.get(), e.name.c_str(), &out, AT_SYMLINK_NOFOLLOW) == 0 &&
                out.st_dev == kept->first && out.st_ino == kept->second) {
                ::unlinkat(aside.fd.get(), e.name.c_str(), 0);
            } else {
                ++m_versions;
            }
        }
        throw Error(fmt::format("something else was put at '{}' {} times while barge delivered "
                                "it: not delivered",
                                display(e.rel()), most));
    } catch (...) {
        // No exchange happened: the entry goes back to its name, never over
        // what may have been put there meanwhile (else it waits in staging).
        if (!placed && swap == Swap::renamed) {
            ::renameat2(dir, name.c_str(), from_dir, from_name.c_str(), RENAME_NOREPLACE);
        } else if (!placed && swap == Swap::linked) {
            ::unlinkat(dir, name.c_str(), 0);
        }
        throw;
    }
}

void Destination::keep_displaced(const std::string& swap, std::pair<dev_t, ino_t> kept,
                                 const EntryPath& e) {
    struct stat st{};
    if (::fstatat(m_staging.dirfd(), swap.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        throw_errno("stat", m_staging.display(swap));
    }
    if (st.st_dev == kept.first && st.st_ino == kept.second) {
        // The file linked into versions/: this second name of it goes.
        if (::unlinkat(m_staging.dirfd(), swap.c_str(), 0) != 0) {
            throw_errno("unlink", m_staging.display(swap));
        }
        return;
    }
    rename_aside(m_staging.dirfd(), swap, e, "versions"); // put at e's name meanwhile
    ++m_versions;
}

void Destination::tidy_staging() {
    auto names = read_dir_names(m_staging.dirfd(), m_staging.display());
    std::set<std::pair<dev_t, ino_t>> tmp_files; // entries still under their tmp- names
    for (const auto& name : names) {
        struct stat st{};
        if (starts_with(name, "tmp-") &&
            ::fstatat(m_staging.dirfd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            tmp_files.insert({st.st_dev, st.st_ino});
        }
    }
    for (const auto& name : names) {
        struct stat st{};
        if (!starts_with(name, "swap-") ||
            ::fstatat(m_staging.dirfd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        // swap-<inode of the version kept>-<random>: that file, or a second
        // name of an entry under its tmp- name, goes; anything else is kept.
        bool kept_version = S_ISREG(st.st_mode) && st.st_nlink > 1 &&
                            name.substr(5, name.find('-', 5) - 5) == std::to_string(st.st_ino);
        try {
            if (kept_version || tmp_files.contains({st.st_dev, st.st_ino})) {
                ::unlinkat(m_staging.dirfd(), name.c_str(), 0);
            } else {
                rename_aside(m_staging.dirfd(), name, EntryPath{"", name}, "versions");
                ++m_versions;
            }
        } catch (const Error& x) {
            if (x.stops_run()) {
                throw;
            }
            // It waits in staging for the next unload.
        }
    }
    for (const auto& name : names) {
        if (starts_with(name, "tmp-")) {
            ::unlinkat(m_staging.dirfd(), name.c_str(), 0);
        }
    }
}

void Destination::make_dir(const DeliveryItem& d) {
    // A file that became a directory at the source: the destination's old file is
    // kept as a version, and so is a symlink barge delivered there (a symlink
    // that became a directory). Another symlink in the way is left alone and
    // reported (it may be the destination admin's own redirect; barge never
    // follows one).
    Fd parent = dir_to_write(d.parent);
    struct stat st{};
    bool exists = ::fstatat(parent.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !exact_name_present(parent.get(), d)) {
        // "foo/" on a case-insensitive file system where "Foo/" exists: never
        // merge the two; the directory and everything under it fail.
        {
            std::lock_guard lock(m_mutex);
            m_refused.insert(d.rel());
        }
        throw Error("the destination's file system takes this directory name for an existing "
                    "different one, as exFAT does with 'Foo' and 'foo'; not merged into it, "
                    "nothing under it delivered");
    }
    if (exists && (S_ISREG(st.st_mode) || (S_ISLNK(st.st_mode) && d.d_kind == Kind::symlink))) {
        move_aside(parent.get(), d, "versions", false);
        ++m_versions;
    }
    m_tree.open_dir(d.rel(), DestTree::Create::yes);
    if (!exists || !S_ISDIR(st.st_mode)) {
        std::lock_guard lock(m_mutex);
        m_touched.insert(d.parent); // a name appeared in it: its times are set back at the end
    }
}

void Destination::place_new(TempFile& made, const DeliveryItem& d) {
    const char* name = made.name().c_str();
    if (m_root && ::fchownat(m_staging.dirfd(), name, d.st.uid, d.st.gid, AT_SYMLINK_NOFOLLOW) != 0) {
        throw_errno("chown", display(d.rel()));
    }
    if (!d.st.xattrs.empty()) { // a new entry has none to remove; before chmod, as for files
        apply_xattrs(-1, made.name(), d.st, display(d.rel()));
    }
    // A symlink has no mode of its own on Linux (chmod would follow it).
    if (d.st.kind != Kind::symlink &&
        ::fchmodat(m_staging.dirfd(), name, d.st.mode & 07777, 0) != 0) {
        throw_errno("chmod", display(d.rel()));
    }
    timespec times[2] = {{0, UTIME_OMIT}, to_timespec(d.st.mtime_ns)};
    if (::utimensat(m_staging.dirfd(), name, times, AT_SYMLINK_NOFOLLOW) != 0) {
        throw_errno("set mtime", display(d.rel()));
    }
    place(made, d);
}

void Destination::make_symlink(const DeliveryItem& d) {
    TempFile link = m_staging.create_symlink(d.st.target);
    place_new(link, d);
}

void Destination::make_node(const DeliveryItem& d) {
    unsigned type = d.st.kind == Kind::fifo ? S_IFIFO : d.st.kind == Kind::chardev ? S_IFCHR : S_IFBLK;
    if (type != S_IFIFO && !m_root) {
        throw Error("a device node is made only when barge runs as root");
    }
    std::optional<TempFile> made = m_staging.create_node(type, d.st.rdev);
    if (!made) {
        throw Error(fmt::format("the destination's file system cannot hold a {}; exclude it from "
                                "the pair if that is expected",
                                type == S_IFIFO ? "FIFO" : "device node"));
    }
    place_new(*made, d);
}

bool Destination::exact_parent_present(const std::string& parent) {
    {
        std::lock_guard lock(m_mutex);
        if (parent.empty() || m_exact_parents.contains(parent)) {
            return true;
        }
    }
    size_t slash = parent.rfind('/');
    EntryPath dir = EntryPath::of(parent);
    if (slash != std::string::npos && !exact_parent_present(dir.parent)) {
        return false;
    }
    Fd fd = open_beneath(m_tree.fd(), dir.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd || !exact_name_present(fd.get(), dir)) {
        return false;
    }
    std::lock_guard lock(m_mutex);
    m_exact_parents.insert(parent);
    return true;
}

Destination::Trashed Destination::trash(const EntryPath& d) {
    Fd parent = open_beneath(m_tree.fd(), d.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!parent) {
        return Trashed::nothing; // already gone
    }
    struct stat st{};
    if (::fstatat(parent.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return Trashed::nothing;
    }
    // What answers to a case twin of the name, or of a directory above it, on a
    // case-insensitive destination is another entry: Foo renamed foo at the
    // source, foo delivered, and the deletion of Foo once trashed foo (exit 0,
    // foo counted delivered, its only copy in the trash until pruned).
    if (!exact_name_to_delete(parent.get(), d) || !exact_parent_present(d.parent)) {
        return Trashed::other_spelling;
    }
    {
        std::lock_guard lock(m_mutex);
        m_touched.insert(d.parent);
    }
    write_into(parent.get(), d.parent);
    if (S_ISDIR(st.st_mode)) {
        // An emptied directory is removed; one still holding something (the
        // user's own files, or what the caller still tracks there) stays. Any
        // other failure (a mount point, EIO) is reported, its row kept.
        if (::unlinkat(parent.get(), d.name.c_str(), AT_REMOVEDIR) == 0) {
            return Trashed::removed_dir;
        }
        if (errno == ENOTEMPTY || errno == EEXIST) {
            return Trashed::kept_dir;
        }
        throw_errno("remove directory", display(d.rel()));
    }
    move_aside(parent.get(), d, "trash", false);
    return Trashed::moved;
}

void Destination::set_dir_metadata(const DeliveryItem& d) {
    Fd fd = m_tree.open_dir(d.rel(), DestTree::Create::no);
    apply_metadata(fd.get(), d.st, display(d.rel()));
}

std::optional<std::string> Destination::refused_ancestor(const EntryPath& e) const {
    std::lock_guard lock(m_mutex);
    if (m_refused.empty()) {
        return std::nullopt;
    }
    std::string path = e.parent;
    for (;;) {
        if (m_refused.contains(path)) {
            return path;
        }
        auto slash = path.rfind('/');
        if (slash == std::string::npos) {
            return std::nullopt;
        }
        path.resize(slash);
    }
}

std::set<std::string> Destination::take_touched() {
    std::lock_guard lock(m_mutex);
    return std::exchange(m_touched, {});
}

size_t Destination::touched_count() const {
    std::lock_guard lock(m_mutex);
    return m_touched.size();
}

} // namespace barge
