#pragma once

#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace barge {

// Reads an open file from offset 0 to its end, hashing it; returns the digest and
// sets bytes_read. buf is the caller's reusable read buffer (not empty).
Digest hash_fd(int fd, std::vector<char>& buf, uint64_t& bytes_read, std::string_view path);

class HashPipeline;

// The same through a pipeline: reading here, hashing on the pipeline's thread.
Digest hash_fd(int fd, HashPipeline& pipeline, uint64_t& bytes_read, std::string_view path);

// Streams [offset, offset + size) of `from` through the pipeline (the caller
// collects the digest with finish()), writing each block to `to` at to_offset +
// (position - offset) when to >= 0. Returns the bytes read: fewer than size at
// end of file. A failed read throws ReadError, a failed write SystemError.
uint64_t copy_through(HashPipeline& pipeline, int from, int64_t offset, int64_t size, int to,
                      int64_t to_offset, std::string_view from_path, std::string_view to_path);

} // namespace barge
