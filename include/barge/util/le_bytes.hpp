#pragma once

#include <cstdint>
#include <string>

namespace barge {

// Little-endian fixed-width integers in barge's own file formats (the page map, the
// endpoint copies' patches, the page and piece codecs).

inline void put_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) {
        p[i] = static_cast<uint8_t>(v >> (8 * i));
    }
}

inline void append_le(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
}
inline void append_le64(std::string& out, uint64_t v) {
    append_le(out, v, 8);
}
inline void append_le32(std::string& out, uint32_t v) {
    append_le(out, v, 4);
}

inline uint64_t read_le(const char* p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) {
        v = (v << 8) | static_cast<uint8_t>(p[i]);
    }
    return v;
}
inline uint64_t read_le64(const char* p) {
    return read_le(p, 8);
}
inline uint32_t read_le32(const char* p) {
    return static_cast<uint32_t>(read_le(p, 4));
}

} // namespace barge
