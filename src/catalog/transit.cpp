#include "barge/catalog/transit.hpp"

#include "barge/catalog/contents.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <tuple>

namespace barge {

// schema.cpp (version 4) repeats this condition term for term in the partial
// index entries_undelivered and the triggers that keep pair_delivered.
// IS, not =: a never-delivered row has NULL d_ columns, and "NOT (NULL = x)" is
// NULL, which would drop it from every "not delivered" query.
const char* const sql_delivered =
    "(e.d_kind IS NOT NULL AND e.d_kind IS e.kind AND e.d_mode IS e.mode AND "
    "e.d_uid IS e.uid AND e.d_gid IS e.gid AND e.d_mtime_ns IS e.mtime_ns AND "
    "e.d_target IS e.target AND e.d_xattrs IS e.xattrs AND e.d_damaged = 0 AND "
    "(e.kind IS NOT 1 OR (e.content_id IS NOT NULL AND e.d_content_id IS e.content_id)))";

namespace {

// Entry "x" holds at the destination, for entry "e", a verified copy that no
// delivery will replace (the caller matches x.d_content_id to the content).
constexpr const char* holder_of_pair = "x.d_kind = 1 AND x.d_damaged = 0 AND x.ord >= x.d_ord AND "
                                       "(x.kind IS NULL OR x.content_id IS x.d_content_id)";
const std::string holder_condition = std::string("x.pair_id = e.pair_id AND ") + holder_of_pair;

// Entry "x" is the old name of a rename of entry "e": a delivered, undamaged
// file gone from the source with e's content.
constexpr const char* rename_source_condition =
    "x.d_content_id = e.content_id AND x.pair_id = e.pair_id AND x.kind IS NULL AND "
    "x.d_kind = 1 AND x.d_damaged = 0 AND x.ord >= x.d_ord AND x.ord <= 4611686018427387903";

// The id of the old name entry "e" takes (renames, rename_source): one of e's own
// source file (its inode) first, else the lowest id of the others. A link group's
// name met first in path order must take its own file's old name, not another
// file's of that content: the group's other names are linked to it, and one of
// them taking its own file's old name after it would split the group at the
// destination (random_history.sh seed 139). Each lookup stops at its first row,
// through the content index, and only where that finds one (a file with no old
// name, as in a first unload, costs what it did), through the inode index.
const std::string rename_source_by_content =
    std::string("(SELECT x.id FROM entries x WHERE ") + rename_source_condition + " ORDER BY x.id LIMIT 1)";
const std::string rename_source_id =
    "CASE WHEN " + rename_source_by_content + " IS NULL THEN NULL ELSE coalesce((SELECT x.id FROM entries x "
    "INDEXED BY entries_inode WHERE x.pair_id = e.pair_id AND x.ino = e.ino AND x.dev = e.dev AND e.ino != 0 "
    "AND " + rename_source_condition + " ORDER BY x.id LIMIT 1), " + rename_source_by_content + ") END";

} // namespace

// An entry's version is not older than what the destination holds (SPEC §7.12):
// it may be delivered. An older one (another drive delivered a version stamped
// later) is left alone, its file kept in versions/ (TransitStore::superseded).
// The bound: engine/rotation.hpp's order_stamp_bound (INT64_MAX / 2), as a
// literal so that every query can repeat it.
const char* const sql_current = "e.ord >= e.d_ord AND e.ord <= 4611686018427387903";

const char* const sql_carried_elsewhere =
    "(c.hash IS NOT NULL AND EXISTS (SELECT 1 FROM drive_cargo dc JOIN drives dr ON dr.pair_id = "
    "dc.pair_id AND dr.drive_id = dc.drive_id WHERE dc.pair_id = e.pair_id AND dc.hash = c.hash AND "
    "dr.lost_ns IS NULL))";

const std::string& sql_held_at_dest() {
    static const std::string sql =
        std::string("EXISTS (SELECT 1 FROM entries x WHERE x.d_content_id = e.content_id AND ") +
        holder_condition + ")";
    return sql;
}

const std::string& sql_held_at_dest_of_pair() {
    static const std::string sql =
        std::string("SELECT x.d_content_id FROM entries x INDEXED BY entries_d_content WHERE "
                    "x.d_content_id IS NOT NULL AND x.pair_id = ?1 AND ") +
        holder_of_pair;
    return sql;
}

const char* const sql_piece_here =
    "(p.on_cargo = 1 OR EXISTS (SELECT 1 FROM staged s WHERE s.pair_id = e.pair_id AND "
    "s.content_id = cp.content_id AND s.idx = cp.idx))";

std::string EntryPath::rel() const {
    return join_path(parent, name);
}

EntryPath EntryPath::of(std::string_view rel) {
    size_t slash = rel.rfind('/');
    if (slash == std::string_view::npos) {
        return {"", std::string(rel)};
    }
    return {std::string(rel.substr(0, slash)), std::string(rel.substr(slash + 1))};
}

bool ContentOnCargo::complete() const {
    for (int64_t i = 0; i < pieces; ++i) {
        auto k = static_cast<size_t>(i);
        if (!cargo[k] && !staged[k]) {
            return false;
        }
    }
    return true;
}

bool ContentOnCargo::whole_on_cargo() const {
    return std::all_of(cargo.begin(), cargo.end(), [](const auto& p) { return p.has_value(); }) &&
           std::none_of(staged.begin(), staged.end(), [](bool b) { return b; });
}

std::vector<int64_t> ContentOnCargo::missing() const {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < pieces; ++i) {
        auto k = static_cast<size_t>(i);
        if (!cargo[k] && !staged[k]) {
            out.push_back(i);
        }
    }
    return out;
}

namespace {

PieceRow read_piece(const Statement& st, int first) {
    PieceRow p;
    p.id = st.column_int(first);
    p.hash = digest_from_bytes(st.column_blob(first + 1));
    p.size = st.column_int(first + 2);
    p.on_cargo = st.column_int(first + 3) != 0;
    return p;
}

} // namespace

TransitStore::TransitStore(Database& db) : m_db(db) {}

std::vector<LoadCandidate> TransitStore::load_candidates(int64_t pair_id,
                                                         const std::string& after_parent,
                                                         const std::string& after_name, int limit) {
    Statement st = m_db.prepare(
        std::string("SELECT e.id, e.parent, e.name, ") + stat_columns_of("e") +
        ", e.content_id, c.hash, (e.d_kind = 1 AND e.d_damaged = 0 AND (e.d_mtime_ns IS "
        "e.mtime_ns OR e.d_mtime_ns IS NULL) AND (SELECT size FROM contents WHERE id = "
        "e.d_content_id) = e.size), e.fail_reason IS NULL AND e.fail_ns IS NOT NULL FROM "
        "entries e LEFT JOIN contents c ON c.id = e.content_id "
        "WHERE e.pair_id = ? AND e.kind = 1 AND (e.parent, e.name) > (?, ?) AND " +
        sql_current + " AND NOT " + sql_delivered + " AND NOT " + sql_carried_elsewhere +
        " ORDER BY e.parent, e.name LIMIT ?");
    st.bind(1, pair_id).bind_blob(2, after_parent).bind_blob(3, after_name).bind(4, limit);
    std::vector<LoadCandidate> out;
    while (st.step()) {
        LoadCandidate c;
        c.entry_id = st.column_int(0);
        c.parent = st.column_blob(1);
        c.name = st.column_blob(2);
        c.st = read_stat_columns(st, 3);
        c.content_id = st.column_optional_int(3 + stat_column_count);
        if (!st.is_null(4 + stat_column_count)) {
            c.content_hash = digest_from_bytes(st.column_blob(4 + stat_column_count));
        }
        c.same_as_delivered = st.column_int(5 + stat_column_count) != 0;
        c.missed = st.column_int(6 + stat_column_count) != 0;
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<ContentPiece> TransitStore::content_pieces(int64_t content_id) {
    Statement st = m_db.prepare(
        "SELECT cp.idx, cp.offset, p.id, p.hash, p.size, p.on_cargo FROM content_pieces cp "
        "JOIN pieces p ON p.id = cp.piece_id WHERE cp.content_id = ? ORDER BY cp.idx");
    st.bind(1, content_id);
    std::vector<ContentPiece> out;
    while (st.step()) {
        out.push_back({st.column_int(0), st.column_int(1), read_piece(st, 2)});
    }
    return out;
}

ContentOnCargo TransitStore::on_cargo(int64_t pair_id, int64_t content_id, int64_t pieces) {
    ContentOnCargo out;
    out.pieces = pieces;
    out.cargo.resize(static_cast<size_t>(pieces));
    out.staged.resize(static_cast<size_t>(pieces), false);
    for (auto& cp : content_pieces(content_id)) {
        if (cp.idx >= 0 && cp.idx < pieces && cp.piece.on_cargo) {
            out.cargo[static_cast<size_t>(cp.idx)] = cp.piece;
        }
    }
    Statement st = m_db.prepare("SELECT idx FROM staged WHERE pair_id = ? AND content_id = ?");
    st.bind(1, pair_id).bind(2, content_id);
    while (st.step()) {
        int64_t idx = st.column_int(0);
        if (idx >= 0 && idx < pieces) {
            out.staged[static_cast<size_t>(idx)] = true;
        }
    }
    return out;
}

int64_t TransitStore::record_piece(const Digest& hash, int64_t size, int64_t content_id,
                                   int64_t idx, int64_t offset) {
    int64_t id = 0;
    if (auto known = piece_by_hash(hash)) {
        id = known->id;
        m_db.prepare("UPDATE pieces SET on_cargo = 1 WHERE id = ?").bind(1, id).run();
    } else {
        Statement ins = m_db.prepare(
            "INSERT INTO pieces(hash, size, on_cargo) VALUES (?, ?, 1) RETURNING id");
        ins.bind_blob(1, digest_bytes(hash)).bind(2, size);
        if (!ins.step()) {
            throw CatalogError(fmt::format("catalog '{}': no row for a piece", m_db.path()));
        }
        id = ins.column_int(0);
        ins.reset();
    }
    // An upsert, not INSERT OR REPLACE: a replaced row is deleted without its delete
    // trigger (recursive triggers are off), and contents.here would miss it.
    m_db.prepare("INSERT INTO content_pieces(content_id, idx, piece_id, offset) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT(content_id, idx) DO UPDATE SET piece_id = excluded.piece_id, "
                 "offset = excluded.offset")
        .bind(1, content_id)
        .bind(2, idx)
        .bind(3, id)
        .bind(4, offset)
        .run();
    return id;
}

void TransitStore::set_entry_content(int64_t entry_id, int64_t content_id, bool racy) {
    m_db.prepare("UPDATE entries SET content_id = ?, racy = ? WHERE id = ?")
        .bind(1, content_id)
        .bind(2, racy ? 1 : 0)
        .bind(3, entry_id)
        .run();
}

void TransitStore::set_failure(int64_t entry_id, const std::string& reason, int64_t now) {
    m_db.prepare("UPDATE entries SET fail_count = fail_count + 1, fail_reason = ?, fail_ns = ? "
                 "WHERE id = ?")
        .bind_text(1, reason)
        .bind(2, now)
        .bind(3, entry_id)
        .run();
}

std::string TransitStore::sql_end_misses(std::string_view when) {
    return fmt::format("fail_count = iif(fail_reason IS NULL AND ({0}), 0, fail_count), "
                       "fail_ns = iif(fail_reason IS NULL AND ({0}), NULL, fail_ns)",
                       when);
}

void TransitStore::note_miss(int64_t entry_id, int64_t now) {
    m_db.prepare("UPDATE entries SET fail_count = fail_count + 1, fail_ns = coalesce(fail_ns, ?) "
                 "WHERE id = ? AND fail_reason IS NULL")
        .bind(1, now)
        .bind(2, entry_id)
        .run();
}

void TransitStore::clear_failure(int64_t entry_id) {
    m_db.prepare("UPDATE entries SET fail_count = 0, fail_reason = NULL, fail_ns = NULL "
                 "WHERE id = ? AND fail_ns IS NOT NULL")
        .bind(1, entry_id)
        .run();
}

namespace {

// Pages of the pieces `sql` selects (its first columns read_piece's, ?1 the last
// id of the page before, ?2 the page's size), in id order.
void each_piece_page(Database& db, const std::string& sql, int limit,
                     const std::function<bool(std::vector<PieceRow>&)>& f) {
    Statement st = db.prepare(sql);
    int64_t after = 0;
    for (;;) {
        st.bind(1, after).bind(2, limit);
        std::vector<PieceRow> page;
        while (st.step()) {
            page.push_back(read_piece(st, 0));
        }
        st.reset();
        if (page.empty()) {
            return;
        }
        after = page.back().id;
        if (!f(page)) {
            return;
        }
    }
}

} // namespace

void TransitStore::each_piece_on_cargo(int limit, const std::function<bool(std::vector<PieceRow>&)>& f) {
    // NOT INDEXED: in id order from the table itself, not sorted from pieces_cargo.
    each_piece_page(m_db,
                    "SELECT p.id, p.hash, p.size, p.on_cargo FROM pieces p NOT INDEXED WHERE p.on_cargo = 1 "
                    "AND p.id > ?1 ORDER BY p.id LIMIT ?2",
                    limit, f);
}

std::optional<PieceRow> TransitStore::piece_by_hash(const Digest& hash) {
    static const std::string sql = "SELECT p.id, p.hash, p.size, p.on_cargo FROM pieces p INDEXED BY "
                                   "pieces_hash WHERE " + sql_hash_is("p", "?1");
    Statement st = m_db.prepare(sql);
    st.bind_blob(1, digest_bytes(hash));
    if (!st.step()) {
        return std::nullopt;
    }
    PieceRow out = read_piece(st, 0);
    st.reset();
    return out;
}

void TransitStore::set_off_cargo(int64_t piece_id) {
    m_db.prepare("UPDATE pieces SET on_cargo = 0 WHERE id = ?").bind(1, piece_id).run();
}

void TransitStore::each_reclaimable_piece(int limit,
                                          const std::function<bool(std::vector<PieceRow>&)>& f) {
    each_piece_page(m_db,
                    std::string("SELECT p.id, p.hash, p.size, p.on_cargo FROM pieces p NOT INDEXED WHERE "
                                "p.on_cargo = 1 AND p.id > ?1 AND NOT EXISTS (SELECT 1 FROM content_pieces cp "
                                "JOIN entries e ON e.content_id = cp.content_id WHERE cp.piece_id = p.id AND "
                                "e.kind = 1 AND NOT ") +
                        sql_delivered +
                        " AND NOT EXISTS (SELECT 1 FROM staged s WHERE s.pair_id = e.pair_id AND "
                        "s.content_id = cp.content_id AND s.idx = cp.idx)) ORDER BY p.id LIMIT ?2",
                    limit, f);
}

namespace {

// The columns read_delivery() reads, from entries e with its content's hash.
std::string delivery_columns() {
    return std::string("SELECT e.id, e.parent, e.name, ") + stat_columns_of("e") +
           ", e.content_id, e.d_kind, e.d_content_id, c.hash, e.ord";
}

std::string delivery_select() {
    return delivery_columns() + " FROM entries e LEFT JOIN contents c ON c.id = e.content_id ";
}

DeliveryItem read_delivery(const Statement& st) {
    DeliveryItem d;
    d.entry_id = st.column_int(0);
    d.parent = st.column_blob(1);
    d.name = st.column_blob(2);
    d.st = read_stat_columns(st, 3);
    constexpr int after = 3 + stat_column_count;
    d.content_id = st.column_optional_int(after);
    if (!st.is_null(after + 1)) {
        d.d_kind = static_cast<Kind>(st.column_int(after + 1));
    }
    d.d_content_id = st.column_optional_int(after + 2);
    if (!st.is_null(after + 3)) {
        d.content_hash = digest_from_bytes(st.column_blob(after + 3));
    }
    d.ord = st.column_int(after + 4);
    return d;
}

// Pages of entries in path order (either way), each the one that fetch gives
// past the last page's key (`first`: no key yet); f gets each page and returns
// false to stop.
void each_page_by_path(
    const std::function<std::vector<DeliveryItem>(const std::string& parent, const std::string& name, bool first)>&
        fetch,
    const std::function<bool(std::vector<DeliveryItem>&)>& f) {
    std::string parent, name;
    for (bool first = true;; first = false) {
        auto page = fetch(parent, name, first);
        if (page.empty()) {
            return;
        }
        parent = page.back().parent;
        name = page.back().name;
        if (!f(page)) {
            return;
        }
    }
}

} // namespace

std::vector<DeliveryItem> TransitStore::deliveries(int64_t pair_id, const std::vector<Kind>& kinds,
                                                   const std::string& after_parent,
                                                   const std::string& after_name, int limit) {
    std::string in;
    for (Kind k : kinds) {
        in += std::string(in.empty() ? "" : ", ") + sql_kind(k);
    }
    Statement st = m_db.prepare(
        delivery_select() + "WHERE e.pair_id = ?1 AND "
        "e.kind IN (" + in + ") AND (e.parent, e.name) > (?2, ?3) AND " + sql_current +
        " AND NOT " + sql_delivered + " ORDER BY e.parent, e.name LIMIT ?4");
    st.bind(1, pair_id).bind_blob(2, after_parent).bind_blob(3, after_name).bind(4, limit);
    std::vector<DeliveryItem> out;
    while (st.step()) {
        out.push_back(read_delivery(st));
    }
    return out;
}

void TransitStore::each_delivery_page(int64_t pair_id, const std::vector<Kind>& kinds, int limit,
                                      const std::function<bool(std::vector<DeliveryItem>&)>& f) {
    // No key is the empty one: every path follows ("", "").
    each_page_by_path([&](const std::string& parent, const std::string& name,
                          bool) { return deliveries(pair_id, kinds, parent, name, limit); },
                      f);
}

std::optional<TransitStore::Holder> TransitStore::held_at_dest(int64_t entry_id,
                                                               int64_t content_id) {
    static const std::string sql = std::string("SELECT x.id, x.parent, x.name FROM entries e JOIN entries x "
                                               "ON x.d_content_id = ? WHERE e.id = ? AND ") +
                                   holder_condition + " LIMIT 1";
    Statement st = m_db.prepare(sql);
    st.bind(1, content_id).bind(2, entry_id);
    if (!st.step()) {
        return std::nullopt;
    }
    return Holder{st.column_int(0), join_path(st.column_blob(1), st.column_blob(2))};
}

std::vector<RenameItem> TransitStore::renames(int64_t pair_id, const std::string& after_parent,
                                              const std::string& after_name, int limit) {
    static const std::string sql =
        delivery_columns() + ", o.id, o.parent, o.name FROM entries e LEFT JOIN contents c ON c.id = "
        "e.content_id JOIN entries o ON o.id = " + rename_source_id + " WHERE e.pair_id = ? AND e.kind = 1 AND "
        "e.content_id IS NOT NULL AND (e.parent, e.name) > (?, ?) AND " + sql_current + " AND NOT " +
        std::string(sql_delivered) + " ORDER BY e.parent, e.name LIMIT ?";
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id).bind_blob(2, after_parent).bind_blob(3, after_name).bind(4, limit);
    std::vector<RenameItem> out;
    while (st.step()) {
        RenameItem r;
        r.to = read_delivery(st);
        constexpr int from = 8 + stat_column_count; // after read_delivery's columns
        r.from_id = st.column_int(from);
        r.from.parent = st.column_blob(from + 1);
        r.from.name = st.column_blob(from + 2);
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<std::pair<int64_t, int64_t>> TransitStore::renamed_dirs(int64_t pair_id) {
    // Driven by what is gone from the source (entries_gone: once over it), each
    // gone directory's inode looked up in the inode index. CROSS JOIN pins that
    // order: otherwise the planner took every row of the pair first, and each new
    // directory then read every gone row (2.2 s against 0.03 s with 150
    // directories of 100 files renamed in a tree of 30,000).
    Statement st = m_db.prepare(
        "SELECT n.id, o.id FROM entries o INDEXED BY entries_gone CROSS JOIN entries n INDEXED BY "
        "entries_inode ON n.pair_id = o.pair_id AND n.ino = o.ino AND n.dev = o.dev AND n.kind = 2 AND "
        "n.d_kind IS NULL AND "
        "n.ord >= n.d_ord AND n.ord <= 4611686018427387903 WHERE o.pair_id = ? AND o.kind IS NULL AND "
        "o.d_kind = 2 AND o.ord >= o.d_ord AND o.ord <= 4611686018427387903 "
        "ORDER BY n.parent, n.name, o.id");
    st.bind(1, pair_id);
    std::vector<std::pair<int64_t, int64_t>> out;
    while (st.step()) {
        out.emplace_back(st.column_int(0), st.column_int(1));
    }
    return out;
}

std::optional<EntryPath> TransitStore::dir_for_move(int64_t entry_id, bool gone) {
    Statement st = m_db.prepare(gone ? "SELECT parent, name FROM entries WHERE id = ? AND kind IS "
                                       "NULL AND d_kind = 2"
                                     : "SELECT parent, name FROM entries WHERE id = ? AND kind = 2 "
                                       "AND d_kind IS NULL");
    st.bind(1, entry_id);
    if (!st.step()) {
        return std::nullopt;
    }
    return EntryPath{st.column_blob(0), st.column_blob(1)};
}

bool TransitStore::same_dir_moved(int64_t pair_id, const std::string& from, const std::string& to) {
    Statement any = m_db.prepare("SELECT 1 FROM entries WHERE pair_id = ? AND parent = ? LIMIT 1");
    any.bind(1, pair_id).bind_blob(2, from);
    if (!any.step()) {
        return true; // nothing under it to tell: moving an empty directory is making one
    }
    Statement st = m_db.prepare("SELECT 1 FROM entries c JOIN entries k ON k.pair_id = c.pair_id AND "
                                "k.parent = ?3 AND k.name = c.name AND k.ino = c.ino AND k.dev = c.dev "
                                "WHERE c.pair_id = ?1 AND c.parent = ?2 AND c.ino != 0 LIMIT 1");
    st.bind(1, pair_id).bind_blob(2, from).bind_blob(3, to);
    return st.step();
}

namespace {

// The columns known_of reads, from `first` on, in a row of entries.
constexpr const char* known_columns =
    "d_kind, d_damaged, (SELECT size FROM contents WHERE id = d_content_id), d_target, d_mtime_ns";

// Nothing when the row knows nothing there, or (unless damaged_too) knows it damaged.
std::optional<TransitStore::KnownAtDest> known_of(const Statement& st, int first, bool damaged_too = false) {
    if (st.is_null(first) || (!damaged_too && st.column_int(first + 1) != 0)) {
        return std::nullopt;
    }
    return TransitStore::KnownAtDest{
        static_cast<Kind>(st.column_int(first)), st.is_null(first + 2) ? 0 : st.column_int(first + 2),
        st.is_null(first + 4) ? std::nullopt : std::optional<int64_t>(st.column_int(first + 4)),
        st.is_null(first + 3) ? std::string() : st.column_blob(first + 3), st.column_int(first + 1) != 0};
}

} // namespace

std::optional<TransitStore::KnownAt> TransitStore::known_at_dest(int64_t entry_id) {
    static const std::string sql = fmt::format("SELECT parent, name, {} FROM entries WHERE id = ?", known_columns);
    Statement st = m_db.prepare(sql);
    st.bind(1, entry_id);
    if (!st.step()) {
        return std::nullopt;
    }
    std::optional<KnownAtDest> known = known_of(st, 2, true);
    if (!known) {
        return std::nullopt;
    }
    return KnownAt{EntryPath{st.column_blob(0), st.column_blob(1)}, std::move(*known)};
}

void TransitStore::move_dest_subtree(int64_t pair_id, int64_t from_id, const std::string& from,
                                     const EntryPath& to_path,
                                     const std::function<void(const MovedOnto&)>& moved_onto) {
    const std::string to = to_path.rel();
    static constexpr const char* d_columns =
        "d_kind, d_mode, d_uid, d_gid, d_mtime_ns, d_content_id, d_target, d_xattrs, d_verified_ns, "
        "d_damaged";
    // Onto the entry at the new path: what the destination holds there now.
    // The order only ever rises: one the order record gave the new path (another
    // drive's later intent there) stays, and makes the entry superseded.
    Statement onto = m_db.prepare(fmt::format(
        "UPDATE entries SET ({0}) = (SELECT {0} FROM entries WHERE id = ?1), d_ord = max(d_ord, (SELECT "
        "d_ord FROM entries WHERE id = ?1)) WHERE pair_id = ?2 AND parent = ?3 AND name = ?4 RETURNING "
        "id, {1}, ino, dev",
        d_columns, known_columns));
    // A file of a link group at the source that the rename left behind another
    // inode (rewritten in place, then its directory renamed): what it moved onto
    // is taken as delivered alone only after the link group at the destination
    // is split, by the statement a scan uses for a file that left its group at
    // the same path (EntryStore::leave_link_group). Asked only where the inode
    // differs.
    Statement left_group = m_db.prepare(sql_leave_link_group);
    // What moved onto a current entry and, once checked, is its version: the
    // destination holds the version the entry's order stamps, as after any
    // delivery (mark_delivered), and this drive's catalog copy must say so at
    // the order the run's record named (docs/rotation.md, the merge).
    Statement raise = m_db.prepare(fmt::format(
        "UPDATE entries AS e SET d_ord = e.ord WHERE e.id = ?1 AND {} AND {}",
        sql_current, sql_delivered));
    Statement drop = m_db.prepare("DELETE FROM entries WHERE id = ?");
    Statement rehome = m_db.prepare("UPDATE entries SET parent = ?, name = ? WHERE id = ?");
    // ino and dev: the old entry's (0 for the directory itself, never a file).
    auto move = [&](int64_t id, const std::string& parent, const std::string& name, int64_t ino, int64_t dev) {
        onto.bind(1, id).bind(2, pair_id).bind_blob(3, parent).bind_blob(4, name);
        std::optional<MovedOnto> moved;
        bool other_inode = false;
        if (onto.step()) { // (pair_id, parent, name) is unique: one row at most
            moved.emplace(MovedOnto{id, onto.column_int(0), EntryPath{parent, name}, known_of(onto, 1)});
            // ino 0: a row learned from another drive's copy, no inode known.
            other_inode = ino != 0 && (onto.column_int(6) != ino || onto.column_int(7) != dev);
            while (onto.step()) {
            }
        }
        onto.reset();
        if (moved) {
            if (other_inode && moved->known && moved->known->kind == Kind::file) {
                left_group.bind(1, moved->new_id).bind(2, pair_id).bind(3, ino).bind(4, dev).bind(5, id).run();
            }
            drop.bind(1, id).run();
            if (moved_onto) {
                moved_onto(*moved); // the check may mark it damaged: not raised then
            }
            if (moved->known) {
                raise.bind(1, moved->new_id).run();
            }
        } else {
            rehome.bind_blob(1, parent).bind_blob(2, name).bind(3, id).run();
        }
    };
    move(from_id, to_path.parent, to_path.name, 0, 0); // the directory itself
    // Everything under it, in pages, so memory stays bounded: every row moved
    // leaves the ranges (`to` is never under `from`: the source holds `to` and
    // not `from`).
    Statement under = m_db.prepare(fmt::format(
        "SELECT id, parent, name, ino, dev FROM entries WHERE {} UNION ALL "
        "SELECT id, parent, name, ino, dev FROM entries WHERE {} LIMIT 4096",
        sql_below_children, sql_below_deeper));
    std::vector<std::tuple<int64_t, std::string, std::string, int64_t, int64_t>> rows;
    for (;;) {
        rows.clear();
        under.reset();
        bind_below(under, pair_id, from);
        while (under.step()) {
            rows.emplace_back(under.column_int(0), under.column_blob(1), under.column_blob(2),
                              under.column_int(3), under.column_int(4));
        }
        if (rows.empty()) {
            return;
        }
        for (auto& [id, parent, name, ino, dev] : rows) {
            move(id, to + parent.substr(from.size()), name, ino, dev);
        }
    }
}

namespace {

// The meta key of a pair's journal; its value is the entry id and the paths in
// hex, one per line (the names last: never empty, so no line is lost).
std::string dir_move_key(int64_t pair_id) {
    return fmt::format("dir_move:{}", pair_id);
}

// The meta key of a pair's journal of superseded directories' times; its value
// is their entry ids, separated by spaces.
std::string dir_times_key(int64_t pair_id) {
    return fmt::format("dir_times:{}", pair_id);
}

std::string hex_of(const std::string& s) {
    return to_hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

} // namespace

void TransitStore::record_dir_move(int64_t pair_id, const DirMove& move) {
    std::string value = fmt::format("{}\n{}\n{}\n{}\n{}\n", move.from_id, hex_of(move.from.parent),
                                    hex_of(move.to.parent), hex_of(move.from.name), hex_of(move.to.name));
    write_meta(m_db, dir_move_key(pair_id), value);
}

std::optional<TransitStore::DirMove> TransitStore::dir_move(int64_t pair_id) {
    std::optional<std::string> found = read_meta(m_db, dir_move_key(pair_id));
    if (!found) {
        return std::nullopt;
    }
    const std::string& value = *found;
    std::vector<std::string> lines = split_lines(value);
    auto malformed = [&] {
        return CatalogError(fmt::format("the catalog's journal of a directory move ({}) is malformed: '{}'",
                                        dir_move_key(pair_id), value));
    };
    int64_t from_id = 0;
    const char* end = lines.empty() ? nullptr : lines[0].data() + lines[0].size();
    if (lines.size() != 5 || lines[0].empty() || std::from_chars(lines[0].data(), end, from_id).ptr != end) {
        throw malformed();
    }
    std::optional<std::string> parts[4];
    for (size_t i = 0; i < 4; ++i) {
        parts[i] = from_hex(lines[i + 1]);
        if (!parts[i]) {
            throw malformed();
        }
    }
    return DirMove{from_id, {*parts[0], *parts[2]}, {*parts[1], *parts[3]}};
}

void TransitStore::drop_dir_move(int64_t pair_id) {
    drop_meta(m_db, dir_move_key(pair_id));
}

std::optional<LinkLeader> TransitStore::link_leader(int64_t pair_id, const DeliveryItem& d) {
    if (d.st.ino == 0 || !d.content_id) {
        return std::nullopt;
    }
    // A name already delivered leads (a link added later joins it); else the
    // first in path order. A name whose content this drive does not know (it
    // never hashed it, and a link since moved its ctime, so another drive's
    // hash is not taken) is the same file when it has d's inode, size and
    // mtime: it leads when the destination holds it with d's content, as
    // another drive may have delivered it (rotation_faults.sh 18); the link
    // checks that copy's hash first (Destination::link_into_place). Not
    // otherwise: this drive cannot deliver it, and the names deferred to it
    // would each be delivered as a copy of its own.
    static const std::string sql = fmt::format(
        "SELECT e.id, e.parent, e.name, {} AS ready FROM (SELECT id, parent, name, kind, mode, uid, gid, "
        "mtime_ns, target, xattrs, coalesce(content_id, ?4) AS content_id, content_id IS NOT NULL AS known, "
        "d_kind, d_mode, d_uid, d_gid, d_mtime_ns, d_target, d_xattrs, d_damaged, d_content_id FROM entries "
        "INDEXED BY entries_inode WHERE pair_id = ?1 AND ino = ?2 AND dev = ?3 AND kind = 1 AND (content_id = "
        "?4 OR (content_id IS NULL AND size = ?9)) AND mtime_ns = ?5 AND id != ?8) e "
        "WHERE ready OR (e.known AND (e.parent, e.name) < (?6, ?7)) ORDER BY ready DESC, e.parent, e.name "
        "LIMIT 1",
        sql_delivered);
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id)
        .bind(2, static_cast<int64_t>(d.st.ino))
        .bind(3, static_cast<int64_t>(d.st.dev))
        .bind(4, *d.content_id)
        .bind(5, d.st.mtime_ns)
        .bind_blob(6, d.parent)
        .bind_blob(7, d.name)
        .bind(8, d.entry_id)
        .bind(9, d.st.size);
    if (!st.step()) {
        return std::nullopt;
    }
    return LinkLeader{st.column_int(0), {st.column_blob(1), st.column_blob(2)}, st.column_int(3) != 0};
}

std::vector<TransitStore::LinkedName> TransitStore::names_to_link_check(int64_t pair_id) {
    // The inodes with several rows, from the index alone (CROSS JOIN keeps
    // that scan outside: without statistics the planner read every row of the
    // pair first); then their delivered, current files, one group (inode,
    // device, content) at a time. Linear in the rows of shared inodes, which
    // each unload reads again: nearly every source has few.
    static const std::string sql = fmt::format(
        "WITH shared AS (SELECT ino FROM entries INDEXED BY entries_inode WHERE pair_id = ?1 AND ino != 0 "
        "GROUP BY ino HAVING count(*) > 1) "
        "SELECT e.ino, e.dev, e.d_content_id, e.id, e.ord, e.d_ord, e.parent, e.name FROM shared s "
        "CROSS JOIN entries e INDEXED BY entries_inode ON e.pair_id = ?1 AND e.ino = s.ino "
        "WHERE e.kind = 1 AND {} AND {} ORDER BY e.ino, e.dev, e.d_content_id",
        sql_delivered, sql_current);
    struct Name {
        int64_t id, ord, d_ord;
        EntryPath at;
    };
    std::vector<LinkedName> out;
    std::vector<Name> group;
    // Each name delivered before the group's newest delivery, and scanned
    // since both: this drive saw them one file after that delivery.
    auto flush = [&] {
        auto newest = std::max_element(group.begin(), group.end(),
                                       [](const Name& x, const Name& y) { return x.d_ord < y.d_ord; });
        for (const auto& n : group) {
            if (n.d_ord < newest->d_ord && n.d_ord < n.ord && newest->d_ord <= n.ord) {
                out.push_back({n.id, n.ord, n.at, newest->at, newest->d_ord});
            }
        }
        group.clear();
    };
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    std::array<int64_t, 3> key{}, last{};
    while (st.step()) {
        key = {st.column_int(0), st.column_int(1), st.column_int(2)};
        if (!group.empty() && key != last) {
            flush();
        }
        last = key;
        group.push_back({st.column_int(3), st.column_int(4), st.column_int(5),
                         {st.column_blob(6), st.column_blob(7)}});
    }
    if (!group.empty()) {
        flush();
    }
    return out;
}

std::vector<EntryPath> TransitStore::holders_outside_group(int64_t pair_id, const DeliveryItem& d,
                                                           int limit) {
    std::vector<EntryPath> out;
    if (!d.content_id) {
        return out;
    }
    Statement st = m_db.prepare(
        "SELECT x.parent, x.name FROM entries x INDEXED BY entries_d_content WHERE "
        "x.d_content_id = ?1 AND x.pair_id = ?2 AND x.id != ?3 AND x.d_kind = 1 AND "
        "x.d_damaged = 0 AND NOT (?4 != 0 AND x.ino = ?4 AND x.dev = ?5 AND (x.kind IS NULL OR "
        "(x.content_id = ?1 AND x.mtime_ns = ?6))) LIMIT ?7");
    st.bind(1, *d.content_id)
        .bind(2, pair_id)
        .bind(3, d.entry_id)
        .bind(4, static_cast<int64_t>(d.st.ino))
        .bind(5, static_cast<int64_t>(d.st.dev))
        .bind(6, d.st.mtime_ns)
        .bind(7, limit);
    while (st.step()) {
        out.push_back({st.column_blob(0), st.column_blob(1)});
    }
    return out;
}

bool TransitStore::any_gone(int64_t pair_id) {
    Statement st = m_db.prepare("SELECT 1 FROM entries e INDEXED BY entries_gone WHERE e.pair_id = ? "
                                "AND e.kind IS NULL AND e.d_kind IS NOT NULL LIMIT 1");
    st.bind(1, pair_id);
    return st.step();
}

std::optional<std::pair<int64_t, EntryPath>> TransitStore::rename_source(int64_t entry_id) {
    static const std::string sql = "SELECT o.id, o.parent, o.name FROM entries e JOIN entries o ON o.id = " +
                                   rename_source_id + " WHERE e.id = ?";
    Statement st = m_db.prepare(sql);
    st.bind(1, entry_id);
    if (!st.step()) {
        return std::nullopt;
    }
    return std::pair{st.column_int(0), EntryPath{st.column_blob(1), st.column_blob(2)}};
}

void TransitStore::mark_damaged_at_dest(int64_t entry_id) {
    m_db.prepare("UPDATE entries SET d_damaged = 1 WHERE id = ?").bind(1, entry_id).run();
}

void TransitStore::forget_at_dest(int64_t entry_id) {
    m_db.prepare("UPDATE entries SET d_kind = NULL, d_mode = NULL, d_uid = NULL, d_gid = NULL, d_mtime_ns = NULL, "
                 "d_content_id = NULL, d_target = NULL, d_xattrs = NULL, d_verified_ns = NULL, d_damaged = 0 "
                 "WHERE id = ?")
        .bind(1, entry_id)
        .run();
}

void TransitStore::mark_delivered(int64_t entry_id, int64_t now) {
    m_db.prepare("UPDATE entries SET d_kind = kind, d_mode = mode, d_uid = uid, d_gid = gid, "
                 "d_mtime_ns = mtime_ns, d_content_id = content_id, d_target = target, d_xattrs = xattrs, "
                 "d_ord = max(d_ord, ord), "
                 "d_verified_ns = ?, d_damaged = 0, fail_count = 0, fail_reason = NULL, fail_ns = NULL "
                 "WHERE id = ?")
        .bind(1, now)
        .bind(2, entry_id)
        .run();
}

std::optional<TransitStore::DirAt> TransitStore::dir_at(int64_t pair_id, const std::string& rel) {
    EntryPath at = EntryPath::of(rel);
    // superseded: the destination holds a directory delivered later than this
    // drive's scan of the path. This drive's own kind there does not matter: a
    // file or a deletion it carries is older than that directory too
    // (random_rotation_partial.sh seed 263).
    Statement st = m_db.prepare("SELECT id, kind IS 2 AND d_kind IS 2, "
                                "d_kind IS 2 AND ord < d_ord AND d_mtime_ns IS NOT NULL "
                                "FROM entries WHERE pair_id = ?1 AND parent = ?2 AND name = ?3 AND "
                                "(kind = 2 OR d_kind = 2)");
    st.bind(1, pair_id).bind_blob(2, at.parent).bind_blob(3, at.name);
    if (!st.step()) {
        return std::nullopt;
    }
    return DirAt{st.column_int(0), st.column_int(1) != 0, st.column_int(2) != 0};
}

bool TransitStore::forget_dir_times(int64_t entry_id) {
    Statement st = m_db.prepare("UPDATE entries SET d_mtime_ns = NULL WHERE id = ?1 AND kind = 2 AND "
                                "d_kind = 2 RETURNING id");
    st.bind(1, entry_id);
    if (!st.step()) {
        return false; // (a step after the end would run the UPDATE again)
    }
    while (st.step()) {
    }
    return true;
}

void TransitStore::forget_set_back_times(int64_t entry_id) {
    m_db.prepare("UPDATE entries SET d_mtime_ns = NULL WHERE id = ? AND d_kind = 2").bind(1, entry_id).run();
}

std::optional<DeliveryItem> TransitStore::delivered_dir(int64_t entry_id) {
    // read_delivery's columns, the delivered ones in place of the source's.
    static const std::string sql = "SELECT e.id, e.parent, e.name, " + delivered_stat_columns_of("e") +
                                   ", e.content_id, e.d_kind, e.d_content_id, NULL, e.ord FROM entries e "
                                   "WHERE e.id = ? AND e.d_kind = 2 AND e.d_mtime_ns IS NOT NULL";
    Statement st = m_db.prepare(sql);
    st.bind(1, entry_id);
    if (!st.step()) {
        return std::nullopt;
    }
    return read_delivery(st);
}

void TransitStore::record_dir_times(int64_t pair_id, const std::vector<int64_t>& ids) {
    write_meta(m_db, dir_times_key(pair_id), fmt::format("{}", fmt::join(ids, " ")));
}

std::vector<int64_t> TransitStore::dir_times(int64_t pair_id) {
    std::optional<std::string> value = read_meta(m_db, dir_times_key(pair_id));
    std::vector<int64_t> out;
    if (!value) {
        return out;
    }
    const char* p = value->data();
    const char* end = p + value->size();
    while (p != end) {
        int64_t id = 0;
        auto [next, ec] = std::from_chars(p, end, id);
        if (ec != std::errc() || (next != end && *next != ' ')) {
            throw CatalogError(fmt::format("the catalog's journal of directory times ({}) is malformed: '{}'",
                                           dir_times_key(pair_id), *value));
        }
        out.push_back(id);
        p = next == end ? end : next + 1;
    }
    return out;
}

void TransitStore::drop_dir_times(int64_t pair_id) {
    drop_meta(m_db, dir_times_key(pair_id));
}

bool TransitStore::same_file(int64_t entry_id, const DeliveryItem& d) {
    Statement st = m_db.prepare("SELECT 1 FROM entries WHERE id = ? AND ino = ? AND dev = ? AND ino != 0");
    st.bind(1, entry_id).bind(2, static_cast<int64_t>(d.st.ino)).bind(3, static_cast<int64_t>(d.st.dev));
    return st.step();
}

std::optional<int64_t> TransitStore::forget_delivered_dir_times(int64_t pair_id, const std::string& rel) {
    static const std::string sql = std::string("UPDATE entries AS e SET d_mtime_ns = NULL WHERE e.pair_id = ?1 AND "
                                               "e.parent = ?2 AND e.name = ?3 AND e.kind = 2 AND ") +
                                   sql_delivered + " RETURNING id";
    EntryPath at = EntryPath::of(rel);
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id).bind_blob(2, at.parent).bind_blob(3, at.name);
    if (!st.step()) {
        return std::nullopt; // (a step after the end would run the UPDATE again)
    }
    int64_t id = st.column_int(0);
    while (st.step()) {
    }
    return id;
}

void TransitStore::each_order_intent(int64_t pair_id, const PathOrderSink& f) {
    // Three indexed reads: the undelivered files, symlinks and special files
    // (entries_undelivered), and the deletions (entries_gone). Directories are
    // not recorded: a directory is only ever removed at the destination when
    // empty, and what is inside it is recorded.
    static const std::string undelivered = fmt::format(
        "SELECT e.parent, e.name, e.ord FROM entries e INDEXED BY entries_undelivered LEFT JOIN "
        "contents c ON c.id = e.content_id WHERE e.pair_id = ?1 AND {counted} AND NOT {delivered} "
        "AND {current} AND (e.kind != 1 OR e.size = 0 OR (e.content_id IS NOT NULL AND ({held} OR "
        "(c.pieces > 0 AND (SELECT count(*) FROM content_pieces cp JOIN pieces p ON p.id = "
        "cp.piece_id WHERE cp.content_id = e.content_id AND {here}) = c.pieces))))",
        fmt::arg("counted", sql_counted("e")), fmt::arg("delivered", sql_delivered),
        fmt::arg("current", sql_current), fmt::arg("held", sql_held_at_dest()),
        fmt::arg("here", sql_piece_here));
    static const std::string gone = fmt::format(
        "SELECT e.parent, e.name, e.ord FROM entries e INDEXED BY entries_gone WHERE e.pair_id = ?1 "
        "AND e.kind IS NULL AND {current} AND (e.d_kind IS NOT NULL OR e.ord > 0)",
        fmt::arg("current", sql_current));
    for (const std::string* sql : {&undelivered, &gone}) {
        Statement st = m_db.prepare(*sql);
        st.bind(1, pair_id);
        while (st.step()) {
            f(st.column_blob(0), st.column_blob(1), st.column_int(2));
        }
    }
}

std::vector<DeliveryItem> TransitStore::superseded(int64_t pair_id, const std::string& after_parent,
                                                   const std::string& after_name, int limit) {
    static const std::string sql = fmt::format(
        "{columns} FROM entries e INDEXED BY entries_superseded LEFT JOIN contents c ON c.id = "
        "e.content_id WHERE e.pair_id = ?1 AND e.ord < e.d_ord AND {counted} AND NOT {delivered} AND "
        "e.kind = 1 AND e.content_id IS NOT NULL AND e.shelved_ord IS NOT e.ord AND "
        "(e.parent, e.name) > (?2, ?3) ORDER BY e.parent, e.name LIMIT ?4",
        fmt::arg("columns", delivery_columns()), fmt::arg("counted", sql_counted("e")),
        fmt::arg("delivered", sql_delivered));
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id).bind_blob(2, after_parent).bind_blob(3, after_name).bind(4, limit);
    std::vector<DeliveryItem> out;
    while (st.step()) {
        out.push_back(read_delivery(st));
    }
    return out;
}

void TransitStore::drop_deletion_records(int64_t pair_id) {
    // Recorded deletions of paths this drive never delivered to: what stands
    // there (if anything) was put there by another drive, which deletes it at
    // its own next visit, or by the user; never moved by this drive. Rows with
    // no stamp of this drive (ord <= 0) wait for its scan.
    m_db.prepare("DELETE FROM entries INDEXED BY entries_gone WHERE pair_id = ? AND kind IS NULL "
                 "AND d_kind IS NULL AND ord > 0")
        .bind(1, pair_id)
        .run();
}

void TransitStore::raise_order(int64_t entry_id, int64_t ord) {
    m_db.prepare("UPDATE entries SET d_ord = ?2 WHERE id = ?1 AND d_ord < ?2").bind(1, entry_id).bind(2, ord).run();
}

void TransitStore::set_shelved(int64_t entry_id) {
    m_db.prepare("UPDATE entries SET shelved_ord = ord WHERE id = ?").bind(1, entry_id).run();
}

void TransitStore::record_staged(int64_t pair_id, int64_t content_id, int64_t idx) {
    m_db.prepare("INSERT OR IGNORE INTO staged(pair_id, content_id, idx) VALUES (?, ?, ?)")
        .bind(1, pair_id)
        .bind(2, content_id)
        .bind(3, idx)
        .run();
}

void TransitStore::clear_staged(int64_t pair_id, int64_t content_id) {
    m_db.prepare("DELETE FROM staged WHERE pair_id = ? AND content_id = ?")
        .bind(1, pair_id)
        .bind(2, content_id)
        .run();
}

// Children before their directories: reverse path order, read backwards from
// entries_gone, each page below the last one's key (a statement of its own: an
// OR around the key would read the index from its end every page).
std::string TransitStore::deletion_page_sql(bool after_key) {
    return delivery_columns() + " FROM entries e INDEXED BY entries_gone LEFT JOIN contents c ON c.id = "
           "e.content_id WHERE e.pair_id = ?1 AND e.kind IS NULL AND " +
           (after_key ? "(e.parent, e.name) < (?2, ?3) AND " : "") + "e.d_kind IS NOT NULL AND " + sql_current +
           " ORDER BY e.parent DESC, e.name DESC LIMIT ?4";
}

void TransitStore::each_deletion_page(int64_t pair_id, int limit,
                                      const std::function<bool(std::vector<DeliveryItem>&)>& f) {
    each_page_by_path(
        [&](const std::string& parent, const std::string& name, bool first) {
            Statement st = m_db.prepare(deletion_page_sql(!first));
            st.bind(1, pair_id).bind(4, limit);
            if (!first) {
                st.bind_blob(2, parent).bind_blob(3, name);
            }
            std::vector<DeliveryItem> page;
            while (st.step()) {
                page.push_back(read_delivery(st));
            }
            return page;
        },
        f);
}

std::optional<DeliveryItem> TransitStore::dir_entry_by_id(int64_t entry_id) {
    Statement st = m_db.prepare(delivery_select() + "WHERE e.id = ? AND e.kind = 2");
    st.bind(1, entry_id);
    if (!st.step()) {
        return std::nullopt;
    }
    return read_delivery(st);
}

void TransitStore::forget_entry(int64_t entry_id) {
    m_db.prepare("DELETE FROM entries WHERE id = ?").bind(1, entry_id).run();
}

bool TransitStore::has_rows_below(int64_t pair_id, std::string_view dir) {
    Statement st = m_db.prepare(fmt::format("SELECT 1 FROM entries WHERE {} UNION ALL SELECT 1 "
                                            "FROM entries WHERE {} LIMIT 1",
                                            sql_below_children, sql_below_deeper));
    return bind_below(st, pair_id, dir).step();
}

} // namespace barge
