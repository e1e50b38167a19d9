// A directory moved whole at the destination takes the catalog's knowledge of
// what was under it (TransitStore::move_dest_subtree). That knowledge may be
// older than the destination: another drive moved, replaced or deleted a name
// under the old directory since. MovedKnowledgeCheck takes it only where the
// destination holds what it says (the kind, a file's size, a symlink's
// target) and marks the rest damaged, to be delivered again.
#include "../test_dir.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/engine/dir_move.hpp"
#include "barge/fs/dest_tree.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <string>

using namespace barge;

TEST(DirMove, MovedKnowledgeIsTakenOnlyWhereTheDestinationHoldsIt) {
    TestDir dir;
    namespace fs = std::filesystem;
    fs::create_directories(dir / "dst/e/is-a-dir");
    auto write = [&](const char* name, const char* text) { std::ofstream(dir / "dst/e/" + name) << text; };
    write("same", "hello");
    write("resized", "hi");
    write("never", "mine!");
    fs::create_symlink("t1", dir / "dst/e/link");
    fs::create_symlink("other", dir / "dst/e/relinked");

    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    PairSettings s;
    s.name = "p";
    s.source = dir / "src";
    s.dest = dir / "dst";
    Pair p = c.add_pair(s, "u");
    EntryStore store(c.db(), 1);
    TransitStore t(c.db());
    int64_t content = store.content_id(Digest{}, 5);
    // Each name: delivered under d/ (gone from the source since) when `known`,
    // and the source's new entry under e/.
    FileStat dir_st;
    dir_st.kind = Kind::dir;
    int64_t old_dir = store.insert(p.id, "", "d", dir_st, 1);
    t.mark_delivered(old_dir, 1);
    store.mark_gone(old_dir, 2);
    std::map<std::string, int64_t> ids{{"e", store.insert(p.id, "", "e", dir_st, 2)}};
    auto entry = [&](const std::string& name, Kind kind, bool known) {
        FileStat st;
        st.kind = kind;
        st.size = kind == Kind::file ? 5 : 0;
        st.target = kind == Kind::symlink ? "t1" : "";
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
    entry("missing", Kind::file, true);
    entry("is-a-dir", Kind::file, true);
    entry("link", Kind::symlink, true);
    entry("relinked", Kind::symlink, true);
    entry("never", Kind::file, false); // nothing known there: nothing to check
    entry("..", Kind::dir, true);      // a hostile catalog's name: not looked up

    DestTree tree(s.dest);
    MovedKnowledgeCheck check(t, tree);
    int64_t moved = 0;
    t.move_dest_subtree(p.id, old_dir, "d", EntryPath{"", "e"}, [&](const TransitStore::MovedOnto& m) {
        ++moved;
        check(m);
    });
    EXPECT_EQ(moved, 9) << "the directory and its eight names";
    auto state = [&](const std::string& name) {
        Statement st = c.db().prepare("SELECT d_kind IS NOT NULL, d_damaged FROM entries WHERE id = ?");
        st.bind(1, ids.at(name));
        EXPECT_TRUE(st.step());
        return std::pair{st.column_int(0) != 0, st.column_int(1) != 0}; // known, damaged
    };
    EXPECT_EQ(state("e"), std::pair(true, false)) << "the directory itself, at the root";
    EXPECT_EQ(state("same"), std::pair(true, false));
    EXPECT_EQ(state("link"), std::pair(true, false));
    EXPECT_EQ(state("never"), std::pair(false, false));
    EXPECT_EQ(state("resized"), std::pair(true, true)) << "another size: another version stands there";
    EXPECT_EQ(state("missing"), std::pair(true, true));
    EXPECT_EQ(state("is-a-dir"), std::pair(true, true)) << "another kind";
    EXPECT_EQ(state("relinked"), std::pair(true, true)) << "another target";
    EXPECT_EQ(state(".."), std::pair(true, true)) << "e/.. is the root, a directory: not looked up";
    EXPECT_EQ(check.stale(), 5);
}
