#include "barge/engine/error_sink.hpp"

#include <cerrno>
#include <gtest/gtest.h>
#include <map>

using namespace barge;

namespace {

struct Sink {
    Problems failures;
    Notes notes;
    std::map<int64_t, std::string> recorded;
    ErrorSink sink{"load p", failures, notes,
                   [this](int64_t entry, const std::string& reason) { recorded[entry] = reason; }};

    // Hands e to the sink the way a per-file loop does: from a catch block.
    template <typename E> void handle(int64_t entry, const E& e) {
        try {
            throw e;
        } catch (const Error& caught) {
            sink.handle(entry, "/src/a", caught);
        }
    }
};

} // namespace

TEST(ErrorSink, AFileProblemIsRecordedCountedAndListed) {
    Sink s;
    s.handle(7, SystemError(EACCES, "open", "/src/a"));
    ASSERT_EQ(s.failures.size(), 1u);
    EXPECT_EQ(s.failures.first()[0].path, "/src/a");
    EXPECT_EQ(s.failures.first()[0].reason, "open '/src/a': Permission denied");
    EXPECT_EQ(s.recorded.at(7), "open '/src/a': Permission denied");
    EXPECT_EQ(s.sink.failed(), 1u);
    EXPECT_TRUE(s.notes.empty());
}

TEST(ErrorSink, WhatStopsTheRunIsRethrownNotRecorded) {
    Sink s;
    EXPECT_THROW(s.handle(1, CatalogError("catalog is corrupt")), CatalogError);
    EXPECT_THROW(s.handle(2, MediumError(EIO, "syncfs", "/drive")), MediumError);
    EXPECT_THROW(s.handle(3, Refusal("marker missing")), Refusal);
    EXPECT_TRUE(s.failures.empty());
    EXPECT_TRUE(s.recorded.empty());
}

TEST(ErrorSink, AFileThatWaitsForALaterRunIsANoteNotAFailure) {
    Sink s;
    s.handle(4, FileError("changed while being read", FileError::Retry::later));
    EXPECT_TRUE(s.failures.empty());
    EXPECT_TRUE(s.recorded.empty());
    ASSERT_EQ(s.notes.size(), 1u);
    EXPECT_EQ(s.notes.first().at(0), "'/src/a' changed while being read: it will be carried on a later run");
}

TEST(ErrorSink, NoEntryNothingRecorded) {
    Sink s;
    s.sink.fail(0, "/dest/dir", "set mtime failed");
    EXPECT_EQ(s.failures.size(), 1u);
    EXPECT_TRUE(s.recorded.empty());
}

TEST(RetryPolicy, AttemptsAndTransientErrors) {
    RetryPolicy p{3};
    EXPECT_TRUE(p.again(1));
    EXPECT_TRUE(p.again(2));
    EXPECT_FALSE(p.again(3));
    EXPECT_TRUE(RetryPolicy::transient(ReadError(EIO, "read", "/src/a")));
    EXPECT_TRUE(RetryPolicy::transient(ReadError(EINTR, "read", "/src/a")));
    EXPECT_FALSE(RetryPolicy::transient(ReadError(EACCES, "read", "/src/a")));
    EXPECT_FALSE(RetryPolicy::transient(SystemError(EIO, "write", "/drive/x")));
    EXPECT_TRUE(RetryPolicy::transient(FileError("busy", FileError::Retry::yes)));
    EXPECT_FALSE(RetryPolicy::transient(FileError("changed", FileError::Retry::later)));
    EXPECT_FALSE(RetryPolicy::transient(FileError("bit rot")));
}
