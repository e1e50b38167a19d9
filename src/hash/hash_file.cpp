#include "barge/hash/hash_file.hpp"

#include "barge/util/fd.hpp"

namespace barge {

Digest hash_fd(int fd, std::vector<char>& buf, uint64_t& bytes_read, std::string_view path) {
    Blake2b h;
    bytes_read = 0;
    for (;;) {
        size_t n = pread_full(fd, buf.data(), buf.size(), static_cast<long long>(bytes_read), path);
        h.update(buf.data(), n);
        bytes_read += n;
        if (n < buf.size()) {
            return h.final();
        }
    }
}

} // namespace barge
