#include "../test_dir.hpp"
#include "barge/engine/transfer.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"

#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <unistd.h>

using namespace barge;

namespace {

std::string pattern(size_t size, size_t seed) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) {
        data[i] = static_cast<char>((i * 131 + seed) % 251);
    }
    return data;
}

std::set<std::string> names_in(const std::string& dir) {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        out.insert(e.path().filename().string());
    }
    return out;
}

std::string contents(const std::string& path) {
    return read_file(path);
}

struct Item : TransferItem {
    std::string name; // where place() puts it, in the "out" directory
};

// A client that records what the pipeline asks of it. Files are placed into
// out/ under the item's name; place_error makes place() throw for one name.
class Recorder : public Transfer<Item>::Client {
public:
    explicit Recorder(int out_fd) : m_out(out_fd) {}
    void place(Item& item) override {
        if (item.name == place_error) {
            throw SystemError(EEXIST, "rename", item.name);
        }
        if (item.name == place_fatal) {
            throw MediumError(EIO, "rename", item.name);
        }
        for (auto& w : item.written) {
            w.file.commit(m_out, item.name, item.name);
        }
    }
    void commit(std::vector<Item>& placed) override {
        std::vector<std::string> batch;
        for (auto& i : placed) {
            batch.push_back(i.name);
        }
        commits.push_back(batch);
    }
    void retry(Item&& item) override {
        retries[item.name].push_back(item.attempt);
        if (rewrite) {
            rewrite(std::move(item));
        }
    }
    void failed(Item& item, const std::string& reason) override { failures[item.name] = reason; }
    std::string mismatch(const Item& item, size_t index) override {
        return item.name + " read back wrong (file " + std::to_string(index) + ")";
    }
    std::string describe(const Item& item) override { return item.name; }

    std::vector<std::vector<std::string>> commits;
    std::map<std::string, std::vector<int>> retries;
    std::map<std::string, std::string> failures;
    std::function<void(Item&&)> rewrite;
    std::string place_error, place_fatal;

private:
    int m_out;
};

struct Fixture {
    TestDir dir;
    Problems problems;
    Notes notes;
    ErrorSink sink{"test", problems, notes, nullptr};
    Fd out;
    std::unique_ptr<Medium> medium;
    std::unique_ptr<Recorder> client;
    std::unique_ptr<Transfer<Item>> transfer;

    explicit Fixture(RetryPolicy policy = {}, BatchLimits limits = {}) {
        std::filesystem::create_directory(dir / "tmp");
        std::filesystem::create_directory(dir / "out");
        out = open_or_throw(dir / "out", O_RDONLY | O_DIRECTORY);
        medium = std::make_unique<Medium>(open_or_throw(dir / "tmp", O_RDONLY | O_DIRECTORY),
                                          dir / "tmp", OnFailure::fail_file);
        client = std::make_unique<Recorder>(out.get());
        transfer = std::make_unique<Transfer<Item>>(*medium, *client, sink, policy, limits);
    }

    // An item with one file holding data; expected is what it should read back as.
    Item make(const std::string& name, const std::string& data, const std::string& expected) {
        Item item;
        item.name = name;
        item.bytes = static_cast<int64_t>(data.size());
        TempFile f = transfer->create("tmp-", "", static_cast<int64_t>(data.size()), 0644);
        f.write_at(data.data(), data.size(), 0);
        f.finish();
        item.written.push_back({std::move(f), blake2b(expected), static_cast<int64_t>(expected.size())});
        return item;
    }
    Item make(const std::string& name, const std::string& data) { return make(name, data, data); }
};

} // namespace

TEST(Transfer, VerifiedItemsArePlacedAndCommittedInBatches) {
    Fixture f(RetryPolicy{}, BatchLimits{2, 1 << 30});
    bool closed[5];
    for (int i = 0; i < 5; ++i) {
        closed[i] = f.transfer->add(f.make("f" + std::to_string(i), pattern(1000 + static_cast<size_t>(i), static_cast<size_t>(i))));
    }
    f.transfer->flush();
    EXPECT_FALSE(closed[0]);
    EXPECT_TRUE(closed[1]);
    EXPECT_TRUE(closed[3]);
    EXPECT_FALSE(closed[4]);
    ASSERT_EQ(f.client->commits.size(), 3u);
    EXPECT_EQ(f.client->commits[0], (std::vector<std::string>{"f0", "f1"}));
    EXPECT_EQ(f.client->commits[2], (std::vector<std::string>{"f4"}));
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(contents(f.dir / ("out/f" + std::to_string(i))),
                  pattern(1000 + static_cast<size_t>(i), static_cast<size_t>(i)));
    }
    EXPECT_TRUE(names_in(f.dir / "tmp").empty()) << "temporary files left behind";
    EXPECT_TRUE(f.client->failures.empty());
}

TEST(Transfer, LargeFilesAreReadBackBehindTheirWriter) {
    Fixture f(RetryPolicy{1});
    if (f.medium->fuse()) {
        GTEST_SKIP() << "the test directory is on FUSE";
    }
    std::string big = pattern(3 * (1 << 20) + 12345, 7); // above trail_from
    f.transfer->add(f.make("big", big));
    std::string wrong = pattern(2 << 20, 8);
    f.transfer->add(f.make("big-wrong", wrong, pattern(2 << 20, 9)));
    f.transfer->flush();
    EXPECT_EQ(contents(f.dir / "out/big"), big);
    EXPECT_FALSE(std::filesystem::exists(f.dir / "out/big-wrong"));
    EXPECT_EQ(f.client->failures.at("big-wrong"), "big-wrong read back wrong (file 0)");
}

TEST(Transfer, AMismatchIsRetriedThenFails) {
    Fixture f(RetryPolicy{3});
    // Every attempt writes bytes that do not hash to what is expected.
    f.client->rewrite = [&](Item&& old) {
        Item again = f.make(old.name, "bad-bytes!", "good bytes");
        again.attempt = old.attempt;
        f.transfer->add(std::move(again));
    };
    f.transfer->add(f.make("x", "bad-bytes!", "good bytes"));
    f.transfer->add(f.make("ok", "good bytes"));
    f.transfer->flush();
    EXPECT_EQ(f.client->retries.at("x"), (std::vector<int>{2, 3}));
    EXPECT_EQ(f.client->failures.at("x"), "x read back wrong (file 0)");
    EXPECT_FALSE(std::filesystem::exists(f.dir / "out/x"));
    EXPECT_EQ(contents(f.dir / "out/ok"), "good bytes");
    EXPECT_TRUE(names_in(f.dir / "tmp").empty());
}

TEST(Transfer, AMismatchThatGoesAwayIsPlaced) {
    Fixture f(RetryPolicy{5});
    f.client->rewrite = [&](Item&& old) {
        Item again = f.make(old.name, "good bytes");
        again.attempt = old.attempt;
        f.transfer->add(std::move(again));
    };
    f.transfer->add(f.make("x", "bad-bytes!", "good bytes"));
    f.transfer->flush();
    EXPECT_EQ(f.client->retries.at("x"), (std::vector<int>{2}));
    EXPECT_TRUE(f.client->failures.empty());
    EXPECT_EQ(contents(f.dir / "out/x"), "good bytes");
}

TEST(Transfer, AnItemRelyingOnAContentThatReadBackWrongFailsWithIt) {
    Fixture f(RetryPolicy{1});
    Item a = f.make("a", "shared-contenX", "shared content");
    EXPECT_TRUE(f.transfer->batch_writes(blake2b("shared content")) == false);
    f.transfer->add(std::move(a));
    EXPECT_TRUE(f.transfer->batch_writes(blake2b("shared content")));
    Item b;
    b.name = "b";
    b.relies_on.push_back(blake2b("shared content"));
    f.transfer->add(std::move(b));
    f.transfer->flush();
    EXPECT_EQ(f.client->failures.at("a"), "a read back wrong (file 0)");
    EXPECT_EQ(f.client->failures.at("b"), "a piece it shares with another file failed verification");
    EXPECT_TRUE(f.client->commits.empty());
    EXPECT_FALSE(f.transfer->batch_writes(blake2b("shared content"))) << "a new batch writes nothing yet";
}

TEST(Transfer, APlaceErrorFailsTheItemOnlyAndRemovesItsFile) {
    Fixture f;
    f.client->place_error = "clash";
    f.transfer->add(f.make("clash", "one"));
    f.transfer->add(f.make("fine", "two"));
    f.transfer->flush();
    EXPECT_NE(f.client->failures.at("clash").find("File exists"), std::string::npos);
    ASSERT_EQ(f.client->commits.size(), 1u);
    EXPECT_EQ(f.client->commits[0], (std::vector<std::string>{"fine"}));
    EXPECT_TRUE(names_in(f.dir / "tmp").empty());
}

TEST(Transfer, AnErrorThatStopsTheRunPropagatesAndRecordsNothing) {
    Fixture f;
    f.client->place_fatal = "doomed";
    f.transfer->add(f.make("doomed", "one"));
    EXPECT_THROW(f.transfer->flush(), MediumError);
    EXPECT_TRUE(f.client->commits.empty());
    EXPECT_TRUE(names_in(f.dir / "tmp").empty());
}

TEST(Transfer, DestroyedWithABatchInFlightLeavesNoTemporaryFile) {
    Fixture f(RetryPolicy{}, BatchLimits{1, 1 << 30});
    f.transfer->add(f.make("a", pattern(5000, 1)));
    // Not collected: the batch is verified and placed by the verifier thread, but
    // never committed; destroying the pipeline waits for it.
    f.transfer.reset();
    EXPECT_TRUE(f.client->commits.empty());
    EXPECT_TRUE(names_in(f.dir / "tmp").empty());
}

TEST(TempFile, RemovedUnlessCommittedOrKept) {
    TestDir dir;
    Medium m(open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY), dir.path(), OnFailure::fail_file);
    std::string name;
    {
        TempFile t = m.create("tmp-", ".x", 0600);
        name = t.name();
        EXPECT_TRUE(std::filesystem::exists(dir / name));
    }
    EXPECT_FALSE(std::filesystem::exists(dir / name));
    {
        TempFile t = m.create("tmp-", "", 0600);
        name = t.name();
        t.keep();
    }
    EXPECT_TRUE(std::filesystem::exists(dir / name));
    {
        TempFile kept = m.open_kept("assembly.part", 0600);
        kept.write_at("abc", 3, 0);
    }
    EXPECT_EQ(contents(dir / "assembly.part"), "abc") << "an assembly file outlives its TempFile";
    m.remove_leftovers("tmp-");
    EXPECT_FALSE(std::filesystem::exists(dir / name));
    EXPECT_TRUE(std::filesystem::exists(dir / "assembly.part"));
}

TEST(Medium, FailuresStopTheRunOnlyWhereTheMediumSaysSo) {
    TestDir dir;
    Medium drive(open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY), dir.path(), OnFailure::stop_run);
    Medium dest(open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY), dir.path(), OnFailure::fail_file);
    try {
        drive.fail(EIO, "write", "x");
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_TRUE(e.stops_run());
    }
    try {
        dest.fail(EIO, "write", "x");
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_FALSE(e.stops_run());
        EXPECT_STREQ(e.what(), "write 'x': Input/output error");
    }
}
