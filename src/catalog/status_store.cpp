#include "barge/catalog/status_store.hpp"

#include "barge/catalog/entries.hpp"
#include "barge/catalog/schema.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/util/text.hpp"

#include <fmt/format.h>
#include <set>
#include <vector>

namespace barge {

namespace {

// Everything an undelivered entry needs is on the drive: symlinks and empty files
// travel inside the catalog; a file needs each piece there (sql_piece_here). (The
// status counts a file the destination holds a copy of, sql_held_at_dest, as on
// the cargo too.)
std::string on_cargo_condition() {
    return fmt::format("(e.kind IS NOT {} OR (e.content_id IS NOT NULL AND EXISTS (SELECT 1 FROM "
                       "contents c WHERE c.id = e.content_id AND (c.size = 0 OR (c.pieces IS NOT "
                       "NULL AND c.pieces = (SELECT count(*) FROM content_pieces cp JOIN pieces p "
                       "ON p.id = cp.piece_id WHERE cp.content_id = c.id AND {}))))))",
                       sql_kind(Kind::file), sql_piece_here);
}

} // namespace

bool StatusStore::set_is_cheaper(int64_t set_rows, int64_t undelivered) {
    // Measured at a million files (docs/benchmarks.md): building a set, or probing
    // the entries from it, costs several times a step of the pass over the
    // undelivered entries (random reads of the table, sorts), so the set must be
    // much the smaller. An empty set always is.
    constexpr int64_t set_row_cost = 8;
    return set_rows == 0 || set_rows * set_row_cost < undelivered;
}

namespace {

// The files and symlinks of entries "e", as the status indexes select them.
std::string listed() {
    return sql_counted("e");
}

// The status's "on the cargo" as sets, for a pass over many undelivered entries:
// the contents of pair ?1 whose every piece is here (from the cargo's side: the
// pieces on it and the pair's staged ones), and those the destination holds a
// copy of (from the delivered side). A pass then looks each entry up in two
// in-memory tables instead of running the correlated subqueries of
// on_cargo_condition and sql_held_at_dest (three b-tree searches) for every one.
std::string ready_sets() {
    return fmt::format(
        "WITH here(content_id, idx) AS (SELECT cp.content_id, cp.idx FROM pieces p INDEXED BY "
        "pieces_cargo JOIN content_pieces cp INDEXED BY content_pieces_piece ON cp.piece_id = p.id "
        "WHERE p.on_cargo = 1 UNION SELECT cp.content_id, cp.idx FROM staged s JOIN content_pieces "
        "cp ON cp.content_id = s.content_id AND cp.idx = s.idx JOIN pieces p ON p.id = cp.piece_id "
        "WHERE s.pair_id = ?1), ready(content_id) AS (SELECT h.content_id FROM here h GROUP BY "
        "h.content_id HAVING count(*) = (SELECT c.pieces FROM contents c WHERE c.id = "
        "h.content_id)), held(content_id) AS ({}) ",
        sql_held_at_dest_of_pair());
}

// Whether entry "e" (undelivered, of pair ?1) is on the cargo: on_cargo_condition
// with the sets of ready_sets. An empty file travels inside the catalog; the
// size of an entry with a content is that content's size (a scan forgets the
// content of a file whose size changed), so only empty entries look it up.
std::string ready_condition() {
    return fmt::format(
        "(e.kind IS NOT {} OR (e.content_id IS NOT NULL AND (e.content_id IN ready OR (e.size = 0 "
        "AND EXISTS (SELECT 1 FROM contents c WHERE c.id = e.content_id AND c.size = 0)) OR "
        "e.content_id IN held)))",
        sql_kind(Kind::file));
}

} // namespace

void StatusStore::classify_by_entries(int64_t pair_id, PairCounts& pc) {
    // Each undelivered entry joined to its content's pieces: the rows of one entry
    // come together (a LEFT JOIN keeps the entries the outer loop), so a pass that
    // counts the pieces here needs no subquery per entry (the join alone is 2.7 times faster than
    // on_cargo_condition's, docs/benchmarks.md). A failed entry is failed
    // whatever its pieces: not joined.
    static const std::string sql = fmt::format(
        "SELECT e.id, e.fail_reason IS NOT NULL, e.kind = {f}, e.size, e.content_id, c.size, "
        "c.pieces, cp.idx, p.on_cargo FROM entries e INDEXED BY entries_undelivered LEFT JOIN "
        "contents c ON c.id = e.content_id AND e.kind = {f} AND e.fail_reason IS NULL LEFT JOIN "
        "content_pieces cp ON cp.content_id = c.id LEFT JOIN pieces p ON p.id = cp.piece_id WHERE "
        "e.pair_id = ?1 AND {listed} AND NOT {delivered}",
        fmt::arg("f", sql_kind(Kind::file)), fmt::arg("listed", listed()),
        fmt::arg("delivered", sql_delivered));
    // sql_held_at_dest, for one content: only a file whose pieces are not all here
    // asks.
    static const std::string held_sql =
        "SELECT 1 FROM (SELECT ?1 AS content_id, ?2 AS pair_id) e WHERE " + sql_held_at_dest();
    // A piece staged at the destination is here for this pair (sql_piece_here):
    // the pieces of files that take several trips, few.
    std::set<std::pair<int64_t, int64_t>> staged;
    Statement s = m_db.prepare("SELECT content_id, idx FROM staged WHERE pair_id = ?1");
    s.bind(1, pair_id);
    while (s.step()) {
        staged.emplace(s.column_int(0), s.column_int(1));
    }
    s.reset();
    Statement held = m_db.prepare(held_sql);
    struct Entry {
        bool failed = false;
        bool file = false;
        int64_t size = 0;
        std::optional<int64_t> content;
        std::optional<int64_t> content_size;
        std::optional<int64_t> pieces;
        int64_t here = 0;
    };
    auto finish = [&](const Entry& e) {
        Counts* c = &pc.pending;
        if (e.failed) {
            c = &pc.failed;
        } else if (!e.file) {
            c = &pc.on_cargo; // travels inside the catalog
        } else if (!e.content) {
            ++pc.unhashed;
        } else if (e.content_size && (*e.content_size == 0 || (e.pieces && *e.pieces == e.here))) {
            c = &pc.on_cargo;
        } else {
            held.bind(1, *e.content).bind(2, pair_id);
            if (held.step()) {
                c = &pc.on_cargo;
            }
            held.reset();
        }
        ++c->files;
        c->bytes += e.file ? e.size : 0;
    };
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    std::optional<int64_t> current;
    Entry e;
    while (st.step()) {
        int64_t id = st.column_int(0);
        if (id != current) {
            if (current) {
                finish(e);
            }
            current = id;
            e = Entry{st.column_int(1) != 0, st.column_int(2) != 0, st.column_int(3),
                      st.column_optional_int(4), st.column_optional_int(5),
                      st.column_optional_int(6), 0};
        }
        if (auto on_cargo = st.column_optional_int(8)) {
            if (*on_cargo == 1 || (e.content && staged.contains({*e.content, st.column_int(7)}))) {
                ++e.here;
            }
        }
    }
    if (current) {
        finish(e);
    }
}

bool StatusStore::count_kept(int64_t pair_id, PairCounts& pc, bool must) {
    // pair_undelivered's states (schema.cpp, version 7): 0 waiting, 1 on the cargo
    // (every piece on it, an empty file, a symlink or special file), 2 failed, 3
    // not hashed.
    Counts kept[4];
    Statement k = m_db.prepare("SELECT state, files, bytes FROM pair_undelivered WHERE pair_id = ?1");
    k.bind(1, pair_id);
    while (k.step()) {
        int64_t state = k.column_int(0);
        if (state >= 0 && state < 4) {
            kept[state] = {k.column_int(1), k.column_int(2)};
        }
    }
    k.reset();
    // Waiting files that are here all the same: their content's pieces are on the
    // cargo or staged at the destination for this pair, or the destination holds
    // the content under another name (sql_piece_here, sql_held_at_dest).
    Counts moved; // from waiting to on the cargo
    std::set<int64_t> up;
    static const std::string files_sql = fmt::format(
        "SELECT count(*), total(e.size) FROM entries e INDEXED BY entries_content WHERE "
        "e.content_id = ?1 AND e.pair_id = ?2 AND e.kind = {f} AND e.fail_reason IS NULL AND NOT "
        "{delivered}",
        fmt::arg("f", sql_kind(Kind::file)), fmt::arg("delivered", sql_delivered));
    Statement files = m_db.prepare(files_sql);
    auto move = [&](int64_t content_id) {
        files.bind(1, content_id).bind(2, pair_id);
        if (files.step()) {
            moved.files += files.column_int(0);
            moved.bytes += static_cast<int64_t>(files.column_double(1));
        }
        files.reset();
    };
    // Whether a content is complete on the cargo (kept[1] has its files), and
    // whether it is here by sql_piece_here's count. The two differ only for a
    // content with staged pieces (where the first implies the second: barge
    // writes a content's pieces at idx 0 to pieces - 1 only).
    static const std::string content_sql = fmt::format(
        "SELECT c.size = 0 OR coalesce(c.here = c.pieces, 0), c.size = 0 OR (c.pieces IS NOT NULL "
        "AND c.pieces = (SELECT count(*) FROM content_pieces cp JOIN pieces p ON p.id = cp.piece_id WHERE "
        "cp.content_id = c.id AND {here})) FROM contents c, (SELECT ?2 AS pair_id) e WHERE c.id = ?1",
        fmt::arg("here", sql_piece_here));
    Statement content = m_db.prepare(content_sql);
    Statement staged = m_db.prepare("SELECT DISTINCT content_id FROM staged WHERE pair_id = ?1");
    staged.bind(1, pair_id);
    while (staged.step()) {
        int64_t id = staged.column_int(0);
        content.bind(1, id).bind(2, pair_id);
        if (content.step()) {
            bool complete = content.column_int(0) != 0;
            bool here = content.column_int(1) != 0;
            if (!complete && here) {
                up.insert(id);
                move(id);
            }
        }
        content.reset();
    }
    // Held at the destination: only an entry once delivered there as a file holds
    // a content (sql_held_at_dest); entries_verify indexes those per pair.
    bool held_possible = false;
    if (kept[0].files - moved.files > 0) {
        Statement any = m_db.prepare(fmt::format(
            "SELECT 1 FROM entries e INDEXED BY entries_verify WHERE e.pair_id = ?1 AND e.d_kind = "
            "{} LIMIT 1",
            sql_kind(Kind::file)));
        any.bind(1, pair_id);
        held_possible = any.step();
    }
    if (held_possible) {
        if (!must) {
            // The holders are about the delivered files, of every pair (the index
            // is not per pair); the pass reads the pair's undelivered ones.
            Statement all = m_db.prepare("SELECT coalesce(sum(files), 0) FROM pair_delivered");
            int64_t holders = all.step() ? all.column_int(0) : 0;
            int64_t undelivered = 0;
            for (const Counts& c : kept) {
                undelivered += c.files;
            }
            if (!set_is_cheaper(holders, undelivered)) {
                return false;
            }
        }
        Statement held = m_db.prepare(sql_held_at_dest_of_pair());
        held.bind(1, pair_id);
        while (held.step()) {
            int64_t id = held.column_int(0);
            if (up.contains(id)) {
                continue;
            }
            content.bind(1, id).bind(2, pair_id);
            bool waiting_content = content.step() && content.column_int(0) == 0;
            content.reset();
            if (waiting_content) {
                up.insert(id);
                move(id);
            }
        }
    }
    pc.on_cargo = {kept[1].files + moved.files, kept[1].bytes + moved.bytes};
    pc.pending = {kept[0].files - moved.files + kept[3].files,
                  kept[0].bytes - moved.bytes + kept[3].bytes};
    pc.failed = kept[2];
    pc.unhashed = kept[3].files;
    return true;
}

// Every query below names the partial index it must use (INDEXED BY): one that
// no longer matches its index fails when it is prepared instead of silently
// reading every entry (schema.cpp, version 2).
int64_t StatusStore::undelivered_files(std::optional<int64_t> pair_id) {
    // Kept as entries are written (pair_undelivered, schema.cpp version 7).
    Statement st = m_db.prepare(
        pair_id ? "SELECT coalesce(sum(files), 0) FROM pair_undelivered WHERE pair_id = ?1"
                : "SELECT coalesce(sum(files), 0) FROM pair_undelivered");
    if (pair_id) {
        st.bind(1, *pair_id);
    }
    return st.step() ? st.column_int(0) : 0;
}

PairCounts StatusStore::pair_counts(int64_t pair_id, Plan plan) {
    PairCounts pc;
    // Kept with every write of entries (schema.cpp, triggers entries_delivered_*).
    Statement d = m_db.prepare("SELECT files, bytes FROM pair_delivered WHERE pair_id = ?");
    d.bind(1, pair_id);
    if (d.step()) {
        pc.delivered = {d.column_int(0), d.column_int(1)};
    }
    // The rest: what waits, travels or failed, in one pass over the undelivered
    // entries (once a tree is delivered, few). Whether an entry's pieces are all
    // here, and whether the destination holds its content, is looked up per
    // entry, or in the sets of such contents when building those is cheaper: what
    // is on the cargo and what is delivered, against what waits (a first load of
    // a big tree: nothing on the cargo or delivered yet). The kept counts first.
    if ((plan == Plan::choose || plan == Plan::kept) &&
        count_kept(pair_id, pc, plan == Plan::kept)) {
        plan = Plan::kept;
    } else if (plan == Plan::choose) {
        Statement all = m_db.prepare("SELECT coalesce(sum(files), 0) FROM pair_delivered");
        int64_t sets = cargo().files + (all.step() ? all.column_int(0) : 0);
        plan = set_is_cheaper(sets, undelivered_files(pair_id)) ? Plan::by_set : Plan::by_entries;
    }
    if (plan == Plan::kept) {
        // counted above
    } else if (plan == Plan::by_entries) {
        classify_by_entries(pair_id, pc);
    } else {
        static const std::string as_set_sql = ready_sets() + fmt::format(
            "SELECT CASE WHEN e.fail_reason IS NOT NULL THEN 2 WHEN {ready} THEN 1 ELSE 0 END, CASE "
            "WHEN e.kind = {f} THEN e.size ELSE 0 END, e.kind = {f} AND e.content_id IS NULL FROM "
            "entries e INDEXED BY entries_undelivered WHERE e.pair_id = ?1 AND {listed} AND NOT "
            "{delivered}",
            fmt::arg("ready", ready_condition()), fmt::arg("f", sql_kind(Kind::file)),
            fmt::arg("listed", listed()), fmt::arg("delivered", sql_delivered));
        Statement st = m_db.prepare(as_set_sql);
        st.bind(1, pair_id);
        // Summed here: a GROUP BY would sort every row first.
        Counts* by_state[] = {&pc.pending, &pc.on_cargo, &pc.failed};
        while (st.step()) {
            Counts& c = *by_state[st.column_int(0)];
            ++c.files;
            c.bytes += st.column_int(1);
            if (&c == &pc.pending && st.column_int(2) != 0) {
                ++pc.unhashed;
            }
        }
    }
    // The oldest and newest verification of a delivered file: the two ends of the
    // order verify-destination works in.
    static const std::string verified_sql = fmt::format(
        "SELECT e.d_verified_ns FROM entries e INDEXED BY entries_verify WHERE e.pair_id = ? AND "
        "e.d_kind = {f} AND e.kind = {f} AND {listed} AND {delivered} AND e.d_verified_ns IS NOT "
        "NULL ORDER BY coalesce(e.d_verified_ns, 0) {{}}, e.id {{}} LIMIT 1",
        fmt::arg("f", sql_kind(Kind::file)), fmt::arg("listed", listed()),
        fmt::arg("delivered", sql_delivered));
    static const std::string oldest_sql = fmt::format(fmt::runtime(verified_sql), "ASC", "ASC");
    static const std::string newest_sql = fmt::format(fmt::runtime(verified_sql), "DESC", "DESC");
    for (auto [sql, out] : {std::pair{&oldest_sql, &pc.oldest_verified_ns},
                             std::pair{&newest_sql, &pc.newest_verified_ns}}) {
        Statement ver = m_db.prepare(*sql);
        ver.bind(1, pair_id);
        if (ver.step()) {
            *out = ver.column_int(0);
        }
    }
    static const std::string deletions_sql =
        fmt::format("SELECT count(*) FROM entries e INDEXED BY entries_gone WHERE e.pair_id = ? "
                    "AND e.kind IS NULL AND e.d_kind IS NOT NULL AND e.d_kind != {}",
                    sql_kind(Kind::dir));
    Statement del = m_db.prepare(deletions_sql);
    del.bind(1, pair_id);
    pc.deletions_pending = del.step() ? del.column_int(0) : 0;
    return pc;
}

namespace {

// The entries StatusStore::missed reports, ?1 their pair.
std::string missed_where() {
    return fmt::format("e.pair_id = ?1 AND e.fail_reason IS NULL AND e.fail_ns IS NOT NULL AND "
                       "e.kind = {} AND NOT {}",
                       sql_kind(Kind::file), sql_delivered);
}

} // namespace

std::vector<MissRow> StatusStore::missed(int64_t pair_id, size_t limit) {
    static const std::string sql =
        fmt::format("SELECT e.parent, e.name, e.fail_ns, e.fail_count FROM entries e INDEXED BY "
                    "entries_unsettled WHERE {} ORDER BY e.fail_ns LIMIT ?2",
                    missed_where());
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id).bind(2, static_cast<int64_t>(limit));
    std::vector<MissRow> out;
    while (st.step()) {
        out.push_back(
            {join_path(st.column_blob(0), st.column_blob(1)), st.column_int(2), st.column_int(3)});
    }
    return out;
}

int64_t StatusStore::missed_files(int64_t pair_id) {
    static const std::string sql = fmt::format(
        "SELECT count(*) FROM entries e INDEXED BY entries_unsettled WHERE {}", missed_where());
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    return st.step() ? st.column_int(0) : 0;
}

std::vector<FailureRow> StatusStore::failures(int64_t pair_id, size_t limit) {
    static const std::string sql = fmt::format(
        "SELECT e.parent, e.name, e.fail_reason FROM entries e INDEXED BY entries_failed WHERE "
        "e.pair_id = ? AND e.fail_reason IS NOT NULL AND NOT {} ORDER BY e.fail_ns DESC LIMIT ?",
        sql_delivered);
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id).bind(2, static_cast<int64_t>(limit));
    std::vector<FailureRow> out;
    while (st.step()) {
        out.push_back({join_path(st.column_blob(0), st.column_blob(1)), st.column_text(2)});
    }
    return out;
}

Counts StatusStore::undelivered_on_cargo(int64_t pair_id) {
    static const std::string sql = fmt::format(
        "SELECT count(*), total(e.size) FROM entries e INDEXED BY entries_undelivered WHERE "
        "e.pair_id = ? AND {listed} AND NOT {delivered} AND e.kind = {f} AND e.size > 0 AND "
        "{on_cargo}",
        fmt::arg("listed", listed()), fmt::arg("delivered", sql_delivered),
        fmt::arg("f", sql_kind(Kind::file)), fmt::arg("on_cargo", on_cargo_condition()));
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    if (!st.step()) {
        return {};
    }
    return {st.column_int(0), static_cast<int64_t>(st.column_double(1))};
}

Counts StatusStore::reclaimable(Plan plan) {
    // What the cargo holds, less the pieces some undelivered file still needs (the
    // rule of TransitStore::each_reclaimable_piece), counted from the undelivered files
    // (few once a tree is delivered), or from the pieces on the cargo when they are
    // much fewer (none before the first load of a big tree).
    Counts all = cargo();
    // Undelivered file "e" still needs piece "cp" of its content.
    static const std::string needs = fmt::format(
        "{listed} AND NOT {delivered} AND e.kind = {f} AND NOT EXISTS (SELECT 1 FROM staged s WHERE "
        "s.pair_id = e.pair_id AND s.content_id = cp.content_id AND s.idx = cp.idx)",
        fmt::arg("listed", listed()), fmt::arg("delivered", sql_delivered),
        fmt::arg("f", sql_kind(Kind::file)));
    static const std::string needed_by_cargo_sql =
        "SELECT count(*), total(p.size) FROM pieces p INDEXED BY pieces_cargo WHERE p.on_cargo = 1 "
        "AND EXISTS (SELECT 1 FROM content_pieces cp INDEXED BY content_pieces_piece JOIN entries e "
        "INDEXED BY entries_content ON e.content_id = cp.content_id WHERE cp.piece_id = p.id AND " +
        needs + ")";
    static const std::string needed_sql =
        "SELECT count(*), total(p.size) FROM pieces p WHERE p.on_cargo = 1 AND p.id IN (SELECT "
        "cp.piece_id FROM entries e INDEXED BY entries_undelivered JOIN content_pieces cp ON "
        "cp.content_id = e.content_id WHERE " + needs + ")";
    // The same, each needed piece counted once however many files need it by a
    // bitmap of piece ids (rowids, given out in order: as many bits as pieces ever
    // recorded) instead of the IN's temporary index of every needed piece, which
    // made it about a quarter slower (docs/benchmarks.md).
    static const std::string needed_rows_sql =
        "SELECT cp.piece_id, p.size FROM entries e INDEXED BY entries_undelivered JOIN "
        "content_pieces cp ON cp.content_id = e.content_id JOIN pieces p ON p.id = cp.piece_id "
        "WHERE p.on_cargo = 1 AND " + needs;
    constexpr int64_t bitmap_limit = int64_t{1} << 29; // 64 MiB of bits
    if (plan == Plan::choose || plan == Plan::kept) {
        plan = set_is_cheaper(all.files, undelivered_files(std::nullopt)) ? Plan::by_set
                                                                          : Plan::by_entries;
    }
    int64_t first_id = 0;
    int64_t last_id = 0;
    if (plan == Plan::by_entries) {
        // Two subqueries: min() and max() in one SELECT would read every row.
        Statement ids = m_db.prepare(
            "SELECT coalesce((SELECT min(id) FROM pieces), 0), coalesce((SELECT max(id) FROM pieces), 0)");
        if (ids.step()) {
            first_id = ids.column_int(0);
            last_id = ids.column_int(1);
        }
    }
    if (plan == Plan::by_set || first_id < 0 || last_id >= bitmap_limit) {
        Statement st = m_db.prepare(plan == Plan::by_set ? needed_by_cargo_sql : needed_sql);
        if (st.step()) {
            all.files -= st.column_int(0);
            all.bytes -= static_cast<int64_t>(st.column_double(1));
        }
        return all;
    }
    std::vector<bool> counted(static_cast<size_t>(last_id) + 1);
    Statement st = m_db.prepare(needed_rows_sql);
    while (st.step()) {
        int64_t id = st.column_int(0);
        if (id >= 0 && id <= last_id && !counted[static_cast<size_t>(id)]) {
            counted[static_cast<size_t>(id)] = true;
            --all.files;
            all.bytes -= st.column_int(1);
        }
    }
    return all;
}

UndeliveredRecount StatusStore::recount_undelivered() {
    UndeliveredRecount out;
    // Each content's pieces on the cargo first: the states depend on them.
    static const std::string here_sql = fmt::format(
        "SELECT c.id, {} AS n FROM contents c WHERE c.here IS NOT n", sql_here_counted("c."));
    std::vector<std::pair<int64_t, int64_t>> wrong;
    Statement here = m_db.prepare(here_sql);
    while (here.step()) {
        wrong.emplace_back(here.column_int(0), here.column_int(1));
    }
    here.reset();
    for (auto [id, n] : wrong) {
        m_db.prepare("UPDATE contents SET here = ?1 WHERE id = ?2").bind(1, n).bind(2, id).run();
    }
    out.contents = static_cast<int64_t>(wrong.size());
    static const std::string states_sql = fmt::format(
        "SELECT coalesce(k.pair_id, t.pair_id), coalesce(k.state, t.state), coalesce(k.files, 0), "
        "coalesce(k.bytes, 0), coalesce(t.files, 0), coalesce(t.bytes, 0) FROM pair_undelivered k "
        "FULL JOIN ({}) t ON t.pair_id = k.pair_id AND t.state = k.state",
        sql_undelivered_counted());
    Statement st = m_db.prepare(states_sql);
    while (st.step()) {
        StateMismatch m{st.column_int(0), st.column_int(1), {st.column_int(2), st.column_int(3)},
                        {st.column_int(4), st.column_int(5)}};
        if (m.kept.files != m.counted.files || m.kept.bytes != m.counted.bytes) {
            out.states.push_back(m);
        }
    }
    st.reset();
    for (const auto& m : out.states) {
        m_db.prepare("INSERT INTO pair_undelivered(pair_id, state, files, bytes) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT(pair_id, state) DO UPDATE SET files = excluded.files, bytes = "
                     "excluded.bytes")
            .bind(1, m.pair_id)
            .bind(2, m.state)
            .bind(3, m.counted.files)
            .bind(4, m.counted.bytes)
            .run();
    }
    return out;
}

std::optional<Counts> StatusStore::reclaimable_within(int64_t max_rows) {
    if (std::min(cargo().files, undelivered_files(std::nullopt)) > max_rows) {
        return std::nullopt;
    }
    return reclaimable();
}

std::vector<CounterMismatch> StatusStore::recount_delivered() {
    static const std::string sql = fmt::format(
        "SELECT p.id, coalesce(k.files, 0), coalesce(k.bytes, 0), coalesce(t.files, 0), "
        "coalesce(t.bytes, 0) FROM pairs p LEFT JOIN pair_delivered k ON k.pair_id = p.id LEFT "
        "JOIN (SELECT e.pair_id, count(*) AS files, sum(CASE WHEN e.kind = {f} THEN e.size ELSE 0 "
        "END) AS bytes FROM entries e WHERE {listed} AND {delivered} GROUP BY e.pair_id) t ON "
        "t.pair_id = p.id",
        fmt::arg("f", sql_kind(Kind::file)), fmt::arg("listed", listed()),
        fmt::arg("delivered", sql_delivered));
    std::vector<CounterMismatch> out;
    Statement st = m_db.prepare(sql);
    while (st.step()) {
        CounterMismatch m{st.column_int(0), {st.column_int(1), st.column_int(2)},
                          {st.column_int(3), st.column_int(4)}};
        if (m.kept.files != m.counted.files || m.kept.bytes != m.counted.bytes) {
            out.push_back(m);
        }
    }
    st.reset();
    for (const auto& m : out) {
        m_db.prepare("INSERT INTO pair_delivered(pair_id, files, bytes) VALUES (?, ?, ?) ON "
                     "CONFLICT(pair_id) DO UPDATE SET files = excluded.files, bytes = "
                     "excluded.bytes")
            .bind(1, m.pair_id)
            .bind(2, m.counted.files)
            .bind(3, m.counted.bytes)
            .run();
    }
    return out;
}

Counts StatusStore::cargo() {
    // Kept with every write of pieces (schema.cpp, version 6: cargo_total).
    Statement st = m_db.prepare("SELECT pieces, bytes FROM cargo_total WHERE id = 1");
    Counts out;
    if (st.step()) {
        out = {st.column_int(0), st.column_int(1)};
    }
    st.reset();
    return out;
}

std::optional<CargoMismatch> StatusStore::recount_cargo() {
    Statement st = m_db.prepare(
        "SELECT count(*), total(size) FROM pieces INDEXED BY pieces_cargo WHERE on_cargo = 1");
    CargoMismatch m{cargo(), {}};
    if (st.step()) {
        m.counted = {st.column_int(0), static_cast<int64_t>(st.column_double(1))};
    }
    st.reset();
    if (m.kept.files == m.counted.files && m.kept.bytes == m.counted.bytes) {
        return std::nullopt;
    }
    m_db.prepare("INSERT INTO cargo_total(id, pieces, bytes) VALUES (1, ?1, ?2) ON CONFLICT(id) "
                 "DO UPDATE SET pieces = excluded.pieces, bytes = excluded.bytes")
        .bind(1, m.counted.files)
        .bind(2, m.counted.bytes)
        .run();
    return m;
}

} // namespace barge
