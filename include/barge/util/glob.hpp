#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace barge {

// One gitignore-style exclude pattern:
//   "*.tmp"          a name at any depth (no '/' in the pattern)
//   "cache/"         a trailing '/' matches directories only
//   "/build", "a/b"  a '/' at the start or in the middle anchors to the root
//   "**/node_modules", "a/**", "a/**/b"   '**' spans any number of directories
// '*', '?' and '[...]' never match '/'; '\' escapes. Negation ('!') is refused.
class Glob {
public:
    // Throws Refusal for an empty or unsupported pattern.
    explicit Glob(std::string_view pattern);
    // Does the relative path (no leading '/') match? is_dir: the path is a directory.
    bool matches(std::string_view path, bool is_dir) const;
    const std::string& pattern() const { return m_pattern; }

private:
    std::string m_pattern;
    std::vector<std::string> m_segments;
    bool m_dir_only = false;
    bool m_anchored = false;
};

// A list of globs; a path is excluded when any matches.
class ExcludeSet {
public:
    ExcludeSet() = default;
    explicit ExcludeSet(const std::vector<std::string>& patterns);
    bool excluded(std::string_view path, bool is_dir) const;
    bool empty() const { return m_globs.empty(); }

private:
    std::vector<Glob> m_globs;
};

} // namespace barge
