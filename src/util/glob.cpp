#include "barge/util/glob.hpp"

#include "barge/util/error.hpp"

#include <fmt/format.h>
#include <fnmatch.h>

namespace barge {

namespace {

std::vector<std::string_view> split_segments(std::string_view path) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            out.push_back(path.substr(start));
            break;
        }
        out.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return out;
}

bool segment_matches(const std::string& pattern, std::string_view name) {
    // fnmatch needs NUL-terminated strings; names never hold NUL.
    std::string n(name);
    return fnmatch(pattern.c_str(), n.c_str(), 0) == 0;
}

// Matches pattern segments [pi..] against path segments [si..]; '**' spans zero or more.
bool match_from(const std::vector<std::string>& pat, size_t pi,
                const std::vector<std::string_view>& path, size_t si) {
    while (pi < pat.size()) {
        if (pat[pi] == "**") {
            // A trailing "**" ("a/**") matches what is inside, not the directory itself.
            size_t first = pi + 1 == pat.size() ? si + 1 : si;
            for (size_t k = first; k <= path.size(); ++k) {
                if (match_from(pat, pi + 1, path, k)) {
                    return true;
                }
            }
            return false;
        }
        if (si >= path.size() || !segment_matches(pat[pi], path[si])) {
            return false;
        }
        ++pi;
        ++si;
    }
    return si == path.size();
}

} // namespace

Glob::Glob(std::string_view pattern) : m_pattern(pattern) {
    std::string_view p = pattern;
    if (p.empty()) {
        throw Refusal("invalid exclude pattern '': empty");
    }
    if (p.front() == '!') {
        throw Refusal(fmt::format("invalid exclude pattern '{}': negation ('!') is not supported",
                                  pattern));
    }
    if (p.size() > 1 && p.back() == '/') {
        m_dir_only = true;
        p.remove_suffix(1);
    }
    if (p.front() == '/') {
        m_anchored = true;
        p.remove_prefix(1);
    }
    if (p.find('/') != std::string_view::npos) {
        m_anchored = true;
    }
    if (p.empty()) {
        throw Refusal(fmt::format("invalid exclude pattern '{}': matches nothing", pattern));
    }
    for (auto seg : split_segments(p)) {
        if (seg.empty()) {
            throw Refusal(fmt::format("invalid exclude pattern '{}': empty path segment", pattern));
        }
        m_segments.emplace_back(seg);
    }
    // An unanchored pattern matches at any depth: the same as a leading "**/".
    if (!m_anchored) {
        m_segments.insert(m_segments.begin(), "**");
    }
}

bool Glob::matches(std::string_view path, bool is_dir) const {
    if (m_dir_only && !is_dir) {
        return false;
    }
    return match_from(m_segments, 0, split_segments(path), 0);
}

ExcludeSet::ExcludeSet(const std::vector<std::string>& patterns) {
    for (const auto& p : patterns) {
        m_globs.emplace_back(p);
    }
}

bool ExcludeSet::excluded(std::string_view path, bool is_dir) const {
    for (const auto& g : m_globs) {
        if (g.matches(path, is_dir)) {
            return true;
        }
    }
    return false;
}

} // namespace barge
