#include "barge/util/error.hpp"

#include "barge/util/text.hpp"

#include <cerrno>
#include <cstring>

namespace barge {

SystemError::SystemError(int err, std::string_view operation, std::string_view path)
    : Error(std::string(operation) + " '" + escape_bytes(path) + "': " + std::strerror(err)),
      m_err(err) {}

void throw_errno(std::string_view operation, std::string_view path) {
    throw SystemError(errno, operation, path);
}

} // namespace barge
