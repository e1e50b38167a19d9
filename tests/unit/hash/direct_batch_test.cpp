#include "../test_dir.hpp"
#include "barge/hash/direct_batch.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace barge;

namespace {

std::string pattern(size_t size, size_t seed) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) {
        data[i] = static_cast<char>((i * 131 + seed) % 251);
    }
    return data;
}

void put(const std::string& path, const std::string& data) {
    Fd fd = open_or_throw(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::fsync(fd.get()), 0);
}

Digest digest_of(const std::string& data) {
    Blake2b h;
    h.update(data.data(), data.size());
    return h.final();
}

// Skips where this file system or kernel reads nothing with O_DIRECT and AIO
// (tmpfs before Linux 6.6): take() answers nullopt for every file there, which the
// callers handle by reading the ordinary way (checked by the e2e tests).
bool direct_reads_work(TestDir& dir) {
    put(dir / "probe", "probe");
    Fd d = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    DirectBatch b;
    auto t = b.add(d.get(), "probe", 5);
    return t && b.take(*t).has_value();
}

} // namespace

// Files of every size around the page boundaries, more of them than reads in
// flight, each comes back whole and equal to what was written, and its digest
// through a pipeline is the digest of its bytes.
TEST(DirectBatch, ReadsEachFileWholeWithManyInFlight) {
    TestDir dir;
    if (!direct_reads_work(dir)) {
        GTEST_SKIP() << "no O_DIRECT reads through AIO in " << dir.path();
    }
    std::vector<size_t> sizes = {0, 1, 100, 4095, 4096, 4097, 8191, 8192, 65536, 100000,
                                 size_t{DirectBatch::max_size} - 1, size_t{DirectBatch::max_size}};
    for (size_t i = 0; i < 60; ++i) {
        sizes.push_back((i * 7919) % 20000);
    }
    Fd d = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    std::vector<std::string> data;
    DirectBatch batch(4);
    std::vector<size_t> tickets;
    for (size_t i = 0; i < sizes.size(); ++i) {
        data.push_back(pattern(sizes[i], i));
        put(dir / ("f" + std::to_string(i)), data.back());
        auto t = batch.add(d.get(), "f" + std::to_string(i), static_cast<int64_t>(sizes[i]));
        ASSERT_TRUE(t);
        tickets.push_back(*t);
    }
    HashPipeline pipe(64 << 10);
    for (size_t i = 0; i < sizes.size(); ++i) {
        auto got = batch.take(tickets[i]);
        ASSERT_TRUE(got) << "file " << i << " of " << sizes[i] << " bytes";
        ASSERT_EQ(std::string(got->data(), got->size()), data[i]) << "file " << i;
        uint64_t n = 0;
        EXPECT_EQ(hash_bytes(pipe, *got, n), digest_of(data[i])) << "file " << i;
        EXPECT_EQ(n, sizes[i]);
    }
}

// What the batch cannot vouch for is left to the ordinary read: a file longer
// than it was written, one that is missing, one too large to be queued; files
// skipped (never taken) leave the others intact.
TEST(DirectBatch, LeavesTheUnusualToTheOrdinaryRead) {
    TestDir dir;
    if (!direct_reads_work(dir)) {
        GTEST_SKIP() << "no O_DIRECT reads through AIO in " << dir.path();
    }
    Fd d = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    DirectBatch batch(2);
    EXPECT_FALSE(batch.add(d.get(), "big", DirectBatch::max_size + 1)) << "too large to be queued";
    put(dir / "grew", pattern(9000, 1));
    auto grew = batch.add(d.get(), "grew", 4096); // written 4096 bytes, now 9000 long
    auto gone = batch.add(d.get(), "gone", 10);
    std::vector<std::optional<size_t>> rest;
    for (size_t i = 0; i < 8; ++i) {
        put(dir / ("r" + std::to_string(i)), pattern(5000 + i, i));
        rest.push_back(batch.add(d.get(), "r" + std::to_string(i), static_cast<int64_t>(5000 + i)));
    }
    ASSERT_TRUE(grew && gone);
    EXPECT_FALSE(batch.take(*grew)) << "a file longer than written";
    EXPECT_FALSE(batch.take(*gone)) << "a missing file";
    // None of these is an error of the device: nothing to warn about.
    EXPECT_EQ(batch.error(*grew), 0);
    EXPECT_EQ(batch.error(*gone), 0);
    EXPECT_EQ(batch.error(999), 0);
    // r0, r2, r3 and r5 are skipped: the others still read right.
    for (size_t i : {size_t{1}, size_t{4}, size_t{6}, size_t{7}}) {
        ASSERT_TRUE(rest[i]);
        auto got = batch.take(*rest[i]);
        ASSERT_TRUE(got) << "r" << i;
        EXPECT_EQ(std::string(got->data(), got->size()), pattern(5000 + i, i)) << "r" << i;
    }
    EXPECT_FALSE(batch.take(999)) << "no such ticket";
}
