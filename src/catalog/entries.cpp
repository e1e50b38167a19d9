#include "barge/catalog/entries.hpp"
#include "barge/catalog/transit.hpp"

#include "barge/catalog/contents.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <limits>
#include <sys/sysmacros.h>

namespace barge {

namespace {

// New entries match_renames decides per query: the memory it holds.
constexpr int64_t rename_page = 4096;

// A file gone from the source is no longer missed (TransitStore::note_miss): a
// file created at its path later starts without its misses. A failure stays.
const std::string& sql_misses_over() {
    static const std::string sql = TransitStore::sql_end_misses("1");
    return sql;
}

// Binds a FileStat to ?first .. ?first+10 in the order of the stat columns.
void bind_stat(Statement& st, int first, const FileStat& s) {
    st.bind(first, static_cast<int>(s.kind))
        .bind(first + 1, static_cast<int64_t>(s.mode))
        .bind(first + 2, static_cast<int64_t>(s.uid))
        .bind(first + 3, static_cast<int64_t>(s.gid))
        .bind(first + 4, s.size)
        .bind(first + 5, s.mtime_ns)
        .bind(first + 6, s.ctime_ns)
        .bind(first + 7, static_cast<int64_t>(s.ino))
        .bind(first + 8, static_cast<int64_t>(s.dev));
    if (s.kind == Kind::symlink) {
        st.bind_blob(first + 9, s.target);
    } else if (is_device(s.kind)) {
        st.bind_blob(first + 9, device_number_text(s.rdev));
    } else {
        st.bind_null(first + 9);
    }
    if (s.xattrs.empty()) {
        st.bind_null(first + 10);
    } else {
        st.bind_blob(first + 10, s.xattrs);
    }
}

} // namespace

const char* const sql_stat_columns =
    "kind, mode, uid, gid, size, mtime_ns, ctime_ns, ino, dev, target, xattrs";

const char* const sql_leave_link_group =
    "UPDATE entries SET d_mtime_ns = NULL WHERE id = ?1 AND d_kind = 1 AND EXISTS (SELECT 1 FROM "
    "entries x INDEXED BY entries_inode WHERE x.pair_id = ?2 AND x.ino = ?3 AND x.dev = ?4 AND "
    "x.id != ?5 AND (x.kind = 1 OR (x.kind IS NULL AND x.d_kind = 1)))";

namespace {

// The stat columns in read_stat_columns' order; with delivered, those the
// catalog keeps as delivered too (d_kind, ...) are read from there.
std::string columns_of(const char* alias, bool delivered) {
    std::string out;
    for (std::string_view c : {"kind", "mode", "uid", "gid", "size", "mtime_ns", "ctime_ns", "ino", "dev",
                               "target", "xattrs"}) {
        bool kept = c != "size" && c != "ctime_ns" && c != "ino" && c != "dev";
        out += fmt::format("{}{}.{}{}", out.empty() ? "" : ", ", alias, delivered && kept ? "d_" : "", c);
    }
    return out;
}

} // namespace

std::string stat_columns_of(const char* alias) {
    return columns_of(alias, false);
}

std::string delivered_stat_columns_of(const char* alias) {
    return columns_of(alias, true);
}

FileStat read_stat_columns(const Statement& st, int first) {
    FileStat s;
    s.kind = st.is_null(first) ? Kind::file : static_cast<Kind>(st.column_int(first));
    s.mode = static_cast<uint32_t>(st.column_int(first + 1));
    s.uid = static_cast<uint32_t>(st.column_int(first + 2));
    s.gid = static_cast<uint32_t>(st.column_int(first + 3));
    s.size = st.column_int(first + 4);
    s.mtime_ns = st.column_int(first + 5);
    s.ctime_ns = st.column_int(first + 6);
    s.ino = static_cast<uint64_t>(st.column_int(first + 7));
    s.dev = static_cast<uint64_t>(st.column_int(first + 8));
    s.target = st.column_blob(first + 9);
    if (is_device(s.kind)) {
        s.rdev = parse_device_number(s.target);
        s.target.clear();
    }
    s.xattrs = st.column_blob(first + 10);
    return s;
}

std::string device_number_text(uint64_t rdev) {
    return fmt::format("{}:{}", major(rdev), minor(rdev));
}

uint64_t parse_device_number(std::string_view text) {
    unsigned int maj = 0, min = 0;
    std::string s(text);
    char end = 0;
    if (std::sscanf(s.c_str(), "%u:%u%c", &maj, &min, &end) != 2) {
        throw CatalogError(fmt::format("the catalog holds a device number '{}' that barge did "
                                       "not write", escape_bytes(text)));
    }
    return makedev(maj, min);
}

Statement& bind_below(Statement& st, int64_t pair_id, std::string_view dir) {
    // Below dir, deeper than its children: from dir + "/" up to dir + "0" ('/' + 1).
    std::string lo(dir), hi(dir);
    lo += '/';
    hi += static_cast<char>('/' + 1);
    return st.bind(1, pair_id).bind_blob(2, dir).bind_blob(3, lo).bind_blob(4, hi);
}

EntryStore::EntryStore(Database& db, int64_t ord)
    : m_db(db), m_ord(ord),
      m_children(db.prepare(std::string("SELECT id, name, ") + sql_stat_columns +
                            ", content_id, racy FROM entries WHERE pair_id = ? AND parent = ? "
                            "ORDER BY name")),
      m_insert(db.prepare(std::string("INSERT INTO entries(pair_id, parent, name, ") +
                          sql_stat_columns +
                          ", changed_gen, ord) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")),
      m_update_keep(db.prepare("UPDATE entries SET kind=?, mode=?, uid=?, gid=?, size=?, "
                               "mtime_ns=?, ctime_ns=?, ino=?, dev=?, target=?, xattrs=?, "
                               "changed_gen=?, ord=?, shelved_ord=NULL WHERE id=?")),
      // A path whose kind changed starts without the misses of what stood there
      // (?1 is the new kind; the SET reads the old row).
      m_update_forget(
          db.prepare("UPDATE entries SET kind=?, mode=?, uid=?, gid=?, size=?, "
                     "mtime_ns=?, ctime_ns=?, ino=?, dev=?, target=?, xattrs=?, "
                     "changed_gen=?, ord=?, shelved_ord=NULL, content_id=NULL, racy=0, " +
                     TransitStore::sql_end_misses("kind IS NOT ?1") + " WHERE id=?")),
      m_leave_group(db.prepare(sql_leave_link_group)),
      m_gone(db.prepare(fmt::format("UPDATE entries SET kind = NULL, changed_gen = ?, ord = ?, "
                                    "shelved_ord = NULL, {} WHERE id = ?",
                                    sql_misses_over()))),
      m_set_content(db.prepare("UPDATE entries SET content_id = ?, racy = ? WHERE id = ?")),
      m_inode_content(
          db.prepare("SELECT 1 FROM entries INDEXED BY entries_inode WHERE pair_id = ?1 "
                     "AND ino = ?2 AND dev = ?3 AND size = ?4 AND mtime_ns = ?5 AND "
                     "content_id IS NOT NULL LIMIT 1")) {}

std::vector<EntryRow> EntryStore::children(int64_t pair_id, std::string_view parent) {
    std::vector<EntryRow> out;
    m_children.bind(1, pair_id).bind_blob(2, parent);
    while (m_children.step()) {
        EntryRow r;
        r.id = m_children.column_int(0);
        r.name = m_children.column_blob(1);
        if (!m_children.is_null(2)) {
            r.kind = static_cast<Kind>(m_children.column_int(2));
        }
        r.st = read_stat_columns(m_children, 2);
        r.content_id = m_children.column_optional_int(2 + stat_column_count);
        r.racy = m_children.column_int(3 + stat_column_count) != 0;
        out.push_back(std::move(r));
    }
    m_children.reset();
    return out;
}

int64_t EntryStore::insert(int64_t pair_id, std::string_view parent, std::string_view name,
                           const FileStat& st, int64_t gen) {
    m_insert.bind(1, pair_id).bind_blob(2, parent).bind_blob(3, name);
    bind_stat(m_insert, 4, st);
    m_insert.bind(4 + stat_column_count, gen).bind(5 + stat_column_count, m_ord);
    m_insert.run();
    return m_db.last_insert_rowid();
}

void EntryStore::update(int64_t id, const FileStat& st, int64_t gen, ForgetContent forget) {
    Statement& s = forget == ForgetContent::yes ? m_update_forget : m_update_keep;
    bind_stat(s, 1, st);
    s.bind(1 + stat_column_count, gen).bind(2 + stat_column_count, m_ord).bind(3 + stat_column_count, id);
    s.run();
}

bool EntryStore::leave_link_group(int64_t id, int64_t pair_id, const FileStat& old) {
    m_leave_group.bind(1, id)
        .bind(2, pair_id)
        .bind(3, static_cast<int64_t>(old.ino))
        .bind(4, static_cast<int64_t>(old.dev))
        .bind(5, id)
        .run();
    return m_db.changes() > 0;
}

void EntryStore::mark_gone(int64_t id, int64_t gen) {
    m_gone.bind(1, gen).bind(2, m_ord).bind(3, id).run();
}

EntryStore::SubtreeGone EntryStore::mark_subtree_gone(int64_t pair_id, std::string_view dir, int64_t gen) {
    Statement count = m_db.prepare(fmt::format(
        "SELECT sum(kind != 2), sum(kind = 2) FROM (SELECT kind FROM entries WHERE {} UNION ALL "
        "SELECT kind FROM entries WHERE {}) WHERE kind IS NOT NULL",
        sql_below_children, sql_below_deeper));
    SubtreeGone n;
    if (bind_below(count, pair_id, dir).step()) { // NULL sums (nothing below) read as 0
        n.others = count.column_int(0);
        n.dirs = count.column_int(1);
    }
    for (const char* below : {sql_below_children, sql_below_deeper}) {
        Statement upd = m_db.prepare(fmt::format(
            "UPDATE entries SET kind = NULL, changed_gen = ?5, ord = ?6, shelved_ord = NULL, {} "
            "WHERE {} AND kind IS NOT NULL",
            sql_misses_over(), below));
        bind_below(upd, pair_id, dir).bind(5, gen).bind(6, m_ord).run();
    }
    return n;
}

int64_t EntryStore::count_present(int64_t pair_id) {
    // The delivered ones as kept (pair_delivered), the others from their index: no
    // pass over every entry (schema.cpp, version 2).
    static const std::string sql = fmt::format(
        "SELECT coalesce((SELECT files FROM pair_delivered WHERE pair_id = ?1), 0) + (SELECT "
        "count(*) FROM entries e INDEXED BY entries_undelivered WHERE e.pair_id = ?1 AND {counted} "
        "AND NOT {delivered})",
        fmt::arg("counted", sql_counted("e")),
        fmt::arg("delivered", sql_delivered));
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    return st.step() ? st.column_int(0) : 0;
}

void EntryStore::match_renames(int64_t pair_id, int64_t gen,
                               const std::function<bool(const RenameCandidate&)>& same_file,
                               const std::function<void(const RenameMatch&)>& on_match) {
    // The same inode with the same size and mtime may be the same file under a new
    // name (ctime is not compared: rename(2) updates it on most file systems), or
    // a new file on the inode the old one freed: same_file tells them apart.
    // The new entries come in id order, a page of rename_page of them at a time:
    // the matches of a page are written once the query is reset, so that a whole
    // tree renamed takes no memory per file. The plan is pinned so that nothing is
    // sorted: the new entries outer, from the content index's NULL range (in rowid
    // order, entered past the last page), each one's old entries from the inode
    // index (in id order for one inode). It visits every entry without a content
    // (this scan's new files, directories, symlinks), and runs only when the scan
    // found deletions.
    Statement st = m_db.prepare(
        "SELECT n.id, o.id, o.content_id, o.racy, n.parent, n.name, n.ino, n.dev, o.ctime_ns "
        "FROM entries AS n INDEXED BY entries_content "
        "CROSS JOIN entries AS o INDEXED BY entries_inode ON n.pair_id = o.pair_id AND n.ino = o.ino "
        "AND n.dev = o.dev AND n.size = o.size AND n.mtime_ns = o.mtime_ns AND n.id != o.id "
        "WHERE o.pair_id = ?1 AND o.changed_gen = ?2 AND o.kind IS NULL "
        "AND o.content_id IS NOT NULL AND n.changed_gen = ?2 AND n.kind = 1 "
        "AND n.content_id IS NULL AND n.id > ?3 ORDER BY n.id, o.id");
    struct Found {
        RenameMatch match;
        int64_t content_id = 0;
        bool racy = false;
    };
    std::vector<Found> page;
    int64_t after = std::numeric_limits<int64_t>::min(); // the last new entry decided
    for (bool more = true; more;) {
        more = false;
        page.clear();
        int64_t new_entries = 0;
        bool matched = false; // the entry `after` has its match
        st.bind(1, pair_id).bind(2, gen).bind(3, after);
        while (st.step()) {
            int64_t nid = st.column_int(0);
            if (nid != after) {
                if (new_entries == rename_page) {
                    more = true; // this one starts the next page
                    break;
                }
                ++new_entries;
                after = nid;
                matched = false;
            }
            if (matched) {
                continue; // one match per new entry
            }
            if (!same_file({st.column_blob(4), st.column_blob(5), static_cast<uint64_t>(st.column_int(6)),
                            static_cast<uint64_t>(st.column_int(7)), st.column_int(8)})) {
                continue; // another old entry of the inode may still be its past
            }
            page.push_back({{nid, st.column_int(1)}, st.column_int(2), st.column_int(3) != 0});
            matched = true;
        }
        st.reset();
        for (const Found& f : page) {
            set_content(f.match.new_id, f.content_id, f.racy);
            on_match(f.match);
        }
    }
}

bool EntryStore::any_content(int64_t pair_id) {
    Statement st = m_db.prepare("SELECT 1 FROM entries WHERE pair_id = ?1 AND content_id IS NOT NULL LIMIT 1");
    st.bind(1, pair_id);
    return st.step();
}

bool EntryStore::inode_has_content(int64_t pair_id, const FileStat& st) {
    m_inode_content.bind(1, pair_id)
        .bind(2, static_cast<int64_t>(st.ino))
        .bind(3, static_cast<int64_t>(st.dev))
        .bind(4, st.size)
        .bind(5, st.mtime_ns);
    bool found = m_inode_content.step();
    m_inode_content.reset();
    return found;
}

int64_t EntryStore::count_deletions_to_restamp(int64_t pair_id) {
    Statement st = m_db.prepare("SELECT count(*) FROM entries INDEXED BY entries_gone WHERE pair_id = ?1 "
                                "AND kind IS NULL AND d_kind IS NOT NULL AND d_kind != 2 AND ord < d_ord");
    st.bind(1, pair_id);
    int64_t n = st.step() ? st.column_int(0) : 0;
    st.reset();
    return n;
}

int64_t EntryStore::restamp_superseded(int64_t pair_id, int64_t ord) {
    static const std::string present = fmt::format(
        "UPDATE entries AS e INDEXED BY entries_superseded SET ord = ?2, shelved_ord = NULL WHERE "
        "e.pair_id = ?1 AND e.ord < e.d_ord AND {counted} AND NOT {delivered}",
        fmt::arg("counted", sql_counted("e")),
        fmt::arg("delivered", std::string(sql_delivered)));
    int64_t n = 0;
    Statement a = m_db.prepare(present);
    a.bind(1, pair_id).bind(2, ord).run();
    n += m_db.changes();
    Statement b = m_db.prepare("UPDATE entries INDEXED BY entries_gone SET ord = ?2 WHERE pair_id = ?1 "
                               "AND kind IS NULL AND (ord < d_ord OR (d_kind IS NULL AND ord <= 0))");
    b.bind(1, pair_id).bind(2, ord).run();
    n += m_db.changes();
    return n;
}

namespace {
// The files hash_jobs hands out: no content yet, or a racy one.
constexpr const char* sql_to_hash = "kind = 1 AND (content_id IS NULL OR racy = 1)";
} // namespace

EntryStore::HashWork EntryStore::hash_work(int64_t pair_id, int64_t after_id) {
    Statement st = m_db.prepare(std::string("SELECT count(*), total(size) FROM entries WHERE "
                                            "pair_id = ? AND id > ? AND ") + sql_to_hash);
    st.bind(1, pair_id).bind(2, after_id);
    if (!st.step()) {
        return {};
    }
    return {st.column_int(0), static_cast<int64_t>(st.column_double(1))};
}

std::vector<HashJob> EntryStore::hash_jobs(int64_t pair_id, int64_t after_id, int limit) {
    Statement st = m_db.prepare(std::string("SELECT id, parent, name, ") + sql_stat_columns +
                                ", content_id FROM entries WHERE +pair_id = ? AND id > ? AND " +
                                sql_to_hash + " ORDER BY id LIMIT ?");
    // "+pair_id": walk the rowid range in order; an index on pair_id would make
    // every batch visit and sort all of the pair's rows.
    st.bind(1, pair_id).bind(2, after_id).bind(3, limit);
    std::vector<HashJob> out;
    while (st.step()) {
        HashJob j;
        j.id = st.column_int(0);
        j.path = join_path(st.column_blob(1), st.column_blob(2));
        j.st = read_stat_columns(st, 3);
        j.content_id = st.column_optional_int(3 + stat_column_count);
        out.push_back(std::move(j));
    }
    return out;
}

int64_t EntryStore::content_id(const Digest& hash, int64_t size) {
    return upsert_content(m_db, hash, size);
}

void EntryStore::set_content(int64_t id, int64_t content_id, bool racy) {
    m_set_content.bind(1, content_id).bind(2, racy ? 1 : 0).bind(3, id).run();
}

} // namespace barge
