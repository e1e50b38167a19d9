#include "barge/util/system.hpp"

#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/text.hpp"

#include <sys/random.h>
#include <unistd.h>

namespace barge {

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) {
        return "unknown";
    }
    return buf;
}

std::string machine_id() {
    for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
        try {
            std::string id = read_file(path);
            while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
                id.pop_back();
            }
            if (!id.empty() && id.size() <= 64) {
                return id;
            }
        } catch (const SystemError&) {
            // not there (a minimal container): try the next
        }
    }
    return "host:" + host_name();
}

std::string random_bytes(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::getrandom(out.data() + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("getrandom", "");
        }
        got += static_cast<size_t>(r);
    }
    return out;
}

std::string random_hex(size_t n) {
    std::string raw = random_bytes(n);
    return to_hex({reinterpret_cast<const uint8_t*>(raw.data()), raw.size()});
}

} // namespace barge
