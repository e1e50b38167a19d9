#include "barge/engine/scan_walk.hpp"

#include "barge/engine/progress.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

namespace barge {

Lister::Lister(const Pair& pair, const ScanOptions& options, double deadline)
    : m_excludes(pair.excludes), m_deadline(deadline) {
    m_root = open_or_throw(pair.source, O_RDONLY | O_DIRECTORY);
    struct stat st{};
    if (!options.skip_dir.empty() && ::stat(options.skip_dir.c_str(), &st) == 0) {
        m_skip_dev = st.st_dev;
        m_skip_ino = st.st_ino;
    }
    m_thread = std::thread([this] { run(); });
}

Lister::~Lister() {
    {
        std::lock_guard lock(m_mutex);
        m_cancel = true;
    }
    m_cv.notify_all();
    m_thread.join();
}

std::optional<Listing> Lister::next() {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [&] { return !m_queue.empty() || m_done; });
    if (m_queue.empty()) {
        return std::nullopt;
    }
    Listing l = std::move(m_queue.front());
    m_queue.pop_front();
    m_cv.notify_all();
    return l;
}

void Lister::run() {
    std::vector<std::string> stack{""};
    while (!stack.empty()) {
        if (monotonic_seconds() > m_deadline || stop_requested()) {
            m_stopped = true;
            break;
        }
        std::string dir = std::move(stack.back());
        stack.pop_back();
        Listing l = list(dir, stack);
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [&] { return m_queue.size() < max_queued || m_cancel; });
        if (m_cancel) {
            break;
        }
        m_queue.push_back(std::move(l));
        m_cv.notify_all();
    }
    std::lock_guard lock(m_mutex);
    m_done = true;
    m_cv.notify_all();
}

Listing Lister::list(const std::string& dir, std::vector<std::string>& stack) {
    Listing l;
    l.dir = dir;
    Fd fd = open_beneath(m_root.get(), dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd) {
        int err = errno;
        l.error = fmt::format("cannot open directory: {}", std::strerror(err));
        // Vanished only when a fresh look finds no directory there either: one
        // still standing that cannot be opened (a failed automount) stays a
        // problem.
        Fd now = open_beneath(m_root.get(), dir, O_PATH | O_NOFOLLOW);
        struct stat st{};
        l.vanished =
            nothing_there(err) &&
            (now ? ::fstat(now.get(), &st) == 0 && !S_ISDIR(st.st_mode) : nothing_there(errno));
        return l;
    }
    std::vector<std::string> names;
    try {
        names = read_dir_names(fd.get(), dir);
    } catch (const SystemError& e) {
        l.error = e.what();
        // getdents fails with ENOENT only on a directory removed since it was
        // opened: removed while the walk listed it, as above.
        l.vanished = e.err() == ENOENT;
        return l;
    }
    std::vector<std::string> subdirs;
    l.items.reserve(names.size());
    for (auto& name : names) {
        Listing::Item item;
        item.name = std::move(name);
        if (item.name != ".barge") { // SPEC §3: scans never enter any .barge/ directory
            item.es = stat_entry(fd.get(), item.name);
            item.err = item.es ? 0 : errno;
            if (item.es && item.es->type != StatKind::special) {
                bool is_dir = item.es->type == StatKind::dir;
                std::string rel = join_path(dir, item.name);
                if (is_dir && item.es->st.dev == m_skip_dev && item.es->st.ino == m_skip_ino) {
                    item.skipped_dir = true; // never carry the cargo inside the cargo
                } else if (m_excludes.excluded(rel, is_dir)) {
                    item.excluded = true;
                } else if (is_dir) {
                    subdirs.push_back(std::move(rel));
                }
            }
        }
        l.items.push_back(std::move(item));
    }
    // Depth first, in name order: push in reverse so the smallest pops first.
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) {
        stack.push_back(std::move(*it));
    }
    l.fd = std::move(fd);
    return l;
}

} // namespace barge
