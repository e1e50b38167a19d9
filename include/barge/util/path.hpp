#pragma once

#include <string>
#include <string_view>

namespace barge {

// Makes path absolute against the working directory and normalizes it lexically
// ("." and ".." components, repeated slashes) without following symlinks: the
// path may name something that does not exist here (a destination seen from home).
std::string absolute_path(std::string_view path);

// The parent of an absolute path ("/a/b" -> "/a", "/a" -> "/").
std::string parent_path(std::string_view path);

// True when a relative catalog path is safe to use beneath a root: not empty, not
// absolute, no NUL, no "." or ".." component, no empty component.
bool is_safe_relative_path(std::string_view path);

} // namespace barge
