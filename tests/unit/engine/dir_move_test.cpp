// A directory moved whole at the destination takes the catalog's knowledge of
// what was under it (TransitStore::move_dest_subtree). That knowledge may be
// older than the destination: another drive moved, replaced or deleted a name
// under the old directory since. KnownAtDestCheck takes it only where the
// destination holds what it says (the kind, a file's size and mtime, a
// symlink's target) and marks the rest damaged, to be delivered again.
#include "../test_dir.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/engine/known_at_dest.hpp"
#include "barge/fs/dest_tree.hpp"

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace barge;

namespace {
constexpr time_t delivered = 1'600'000'000; // every file's mtime when delivered, in seconds

// A pair whose directory d, delivered, is gone from the source, and e, new:
// the rename d -> e that move_dest_subtree records.
struct Moved {
    explicit Moved(const TestDir& dir)
        : c(Catalog::create(dir / "barge.db", 4096, "d")), s(settings(dir)), p(c.add_pair(s, "u")),
          store(c.db(), 1), t(c.db()), content(store.content_id(Digest{}, 5)) {
        FileStat dir_st;
        dir_st.kind = Kind::dir;
        old_dir = store.insert(p.id, "", "d", dir_st, 1);
        t.mark_delivered(old_dir, 1);
        store.mark_gone(old_dir, 2);
        new_dir = store.insert(p.id, "", "e", dir_st, 2);
    }
    // A row at parent/name on inode ino: a file of content's 5 bytes, its mtime
    // delivered's, or a directory. gen 1: delivered before; gen 2: new in the
    // scan that found the rename.
    int64_t add(const std::string& parent, const std::string& name, Kind kind, uint64_t ino,
                int64_t gen) {
        FileStat st;
        st.kind = kind;
        if (kind == Kind::file) {
            st.size = 5;
            st.mtime_ns = int64_t{delivered} * 1'000'000'000;
        }
        st.ino = ino;
        st.dev = 7;
        int64_t id = store.insert(p.id, parent, name, st, gen);
        if (kind == Kind::file) {
            store.set_content(id, content, false);
        }
        if (gen == 1) {
            t.mark_delivered(id, 1);
        }
        return id;
    }
    static PairSettings settings(const TestDir& dir) {
        return {.name = "p", .source = dir / "src", .dest = dir / "dst"};
    }
    Catalog c;
    PairSettings s;
    Pair p;
    EntryStore store;
    TransitStore t;
    int64_t content;
    int64_t old_dir = 0;
    int64_t new_dir = 0;
};
} // namespace

TEST(DirMove, MovedKnowledgeIsTakenOnlyWhereTheDestinationHoldsIt) {
    TestDir dir;
    namespace fs = std::filesystem;
    fs::create_directories(dir / "dst/e/is-a-dir");
    auto write = [&](const char* name, const char* text, timespec mtime = {delivered, 0}) {
        std::ofstream(dir / "dst/e/" + name) << text;
        timespec times[2] = {{0, UTIME_OMIT}, mtime};
        ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "dst/e/" + name).c_str(), times, 0), 0) << name;
    };
    write("same", "hello");
    write("resized", "hi");
    write("never", "mine!");
    write("retimed", "hullo", {delivered + 3, 0}); // another version of the same size
    write("coarse", "hello", {delivered - 2, 10'000'000}); // the same, on a 2 s timestamp file system
    fs::create_symlink("t1", dir / "dst/e/link");
    fs::create_symlink("other", dir / "dst/e/relinked");

    Moved fx(dir);
    auto& [c, s, p, store, t, content, old_dir, new_dir] = fx;
    // Each name: delivered under d/ (gone from the source since) when `known`,
    // and the source's new entry under e/.
    std::map<std::string, int64_t> ids{{"e", new_dir}};
    auto entry = [&](const std::string& name, Kind kind, bool known) {
        FileStat st;
        st.kind = kind;
        st.size = kind == Kind::file ? 5 : 0;
        st.target = kind == Kind::symlink ? "t1" : "";
        st.mtime_ns = int64_t{delivered} * 1'000'000'000;
        for (const char* parent : {"d", "e"}) {
            int64_t id = store.insert(p.id, parent, name, st, 1);
            if (kind == Kind::file) {
                store.set_content(id, content, false);
            }
            if (parent == std::string("d")) {
                if (known) {
                    t.mark_delivered(id, 1);
                }
                store.mark_gone(id, 2);
            } else {
                ids[name] = id;
            }
        }
    };
    entry("same", Kind::file, true);
    entry("resized", Kind::file, true);
    entry("retimed", Kind::file, true);
    entry("coarse", Kind::file, true);
    entry("missing", Kind::file, true);
    entry("is-a-dir", Kind::file, true);
    entry("link", Kind::symlink, true);
    entry("relinked", Kind::symlink, true);
    entry("never", Kind::file, false); // nothing known there: nothing to check
    entry("..", Kind::dir, true);      // a hostile catalog's name: not looked up
    write("edited", "hello");
    entry("edited", Kind::file, true);
    write("superseded", "hello");
    entry("superseded", Kind::file, true);
    write("raised", "hello");
    entry("raised", Kind::file, true);
    // The scan that found the rename stamped every entry 2; d's names were
    // delivered at 1. e/edited changed at the source since (its version is not
    // what stands there), e/superseded is an older observation than its
    // delivery, and the order record gave e/raised another drive's later intent.
    c.db().prepare("UPDATE entries SET ord = 2").run();
    auto set = [&](const char* name, const char* sql) {
        c.db().prepare(std::string("UPDATE entries SET ") + sql + " WHERE id = ?").bind(1, ids.at(name)).run();
    };
    set("edited", "mtime_ns = mtime_ns + 1000000000");
    set("superseded", "ord = 0");
    set("raised", "d_ord = 3");

    DestTree tree(s.dest);
    KnownAtDestCheck check(t, tree);
    int64_t moved = 0;
    t.move_dest_subtree(p.id, old_dir, "d", EntryPath{"", "e"}, [&](const TransitStore::MovedOnto& m) {
        ++moved;
        check(m);
    });
    EXPECT_EQ(moved, 14) << "the directory and its thirteen names";
    auto state = [&](const std::string& name) {
        Statement st = c.db().prepare("SELECT d_kind IS NOT NULL, d_damaged FROM entries WHERE id = ?");
        st.bind(1, ids.at(name));
        EXPECT_TRUE(st.step());
        return std::pair{st.column_int(0) != 0, st.column_int(1) != 0}; // known, damaged
    };
    EXPECT_EQ(state("e"), std::pair(true, false)) << "the directory itself, at the root";
    EXPECT_EQ(state("same"), std::pair(true, false));
    EXPECT_EQ(state("link"), std::pair(true, false));
    EXPECT_EQ(state("coarse"), std::pair(true, false)) << "an mtime within the destination's resolution";
    EXPECT_EQ(state("never"), std::pair(false, false));
    EXPECT_EQ(state("resized"), std::pair(true, true)) << "another size: another version stands there";
    EXPECT_EQ(state("retimed"), std::pair(true, true)) << "the same size, another mtime: another version";
    EXPECT_EQ(state("missing"), std::pair(true, true));
    EXPECT_EQ(state("is-a-dir"), std::pair(true, true)) << "another kind";
    EXPECT_EQ(state("relinked"), std::pair(true, true)) << "another target";
    EXPECT_EQ(state(".."), std::pair(true, true)) << "e/.. is the root, a directory: not looked up";
    EXPECT_EQ(check.stale(), 6);
    // What the check found there as the source's entry has it is that entry's
    // version, delivered at its order (as mark_delivered records a delivery;
    // the run's order record names it so): the rest keep the old name's.
    auto d_ord = [&](const std::string& name) {
        Statement st = c.db().prepare("SELECT d_ord FROM entries WHERE id = ?");
        st.bind(1, ids.at(name));
        EXPECT_TRUE(st.step());
        return st.column_int(0);
    };
    for (const char* name : {"e", "same", "link", "coarse"}) {
        EXPECT_EQ(d_ord(name), 2) << name;
    }
    for (const char* name : {"resized", "retimed", "missing", "is-a-dir", "relinked", ".."}) {
        EXPECT_EQ(d_ord(name), 1) << name << ": damaged there";
    }
    EXPECT_EQ(state("edited"), std::pair(true, false));
    EXPECT_EQ(d_ord("edited"), 1) << "not the entry's version";
    EXPECT_EQ(d_ord("superseded"), 1) << "an older observation than the delivery";
    EXPECT_EQ(d_ord("raised"), 3) << "another drive's later intent there was lowered";
    EXPECT_EQ(d_ord("never"), 0);
}

// A file rewritten at the source (a new inode) before its directory was
// renamed: where its old inode still has another name, the delivered copy the
// move takes is a link shared with that name, so it is undelivered (its
// delivered mtime forgotten) for unload to give it a file of its own; the
// same rule as a scan's (EntryStore::leave_link_group).
TEST(DirMove, ARewrittenFileLeavesItsOldLinkGroup) {
    TestDir dir;
    Moved fx(dir);
    auto& [c, s, p, store, t, content, old_dir, new_dir] = fx;
    auto file = [&](const std::string& parent, const std::string& name, uint64_t ino) {
        return fx.add(parent, name, Kind::file, ino, 1);
    };
    std::map<std::string, int64_t> ids;
    // name: its old inode under d/, its inode under e/, another name's inode
    // elsewhere (0: none).
    for (auto [name, old_ino, new_ino, other] :
         {std::tuple{"alone", 100, 101, 0}, std::tuple{"grouped", 200, 201, 200},
          std::tuple{"same", 300, 300, 300}, std::tuple{"unrelated", 400, 401, 402}}) {
        store.mark_gone(file("d", name, static_cast<uint64_t>(old_ino)), 2);
        ids[name] = file("e", name, static_cast<uint64_t>(new_ino));
        if (other != 0) {
            file("", std::string("w-") + name, static_cast<uint64_t>(other));
        }
    }
    c.db().prepare("UPDATE entries SET ord = 2").run(); // the scan that found the rename
    t.move_dest_subtree(p.id, old_dir, "d", EntryPath{"", "e"}, nullptr);
    auto undelivered = [&](const std::string& name) {
        Statement st = c.db().prepare("SELECT d_kind IS NOT NULL, d_mtime_ns IS NULL FROM entries WHERE id = ?");
        st.bind(1, ids.at(name));
        if (!st.step()) {
            ADD_FAILURE() << name << ": no entry";
            return false;
        }
        EXPECT_EQ(st.column_int(0), 1) << name << ": the move's knowledge taken";
        return st.column_int(1) != 0;
    };
    EXPECT_FALSE(undelivered("alone")) << "the old inode's only name was the moved one";
    EXPECT_TRUE(undelivered("grouped")) << "the old inode has another name: w-grouped";
    EXPECT_FALSE(undelivered("same")) << "not rewritten: still the group's link";
    EXPECT_FALSE(undelivered("unrelated")) << "the other name is on another inode";
    Statement st = c.db().prepare("SELECT d_ord FROM entries WHERE id = ?");
    st.bind(1, ids.at("grouped"));
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_int(0), 1) << "the shared file is not the entry's version: not delivered at its order";
    st.reset();
    st.bind(1, ids.at("alone"));
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_int(0), 2) << "delivered, at its order";
}

// A scan's gone directory (mark_subtree_gone), the unload's search for renamed
// directories (renamed_dirs) and its move (move_dest_subtree) read the rows at
// and below the directories concerned, through ranges of an index, and not the
// pair's other rows, here 10,000 of them in directories whose names sort next
// to d's ("d-x", "d.x" sort between "d" and "d/"). Written as "parent = ? OR
// parent in a range", the planner read every row of the pair for each
// directory, and renamed_dirs read every gone row for each new directory: a
// scan of 300,000 files took 342 s after 1,500 of their directories were
// renamed. The bounds: here about 12,500, 200 and 31,000 steps; the statements
// as they were took 107,000, 50,000 and 182,000.
TEST(DirMove, GoneAndMovedDirectoriesReadOnlyTheirOwnRows) {
    TestDir dir;
    Moved fx(dir);
    auto& [c, s, p, store, t, content, old_dir, new_dir] = fx;
    uint64_t ino = 1000;
    // The rows written in one transaction, not each synced.
    std::optional<Transaction> tx(std::in_place, c.db());
    auto add = [&](const std::string& parent, const std::string& name, Kind kind, int64_t gen) {
        return fx.add(parent, name, kind, ++ino, gen);
    };
    for (const char* other : {"c", "d-x", "d.x", "e0"}) {
        for (int i = 0; i < 2500; ++i) {
            add(other, "h" + std::to_string(i), Kind::file, 1);
        }
    }
    // d/ as the destination has it: ten files and a directory of ten more.
    int64_t old_sub = add("d", "s", Kind::dir, 1);
    for (int i = 0; i < 10; ++i) {
        add("d", "f" + std::to_string(i), Kind::file, 1);
        add("d/s", "g" + std::to_string(i), Kind::file, 1);
    }
    tx->commit();
    tx.reset();
    // The work in a transaction of its own, as scan and unload run it.
    auto reads = [&](const std::function<void()>& work) {
        uint64_t before = c.db().vm_steps();
        Transaction work_tx(c.db());
        work();
        work_tx.commit();
        return c.db().vm_steps() - before;
    };
    // The scan: d is gone (the fixture marked d itself), e is new.
    EntryStore::SubtreeGone gone;
    uint64_t steps = reads([&] { gone = store.mark_subtree_gone(p.id, "d", 2); });
    EXPECT_EQ(gone.others, 20);
    EXPECT_EQ(gone.dirs, 1);
    EXPECT_LT(steps, 25'000u) << "mark_subtree_gone read rows outside d";
    tx.emplace(c.db());
    int64_t new_sub = add("e", "s", Kind::dir, 2);
    c.db().prepare("UPDATE entries SET ino = (SELECT ino FROM entries WHERE id = ?1) WHERE id = ?2")
        .bind(1, old_sub).bind(2, new_sub).run();
    for (int i = 0; i < 10; ++i) {
        add("e", "f" + std::to_string(i), Kind::file, 2);
        add("e/s", "g" + std::to_string(i), Kind::file, 2);
    }
    tx->commit();
    // The unload: d -> e and d/s -> e/s found, then d moved.
    std::vector<std::pair<int64_t, int64_t>> renamed;
    steps = reads([&] { renamed = t.renamed_dirs(p.id); });
    EXPECT_EQ(renamed, (std::vector<std::pair<int64_t, int64_t>>{{new_dir, old_dir}, {new_sub, old_sub}}));
    EXPECT_LT(steps, 2000u) << "renamed_dirs read rows beyond the gone ones and their inodes";
    steps = reads([&] { t.move_dest_subtree(p.id, old_dir, "d", EntryPath{"", "e"}, nullptr); });
    EXPECT_LT(steps, 60'000u) << "move_dest_subtree read rows outside d";
    // Paths are blobs: "parent = 'e'" (text) would match nothing.
    Statement left = c.db().prepare(
        "WITH e AS (SELECT * FROM entries WHERE CAST(parent AS TEXT) IN ('e', 'e/s')) "
        "SELECT (SELECT count(*) FROM entries WHERE CAST(parent AS TEXT) IN ('d', 'd/s')), "
        "(SELECT count(*) FROM e), (SELECT count(*) FROM e WHERE d_kind IS NOT NULL)");
    ASSERT_TRUE(left.step());
    EXPECT_EQ(left.column_int(0), 0) << "rows left under d";
    EXPECT_EQ(left.column_int(1), 21) << "e's rows";
    EXPECT_EQ(left.column_int(2), 21) << "e's rows, each taking what the destination holds";
}
