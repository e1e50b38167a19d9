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
    std::map<std::string, int64_t> ids;
    auto entry = [&](const std::string& name, Kind kind, bool delivered) {
        FileStat st;
        st.kind = kind;
        st.size = kind == Kind::file ? 5 : 0;
        st.target = kind == Kind::symlink ? "t1" : "";
        int64_t id = store.insert(p.id, "e", name, st, 1);
        if (kind == Kind::file) {
            store.set_content(id, content, false);
        }
        if (delivered) {
            t.mark_delivered(id, 1);
        }
        ids[name] = id;
    };
    entry("same", Kind::file, true);
    entry("resized", Kind::file, true);
    entry("missing", Kind::file, true);
    entry("is-a-dir", Kind::file, true);
    entry("link", Kind::symlink, true);
    entry("relinked", Kind::symlink, true);
    entry("never", Kind::file, false); // nothing known there: nothing to check

    DestTree tree(s.dest);
    MovedKnowledgeCheck check(t, tree);
    for (const auto& [name, id] : ids) {
        check(id, EntryPath{"e", name});
    }
    auto damaged = [&](const std::string& name) {
        Statement st = c.db().prepare("SELECT d_damaged FROM entries WHERE id = ?");
        st.bind(1, ids.at(name));
        EXPECT_TRUE(st.step());
        return st.column_int(0) != 0;
    };
    EXPECT_FALSE(damaged("same"));
    EXPECT_FALSE(damaged("link"));
    EXPECT_FALSE(damaged("never"));
    EXPECT_TRUE(damaged("resized")) << "another size: another version stands there";
    EXPECT_TRUE(damaged("missing"));
    EXPECT_TRUE(damaged("is-a-dir")) << "another kind";
    EXPECT_TRUE(damaged("relinked")) << "another target";
    EXPECT_EQ(check.stale(), 4);
}
