#include "barge/engine/rotation.hpp"

#include "barge/catalog/contents.hpp"
#include "barge/catalog/database.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/engine/known_at_dest.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/drive.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <fmt/format.h>
#include <set>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge {

std::string order_stamp_path(const std::string& root, const std::string& pair_uuid) {
    return barge_dir(root) + "/order-" + pair_uuid;
}

int64_t take_order_stamp(Catalog& catalog, const Pair& pair, bool dry_run) {
    // last_ord is at most the learning bound (what is learned) or a stamp of
    // this drive's own: no overflow.
    int64_t stamp = std::max(std::min(pair.last_ord, order_stamp_bound) + 1, now_ns());
    if (pair.source_marker) {
        std::string path = order_stamp_path(pair.source, pair.uuid);
        Fd fd(::open(path.c_str(), (dry_run ? O_RDONLY : O_RDWR | O_CREAT) | O_NOFOLLOW | O_CLOEXEC,
                     0644));
        if (!fd && !(dry_run && errno == ENOENT)) {
            throw_errno("open the pair's order file", path);
        }
        if (fd) {
            if (::flock(fd.get(), LOCK_EX) != 0) {
                throw_errno("lock", path);
            }
            char buf[40] = {};
            ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
            if (n > 0) {
                long long last = std::strtoll(buf, nullptr, 10);
                if (last >= 0 && last < order_stamp_bound) {
                    stamp = std::max<int64_t>(stamp, last + 1); // else not barge's: ignored
                }
            }
            if (!dry_run) {
                std::string text = fmt::format("{:020}\n", stamp);
                if (::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
                    ::ftruncate(fd.get(), static_cast<off_t>(text.size())) != 0 ||
                    ::fdatasync(fd.get()) != 0) {
                    throw_errno("write", path);
                }
                if (n <= 0) {
                    fsync_dir(barge_dir(pair.source)); // a new file: its name durable too
                }
            }
        }
    }
    if (stamp > order_stamp_bound) {
        throw Error(fmt::format("pair '{}': the order stamp would pass 2^62 (the clock says after "
                                "2116?): refusing to scan",
                                pair.name));
    }
    catalog.set_last_ord(pair.id, stamp);
    return stamp;
}

int64_t latest_believable_ord() {
    return order_stamp_learn_bound;
}

// ---------------------------------------------------------------------------
// The destination's order record.

namespace {

const char* const order_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS paths (
    parent BLOB NOT NULL,
    name   BLOB NOT NULL,
    ord    INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (parent, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS paths_seq ON paths(seq);
)sql";


} // namespace

std::string DestOrder::path(const std::string& dest_root, const std::string& pair_uuid) {
    return barge_dir(dest_root) + "/order-" + pair_uuid + ".db";
}

DestOrder::DestOrder(const Pair& pair) {
    std::string p = path(pair.dest, pair.uuid);
    std::string lock = p + ".lock";
    m_lock = ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (m_lock < 0) {
        throw_errno("open", lock);
    }
    if (::flock(m_lock, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        ::close(m_lock);
        m_lock = -1;
        if (err == EWOULDBLOCK) {
            throw Error(fmt::format("pair '{}': another barge (another drive of the pair) is "
                                    "unloading into '{}' right now; try again when it is done",
                                    pair.name, escape_bytes(pair.dest)),
                        ExitCode::busy);
        }
        errno = err;
        throw_errno("lock", lock);
    }
    m_db = std::make_unique<Database>(p, Database::Create::yes);
    m_db->exec("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;");
    Transaction tx(*m_db);
    m_db->exec(order_schema);
    if (auto epoch = read_meta(*m_db, "epoch")) {
        m_epoch = *epoch;
    } else {
        m_epoch = new_uuid(); // getrandom(2): no /dev needed (a chroot, the static binary)
        write_meta(*m_db, "epoch", m_epoch);
    }
    tx.commit();
}

DestOrder::~DestOrder() {
    m_db.reset();
    if (m_lock >= 0) {
        ::close(m_lock);
    }
}

int64_t DestOrder::pull(Catalog& catalog, const Pair& pair, IdBits& raised_known) {
    int64_t after = pair.dest_order_epoch == m_epoch ? pair.dest_order_seq : -1;
    Statement rows = m_db->prepare("SELECT parent, name, ord, seq FROM paths WHERE seq > ? ORDER BY seq");
    rows.bind(1, after);
    // Only the order is raised: what the catalog knows of the path's content
    // stays (the newer version may be this drive's own, or may not have arrived
    // at all; an entry older than it is superseded whatever stands there, and a
    // copy used from there is hashed first). Knowledge of a copy marked damaged
    // is checked too: where the other drive's change left nothing, it is
    // forgotten, not reported missing by verify-destination (three drives,
    // random_rotation_partial.sh seed 46).
    Statement upd = catalog.db().prepare(
        "UPDATE entries SET d_ord = ?4 WHERE pair_id = ?1 AND parent = ?2 AND name = ?3 AND "
        "d_ord < ?4 RETURNING id, d_kind IS NOT NULL");
    int64_t greatest = 0;
    int64_t learned = 0, last = after;
    while (rows.step()) {
        if (rows.column_int(2) > latest_believable_ord()) {
            last = std::max(last, rows.column_int(3));
            continue;
        }
        upd.bind(1, pair.id).bind_blob(2, rows.column_blob(0)).bind_blob(3, rows.column_blob(1))
            .bind(4, rows.column_int(2));
        while (upd.step()) { // (pair_id, parent, name) is unique: one row at most
            ++learned;
            if (upd.column_int(1) != 0) {
                raised_known.insert(upd.column_int(0));
            }
        }
        upd.reset();
        greatest = std::max(greatest, rows.column_int(2));
        last = std::max(last, rows.column_int(3));
    }
    catalog.set_dest_order_read(pair.id, m_epoch, std::max<int64_t>(last, 0));
    // A Lamport clock: the next stamp this drive takes at the source is greater
    // than every stamp it has seen, whatever the clocks of the two sites say.
    catalog.set_last_ord(pair.id, greatest);
    return learned;
}

void DestOrder::record(Catalog& catalog, const Pair& pair,
                       const std::function<void(const PathOrderSink&)>& each) {
    // Begun at the first path: a run with nothing to record writes nothing.
    std::optional<Transaction> tx;
    std::optional<Statement> ins;
    int64_t seq = 0;
    each([&](const std::string& parent, const std::string& name, int64_t ord) {
        if (!tx) {
            tx.emplace(*m_db);
            // Above every seq a drive may have been told it read: its own
            // record's, also when none of that record's rows raised an order
            // (a run again after a kill, whose intents were all recorded),
            // which before the mark below could be max(seq) + 1.
            seq = m_db->query_int("SELECT coalesce(max(seq), 0) + 2 FROM paths");
            ins.emplace(m_db->prepare(
                "INSERT INTO paths(parent, name, ord, seq) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(parent, name) "
                "DO UPDATE SET ord = excluded.ord, seq = excluded.seq WHERE excluded.ord > paths.ord"));
        }
        if (ord > order_stamp_bound) {
            return; // never acted on either (sql_current)
        }
        ins->bind_blob(1, parent).bind_blob(2, name).bind(3, ord).bind(4, seq);
        ins->run();
    });
    if (!tx) {
        return;
    }
    ins.reset();
    // The mark: a row no path can have (a name is never empty, a path never
    // holds a NUL) carries this record's seq, so that the next record's seq
    // is greater than the one this drive now counts as read, though no row of
    // its own took it. Without it, another drive's next record took the same
    // seq, and this drive never read it: a deletion or a newer version
    // recorded there stayed unknown to it (verify-destination reported the
    // other drive's work as damaged; found by random_rotation.sh).
    m_db->prepare("INSERT INTO paths(parent, name, ord, seq) VALUES (x'00', x'', 0, ?1) ON CONFLICT(parent, "
                  "name) DO UPDATE SET seq = excluded.seq")
        .bind(1, seq)
        .run();
    tx->commit();
    // Under the lock nobody else wrote since this drive's pull.
    Transaction mine(catalog.db());
    catalog.set_dest_order_read(pair.id, m_epoch, seq);
    mine.commit();
}

int64_t DestOrder::ord_of(const std::string& rel) {
    EntryPath p = EntryPath::of(rel);
    Statement st = m_db->prepare("SELECT ord FROM paths WHERE parent = ?1 AND name = ?2");
    st.bind_blob(1, p.parent).bind_blob(2, p.name);
    int64_t out = st.step() ? st.column_int(0) : 0;
    st.reset();
    return out;
}

int64_t DestOrder::newest_under(const std::string& dir) {
    std::string lo = dir + "/";
    std::string hi = dir + static_cast<char>('/' + 1);
    Statement st = m_db->prepare(
        "SELECT max(ord) FROM paths WHERE parent = ?1 OR (parent >= ?2 AND parent < ?3)");
    st.bind_blob(1, dir).bind_blob(2, lo).bind_blob(3, hi);
    int64_t out = st.step() && !st.is_null(0) ? st.column_int(0) : 0;
    st.reset();
    return out;
}

// ---------------------------------------------------------------------------
// Knowledge from the other drives' catalog copies.

namespace {

// The copies at root other than this drive's: (drive id, path).
std::vector<std::pair<std::string, std::string>> copies_at(const std::string& root,
                                                           const std::string& self) {
    std::vector<std::pair<std::string, std::string>> out;
    std::string dir = barge_dir(root);
    for (const auto& name : barge_dir_names(root)) {
        if (starts_with(name, "catalog-") && name.ends_with(".db") && name.size() > 11) {
            std::string id = name.substr(8, name.size() - 11);
            if (id != self) {
                out.emplace_back(id, dir + "/" + name);
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

struct OpenCopy {
    std::optional<Catalog> cat;
    std::string note; // why not, when cat is empty
};

OpenCopy open_copy(const std::string& path, const std::string& id, const CopyKeys& keys) {
    OpenCopy out;
    try {
        struct stat st{};
        if (::stat((path + ".patch").c_str(), &st) == 0) {
            out.note = "an update of it was cut short (its drive's next visit completes it)";
            return out;
        }
        std::shared_ptr<const DriveKeys> k;
        if (keys) {
            k = keys(path);
        }
        if (Catalog::needs_upgrade(path, k)) {
            out.note = "it was written by an older barge (its drive's next visit here updates it)";
            return out;
        }
        out.cat.emplace(Catalog::open(path, Catalog::Check::pages, k));
        if (out.cat->drive_id() != id) {
            out.cat.reset();
            out.note = "it is the copy of another drive";
        }
    } catch (const Error& e) {
        out.cat.reset();
        out.note = e.what();
    }
    return out;
}

std::optional<Pair> pair_by_uuid(Catalog& c, const std::string& uuid) {
    for (auto& p : c.pairs()) {
        if (p.uuid == uuid) {
            return p;
        }
    }
    return std::nullopt;
}

// The contents (hash, size) a drive's catalog has on its cargo for the pair,
// undelivered: what it carries.
std::vector<std::pair<std::string, int64_t>> carried_contents(Database& db, int64_t pair_id) {
    static const std::string sql = fmt::format(
        "SELECT DISTINCT c.hash, c.size FROM entries e INDEXED BY entries_undelivered JOIN contents c "
        "ON c.id = e.content_id WHERE e.pair_id = ?1 AND {counted} AND NOT {delivered} AND "
        "e.kind = 1 AND e.ord >= e.d_ord AND c.pieces > 0 AND (SELECT count(*) FROM content_pieces cp JOIN pieces p ON "
        "p.id = cp.piece_id WHERE cp.content_id = c.id AND p.on_cargo = 1) = c.pieces",
        fmt::arg("counted", sql_counted("e")), fmt::arg("delivered", sql_delivered));
    std::vector<std::pair<std::string, int64_t>> out;
    Statement st = db.prepare(sql);
    st.bind(1, pair_id);
    while (st.step()) {
        out.emplace_back(st.column_blob(0), st.column_int(1));
    }
    return out;
}

void replace_cargo(Database& db, int64_t pair_id, const std::string& drive_id,
                   const std::vector<std::string>& hashes) {
    db.prepare("DELETE FROM drive_cargo WHERE pair_id = ? AND drive_id = ?")
        .bind(1, pair_id)
        .bind_text(2, drive_id)
        .run();
    Statement ins = db.prepare("INSERT OR IGNORE INTO drive_cargo(pair_id, hash, drive_id) VALUES (?,?,?)");
    for (const auto& h : hashes) {
        ins.bind(1, pair_id).bind_blob(2, h).bind_text(3, drive_id);
        ins.run();
    }
}

// Takes what the copy knows of the destination side of each entry, where it is
// newer; at the source, also the content of files this catalog has not hashed
// whose stat (size, mtime, ctime, inode, device) the copy recorded with a hash:
// the same rule a rescan trusts (docs/scan.md), so a drive joining a pair need
// not read what another drive already hashed.
int64_t merge_entries(Database& mine, int64_t my_pair, Database& theirs, int64_t their_pair,
                      bool source, int64_t& greatest, const IdBits* raised, IdBits& raised_taken,
                      IdBits* unconfirmed, int64_t& taken) {
    static const std::string rows_sql = fmt::format(
        "SELECT e.parent, e.name, e.d_kind, e.d_mode, e.d_uid, e.d_gid, e.d_mtime_ns, c.hash, c.size, "
        "e.d_target, e.d_xattrs, e.d_verified_ns, e.d_damaged, e.d_ord, s.hash, e.size, e.mtime_ns, "
        "e.ctime_ns, e.ino, e.dev, CASE WHEN e.kind = 2 AND e.ord > e.d_ord AND {} AND {} THEN e.ord END "
        "FROM entries e LEFT JOIN contents c ON c.id = e.d_content_id LEFT JOIN contents s ON s.id = "
        "e.content_id AND e.kind = 1 AND e.racy = 0 WHERE e.pair_id = ? AND (e.d_kind IS NOT NULL OR "
        "e.d_ord > 0 OR e.kind IS NOT NULL)",
        sql_current, sql_delivered);
    Statement rows = theirs.prepare(rows_sql);
    // A directory their drive found at the source as it knew the destination
    // held it (delivered, its scan's stamp above the delivery's: the source
    // came back to that state, or only its ctime moved) was seen there at that
    // scan's stamp. That observation delivered nothing, so nothing else says
    // so: a drive arriving later with a version observed in between took its
    // own for newer and set the directory back to it (rotation_faults.sh 16).
    // Where this drive knows the same state there, only its order rises: their
    // knowledge itself is only as new as their delivery's stamp, and taken
    // whole at the scan's it overwrote a newer delivery of this drive's.
    Statement seen = mine.prepare(
        "UPDATE entries SET d_ord = ?4 WHERE pair_id = ?1 AND parent = ?2 AND name = ?3 AND d_ord < ?4 AND "
        "d_kind IS ?5 AND d_mode IS ?6 AND d_uid IS ?7 AND d_gid IS ?8 AND d_mtime_ns IS ?9 AND d_xattrs IS "
        "?10 AND d_damaged = 0");
    rows.bind(1, their_pair);
    Statement find = mine.prepare(
        "SELECT id, d_ord, d_kind, coalesce(d_verified_ns, 0), kind = 1 AND content_id IS NULL AND "
        "size = ?4 AND mtime_ns = ?5 AND ctime_ns = ?6 AND ino = ?7 AND dev = ?8, d_kind = 1 AND "
        "d_mtime_ns IS NULL FROM entries WHERE pair_id = ?1 AND parent = ?2 AND name = ?3");
    Statement adopt = mine.prepare("UPDATE entries SET content_id = ?2, racy = 0 WHERE id = ?1");
    Statement raise = mine.prepare("UPDATE entries SET d_ord = ?2 WHERE id = ?1 AND d_ord < ?2");
    // A version this drive did not know at the destination: the file held still
    // for the drive that read it, so this drive's misses of it are over
    // (TransitStore::note_miss; a failure stays). A NULL d_mtime_ns, a file that
    // left its link group, is not a version.
    const char* const new_version = "d_content_id IS NOT ?7 OR d_mtime_ns != ?6";
    Statement set = mine.prepare(fmt::format(
        "UPDATE entries SET d_kind = ?2, d_mode = ?3, d_uid = ?4, d_gid = ?5, d_mtime_ns = ?6, "
        "d_content_id = ?7, d_target = ?8, d_xattrs = ?9, d_verified_ns = ?10, d_damaged = ?11, "
        "d_ord = ?12, {} WHERE id = ?1",
        TransitStore::sql_end_misses(new_version)));
    // A row learned only from another drive has order -1: no version or
    // deletion of this drive's, so nothing unload ever applies (sql_current)
    // until this drive's own complete scan stamps it present or gone.
    Statement add = mine.prepare(
        "INSERT INTO entries(pair_id, parent, name, kind, d_kind, d_mode, d_uid, d_gid, d_mtime_ns, "
        "d_content_id, d_target, d_xattrs, d_verified_ns, d_damaged, d_ord, ord) VALUES "
        "(?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, -1)");
    int64_t learned = 0;
    auto merge_row = [&] {
        std::string parent = rows.column_blob(0), name = rows.column_blob(1);
        bool known_there = !rows.is_null(2);
        int64_t their_ord = rows.column_int(13);
        if (their_ord > latest_believable_ord()) {
            return; // beyond any clock: a damaged or forged copy, not a fact
        }
        greatest = std::max(greatest, their_ord);
        int64_t their_verified = rows.is_null(11) ? 0 : rows.column_int(11);
        std::optional<int64_t> content;
        find.bind(1, my_pair).bind_blob(2, parent).bind_blob(3, name);
        find.bind(4, rows.column_int(15)).bind(5, rows.column_int(16)).bind(6, rows.column_int(17))
            .bind(7, rows.column_int(18)).bind(8, rows.column_int(19));
        std::optional<int64_t> id;
        int64_t my_ord = 0, my_verified = 0;
        bool i_know = false, same_file = false, left_group = false;
        if (find.step()) {
            id = find.column_int(0);
            my_ord = find.column_int(1);
            i_know = !find.is_null(2);
            my_verified = find.column_int(3);
            same_file = find.column_int(4) == 1;
            left_group = find.column_int(5) == 1;
        }
        find.reset();
        if (source && same_file && !rows.is_null(14)) {
            int64_t c = upsert_content(mine, digest_from_bytes(rows.column_blob(14)), rows.column_int(15));
            adopt.bind(1, *id).bind(2, c);
            adopt.run();
        }
        // Newer by order; at the same order, a fact where there was none, or a
        // later verification (a copy found damaged, or repaired). Not at the
        // same order for a file that left its link group (EntryStore::
        // leave_link_group): the other drive's delivered state is the shared
        // file this drive must replace, whenever it verified it. But where the
        // order record just raised this drive's order to theirs, what this
        // drive knows there is of an older delivery: the first copy's is taken
        // (random_rotation_partial.sh seed 59), and another copy's at that
        // order then only by the rules above. A mark of a file that left its
        // link group stays (its delivered mtime NULL): that copy's drive may
        // know only its own older belief there, raised by its own pull.
        bool raised_here = raised && id && raised->contains(*id) && !raised_taken.contains(*id);
        bool take = their_ord > my_ord ||
                    (their_ord == my_ord && known_there &&
                     (raised_here || (!left_group && (!i_know || their_verified > my_verified))));
        bool keep_left_mark = take && left_group && their_ord == my_ord;
        if (take && raised_here && known_there) {
            raised_taken.insert(*id);
        }
        if (unconfirmed && id && i_know && !known_there && their_ord >= my_ord && their_ord > 0) {
            // Their drive knows of nothing there at an order as new as this
            // drive's knowledge or newer: that knowledge may be of something
            // gone since, learned from a copy older than a deletion this drive
            // made and forgot (random_rotation_partial.sh seed 76). Checked at
            // the destination by the caller.
            unconfirmed->insert(*id);
        }
        if (!id && !known_there) {
            // A path the other drive saw at the source and this one does not
            // know: recorded without a version (order 0), so that this drive's
            // next complete scan records it present, or deleted as of that scan
            // (a drive arriving later with it must not bring it back).
            add.bind(1, my_pair).bind_blob(2, parent).bind_blob(3, name);
            for (int i = 4; i <= 12; ++i) {
                add.bind_null(i);
            }
            add.bind(13, 0).bind(14, 0);
            add.run();
            return;
        }
        if (!take) {
            return;
        }
        if (id && !known_there) {
            // Their row knows an order there, not what stands there (their own
            // pull raised it, from the order record: maybe from this drive's
            // own intent). Only the order is raised, as DestOrder::pull does:
            // taking their empty knowledge erased this drive's, and a file it
            // delivered was then forgotten, not deleted, when the source
            // deleted it (found by random_rotation.sh).
            raise.bind(1, *id).bind(2, their_ord).run();
            ++learned;
            return;
        }
        if (!rows.is_null(7)) {
            content = upsert_content(mine, digest_from_bytes(rows.column_blob(7)), rows.column_int(8));
        }
        Statement& st = id ? set : add;
        int first = id ? 2 : 4;
        if (id) {
            st.bind(1, *id);
        } else {
            st.bind(1, my_pair).bind_blob(2, parent).bind_blob(3, name);
        }
        // Their row knows what stands there (the two cases above that do not returned).
        // A NULL is taken as NULL: a NULL d_mtime_ns (a file that left its link
        // group, a directory whose times are to be set again) read as 0 made this
        // drive believe the destination held an mtime of 1970.
        st.bind(first, rows.column_int(2))
            .bind(first + 1, rows.column_optional_int(3))
            .bind(first + 2, rows.column_optional_int(4))
            .bind(first + 3, rows.column_optional_int(5))
            .bind(first + 4, keep_left_mark ? std::nullopt : rows.column_optional_int(6))
            .bind(first + 5, content);
        rows.is_null(9) ? st.bind_null(first + 6) : st.bind_blob(first + 6, rows.column_blob(9));
        rows.is_null(10) ? st.bind_null(first + 7) : st.bind_blob(first + 7, rows.column_blob(10));
        st.bind(first + 8, their_verified ? std::optional<int64_t>(their_verified) : std::nullopt)
            .bind(first + 9, rows.column_int(12))
            .bind(first + 10, their_ord);
        st.run();
        ++learned;
        ++taken;
    };
    while (rows.step()) {
        merge_row();
        if (rows.is_null(20) || rows.column_int(20) > latest_believable_ord()) {
            continue;
        }
        seen.bind(1, my_pair).bind_blob(2, rows.column_blob(0)).bind_blob(3, rows.column_blob(1));
        seen.bind(4, rows.column_int(20));
        for (int i = 2; i <= 6; ++i) {
            rows.is_null(i) ? seen.bind_null(i + 3) : seen.bind(i + 3, rows.column_int(i));
        }
        rows.is_null(10) ? seen.bind_null(10) : seen.bind_blob(10, rows.column_blob(10));
        seen.run();
        learned += mine.changes();
    }
    return learned;
}

struct DriveFacts {
    std::string label;
    int64_t generation = 0;
    std::optional<int64_t> source_seen_ns, dest_seen_ns, lost_ns;
    int64_t carries_files = 0, carries_bytes = 0;
    std::vector<std::string> cargo; // hashes
};

// Records facts about drive_id for the pair where they are newer (by the
// generation they come from); lost is kept once known.
void learn_drive(Database& db, int64_t pair_id, const std::string& drive_id, const DriveFacts& f) {
    Statement cur = db.prepare("SELECT generation FROM drives WHERE pair_id = ? AND drive_id = ?");
    cur.bind(1, pair_id).bind_text(2, drive_id);
    std::optional<int64_t> known;
    if (cur.step()) {
        known = cur.column_int(0);
    }
    cur.reset();
    if (!known) {
        db.prepare("INSERT INTO drives(pair_id, drive_id, generation) VALUES (?, ?, -1)")
            .bind(1, pair_id)
            .bind_text(2, drive_id)
            .run();
    }
    if (!known || f.generation > *known) {
        db.prepare("UPDATE drives SET label = ?3, generation = ?4, source_seen_ns = max(coalesce(source_seen_ns, 0), coalesce(?5, 0)), "
                   "dest_seen_ns = max(coalesce(dest_seen_ns, 0), coalesce(?6, 0)), carries_files = ?7, "
                   "carries_bytes = ?8, learned_ns = ?9 WHERE pair_id = ?1 AND drive_id = ?2")
            .bind(1, pair_id)
            .bind_text(2, drive_id)
            .bind_text(3, f.label)
            .bind(4, f.generation)
            .bind(5, f.source_seen_ns)
            .bind(6, f.dest_seen_ns)
            .bind(7, f.carries_files)
            .bind(8, f.carries_bytes)
            .bind(9, now_ns())
            .run();
        db.exec("UPDATE drives SET source_seen_ns = NULLIF(source_seen_ns, 0), dest_seen_ns = NULLIF(dest_seen_ns, 0)");
        replace_cargo(db, pair_id, drive_id, f.cargo);
    }
    if (f.lost_ns) {
        db.prepare("UPDATE drives SET lost_ns = max(coalesce(lost_ns, 0), ?3) WHERE pair_id = ?1 AND "
                   "drive_id = ?2")
            .bind(1, pair_id)
            .bind_text(2, drive_id)
            .bind(3, *f.lost_ns)
            .run();
    }
}

// What a copy's drive knows of the destination is as of the order record's
// rows it had read (its pairs.dest_order_seq). Knowledge taken from a copy
// that read fewer rows than this drive may be of something those rows changed
// since: a file this drive deleted there itself, and then forgot (a drive
// forgets a name with its deletion), came back as delivered, and
// verify-destination reported it missing (random_rotation_partial.sh seed
// 205). So the next pull reads the record again from the copy's mark: a row
// only raises an order, and knowledge it raises is checked at the destination
// (check_raised_knowledge). A copy of another record (the destination's was
// made again), or of a drive that never read one (never at the destination:
// what it knows there came from other drives' copies, as old as their marks),
// sends it back to the start. True when the mark went down.
bool reread_order_from(Database& mine, int64_t pair_id, const Pair& theirs) {
    Statement st = mine.prepare(
        "UPDATE pairs SET dest_order_seq = CASE WHEN dest_order_epoch IS ?2 THEN ?3 ELSE 0 END WHERE id = ?1 AND "
        "dest_order_seq > CASE WHEN dest_order_epoch IS ?2 THEN ?3 ELSE 0 END");
    st.bind(1, pair_id).bind(3, theirs.dest_order_seq);
    theirs.dest_order_epoch ? st.bind_text(2, *theirs.dest_order_epoch) : st.bind_null(2);
    st.run();
    return mine.changes() > 0;
}

} // namespace

KnowledgeMerge merge_knowledge(Catalog& catalog, const Pair& pair, End end, const std::string& root,
                               const CopyKeys& keys, const IdBits* raised, IdBits* unconfirmed) {
    KnowledgeMerge out;
    Database& mine = catalog.db();
    std::string self = catalog.drive_id();
    const char* merged_col = end == End::source ? "merged_source_gen" : "merged_dest_gen";
    IdBits raised_taken; // raised entries that took a copy's knowledge at their order
    // A drive that removed the pair (`pair remove`, its mark here) is lost for
    // it: what it carried is carried again, not waited for (it never arrived:
    // a review found those files never backed up). This drive's own mark, left
    // when it removed the pair before joining it again, goes with its next copy
    // here (EndpointSync::backup).
    Statement left = mine.prepare(
        "INSERT INTO drives(pair_id, drive_id, generation, lost_ns) VALUES (?1, ?2, -1, ?3) ON "
        "CONFLICT(pair_id, drive_id) DO UPDATE SET lost_ns = ?3 WHERE lost_ns IS NULL");
    for (const auto& id : drives_left_pair(root, pair.uuid)) {
        if (id == self) {
            continue;
        }
        left.bind(1, pair.id).bind_text(2, id).bind(3, now_ns());
        left.run();
        if (mine.changes() > 0) {
            out.notes.push_back(
                fmt::format("pair '{}': drive {} left the pair ('pair remove' on it): "
                            "what only it carried is carried again by this drive",
                            pair.name, id));
        }
        left.reset();
    }
    // The stamp of the options as this drive has them, taken copy after copy
    // (compared with the stamp before the merge, an older copy read after a
    // newer one undid it).
    int64_t options_ns = pair.options_ns;
    for (const auto& [id, path] : copies_at(root, self)) {
        OpenCopy copy = open_copy(path, id, keys);
        if (!copy.cat) {
            out.notes.push_back(fmt::format("what drive {} knows could not be read from '{}': {}",
                                            id, escape_bytes(path), copy.note));
            continue;
        }
        Catalog& theirs = *copy.cat;
        auto their_pair = pair_by_uuid(theirs, pair.uuid);
        if (!their_pair) {
            continue; // a drive of other pairs at this root
        }
        int64_t gen = theirs.generation();
        Statement merged = mine.prepare(fmt::format(
            "SELECT {} FROM drives WHERE pair_id = ? AND drive_id = ?", merged_col));
        merged.bind(1, pair.id).bind_text(2, id);
        bool done = merged.step() && merged.column_int(0) == gen;
        merged.reset();
        if (done) {
            continue;
        }
        ++out.copies_read;
        int64_t greatest = their_pair->last_ord <= latest_believable_ord() ? their_pair->last_ord : 0;
        int64_t taken = 0; // rows whose knowledge of what stands there was taken
        out.entries_learned += merge_entries(mine, pair.id, theirs.db(), their_pair->id, end == End::source,
                                             greatest, raised, raised_taken, unconfirmed, taken);
        if (taken > 0 && reread_order_from(mine, pair.id, *their_pair)) {
            out.order_reread = true;
        }
        catalog.set_last_ord(pair.id, greatest); // a Lamport clock: see DestOrder::pull
        // The drive itself, as its copy shows it.
        DriveFacts f;
        f.label = theirs.meta("label").value_or("");
        f.generation = gen;
        f.source_seen_ns = their_pair->source_seen_ns;
        f.dest_seen_ns = their_pair->dest_seen_ns;
        for (auto& [hash, size] : carried_contents(theirs.db(), their_pair->id)) {
            ++f.carries_files;
            f.carries_bytes += size;
            f.cargo.push_back(std::move(hash));
        }
        learn_drive(mine, pair.id, id, f);
        // What it knows of the others, this drive excepted.
        for (const auto& d : known_drives(theirs.db(), their_pair->id)) {
            if (d.drive_id == self) {
                continue;
            }
            DriveFacts g;
            g.label = d.label;
            g.generation = d.generation;
            g.source_seen_ns = d.source_seen_ns;
            g.dest_seen_ns = d.dest_seen_ns;
            g.lost_ns = d.lost_ns;
            g.carries_files = d.carries_files;
            g.carries_bytes = d.carries_bytes;
            Statement hs = theirs.db().prepare(
                "SELECT hash FROM drive_cargo WHERE pair_id = ? AND drive_id = ?");
            hs.bind(1, their_pair->id).bind_text(2, d.drive_id);
            while (hs.step()) {
                g.cargo.push_back(hs.column_blob(0));
            }
            learn_drive(mine, pair.id, d.drive_id, g);
        }
        // The pair's options, where they were set later there (the reserve is
        // each drive's); not from beyond any clock (a damaged or forged copy).
        if (their_pair->options_ns > options_ns &&
            their_pair->options_ns <= latest_believable_ord()) {
            options_ns = their_pair->options_ns;
            PairSettings s = pair;
            s.excludes = their_pair->excludes;
            s.on_delete = their_pair->on_delete;
            s.retention_days = their_pair->retention_days;
            s.mass_change_limit = their_pair->mass_change_limit;
            s.mass_change_min = their_pair->mass_change_min;
            s.options_ns = their_pair->options_ns;
            catalog.set_pair_settings(pair.id, s);
            out.notes.push_back(fmt::format("pair '{}': took the pair's options as set on drive {}",
                                            pair.name, id));
        }
        mine.prepare(fmt::format("UPDATE drives SET {} = ? WHERE pair_id = ? AND drive_id = ?", merged_col))
            .bind(1, gen)
            .bind(2, pair.id)
            .bind_text(3, id)
            .run();
    }
    Statement cnt = mine.prepare("SELECT count(*) FROM drives WHERE pair_id = ?");
    cnt.bind(1, pair.id);
    out.drives_known = cnt.step() ? cnt.column_int(0) : 0;
    cnt.reset();
    return out;
}

KnowledgeMerge learn_at_destination(Catalog& catalog, const Pair& pair, DestOrder& order,
                                    const CopyKeys& keys) {
    Transaction tx(catalog.db());
    IdBits raised_known, unconfirmed;
    int64_t pulled = order.pull(catalog, pair, raised_known);
    KnowledgeMerge k = merge_knowledge(catalog, pair, End::dest, pair.dest, keys, &raised_known, &unconfirmed);
    if (k.order_reread) {
        // A copy's knowledge taken above may be older than rows already read
        // (reread_order_from): those rows again, their raises checked below.
        pulled += order.pull(catalog, *catalog.find_pair(pair.name), raised_known);
    }
    raised_known.each([&](int64_t id) { unconfirmed.insert(id); });
    // In the same commit as the pull: the next pull starts after these rows,
    // so a check left to a later commit would be lost to a kill in between.
    int64_t stale = check_raised_knowledge(catalog, pair, unconfirmed);
    tx.commit();
    if (stale > 0) {
        k.notes.push_back(fmt::format("{} that another drive changed at the destination since this drive's "
                                      "last visit {} not there as this drive knew {}: marked damaged "
                                      "there (known gone where nothing stands), delivered again where "
                                      "this drive's version is current (named at --verbose)",
                                      plural(stale, "path"), stale == 1 ? "is" : "are",
                                      stale == 1 ? "it" : "them"));
    }
    k.entries_learned += pulled;
    return k;
}

int64_t adopt_contents(Catalog& catalog, const Pair& pair, const CopyKeys& keys) {
    Database& mine = catalog.db();
    static const std::string todo_sql = fmt::format(
        "SELECT e.id, e.ino, e.dev, e.size, e.mtime_ns, e.ctime_ns, e.parent, e.name FROM entries e "
        "INDEXED BY entries_undelivered "
        "WHERE e.pair_id = ?1 AND {counted} AND NOT {delivered} AND e.kind = 1 AND e.content_id IS NULL",
        fmt::arg("counted", sql_counted("e")), fmt::arg("delivered", sql_delivered));
    struct Todo {
        int64_t id, ino, dev, size, mtime, ctime;
        std::string parent, name;
    };
    std::vector<Todo> todo;
    {
        Statement st = mine.prepare(todo_sql);
        st.bind(1, pair.id);
        while (st.step()) {
            todo.push_back({st.column_int(0), st.column_int(1), st.column_int(2), st.column_int(3),
                            st.column_int(4), st.column_int(5), st.column_blob(6), st.column_blob(7)});
        }
    }
    if (todo.empty()) {
        return 0;
    }
    int64_t adopted = 0;
    Statement set = mine.prepare("UPDATE entries SET content_id = ?2, racy = 0 WHERE id = ?1");
    Fd root(::open(pair.source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ParentDirs parents(root.get(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
    for (const auto& [id, path] : copies_at(pair.source, catalog.drive_id())) {
        OpenCopy copy = open_copy(path, id, keys);
        if (!copy.cat) {
            continue; // merge_knowledge said why
        }
        auto their_pair = pair_by_uuid(*copy.cat, pair.uuid);
        if (!their_pair) {
            continue;
        }
        // Under the same name, the whole stat must match (size, mtime, ctime,
        // inode: what a rescan trusts); under another name, a rename (which
        // moves the ctime): inode, size and mtime, of a file that has gone
        // from that name or not, born before the copy saw it there, as the
        // scan's rename rule (docs/scan.md): not a new file on a reused inode.
        Statement find = copy.cat->db().prepare(
            "SELECT c.hash, c.size, e.ctime_ns, e.ctime_ns = ?6 AND e.parent IS ?7 AND e.name IS ?8 "
            "FROM entries e JOIN contents c ON c.id = e.content_id WHERE "
            "e.pair_id = ?1 AND e.ino = ?2 AND e.dev = ?3 AND e.size = ?4 AND e.mtime_ns = ?5 AND "
            "e.racy = 0 AND (e.kind = 1 OR e.kind IS NULL) AND (e.ctime_ns = ?6 OR e.parent IS NOT ?7 "
            "OR e.name IS NOT ?8)");
        std::vector<Todo> left;
        for (const auto& t : todo) {
            find.bind(1, their_pair->id).bind(2, t.ino).bind(3, t.dev).bind(4, t.size).bind(5, t.mtime)
                .bind(6, t.ctime).bind_blob(7, t.parent).bind_blob(8, t.name);
            std::optional<int64_t> c;
            while (!c && find.step()) {
                if (find.column_int(3) == 1 ||
                    same_inode_life(parents.at(t.parent), t.name, static_cast<uint64_t>(t.ino),
                                    static_cast<uint64_t>(t.dev), find.column_int(2))) {
                    c = upsert_content(mine, digest_from_bytes(find.column_blob(0)), find.column_int(1));
                }
            }
            find.reset();
            if (c) {
                set.bind(1, t.id).bind(2, *c);
                set.run();
                ++adopted;
            } else {
                left.push_back(t);
            }
        }
        todo = std::move(left);
        if (todo.empty()) {
            break;
        }
    }
    return adopted;
}

std::vector<KnownDrive> known_drives(Database& db, int64_t pair_id) {
    Statement st = db.prepare(
        "SELECT drive_id, label, generation, source_seen_ns, dest_seen_ns, lost_ns, carries_files, "
        "carries_bytes, learned_ns FROM drives WHERE pair_id = ? ORDER BY drive_id");
    st.bind(1, pair_id);
    std::vector<KnownDrive> out;
    while (st.step()) {
        KnownDrive d;
        d.drive_id = st.column_text(0);
        d.label = st.column_text(1);
        d.generation = st.column_int(2);
        d.source_seen_ns = st.column_optional_int(3);
        d.dest_seen_ns = st.column_optional_int(4);
        d.lost_ns = st.column_optional_int(5);
        d.carries_files = st.column_int(6);
        d.carries_bytes = st.column_int(7);
        d.learned_ns = st.column_int(8);
        out.push_back(std::move(d));
    }
    return out;
}

std::pair<int64_t, int64_t> carried_elsewhere(Database& db, int64_t pair_id,
                                              StatusStore::Plan plan) {
    // Driven by the pair's undelivered files, or by what the other drives carry
    // for it when that is much less (most of the time nothing: one drive).
    if (plan == StatusStore::Plan::choose) {
        Statement n = db.prepare("SELECT count(*) FROM drive_cargo WHERE pair_id = ?1");
        n.bind(1, pair_id);
        int64_t carried = n.step() ? n.column_int(0) : 0;
        plan = StatusStore::set_is_cheaper(carried, StatusStore(db).undelivered_files(pair_id))
                   ? StatusStore::Plan::by_set
                   : StatusStore::Plan::by_entries;
    }
    // An undelivered file "e" of the pair.
    static const std::string undelivered = fmt::format(
        "e.pair_id = ?1 AND {counted} AND NOT {delivered} AND e.kind = 1",
        fmt::arg("counted", sql_counted("e")), fmt::arg("delivered", sql_delivered));
    static const std::string by_set_sql =
        "SELECT count(*), total(e.size) FROM entries e INDEXED BY entries_content WHERE "
        "e.content_id IN (SELECT c.id FROM drive_cargo dc JOIN drives dr ON dr.pair_id = dc.pair_id "
        "AND dr.drive_id = dc.drive_id JOIN contents c INDEXED BY contents_hash ON " +
        sql_hash_is("c", "dc.hash") + " WHERE dc.pair_id = ?1 AND dr.lost_ns IS NULL) AND " +
        undelivered;
    static const std::string sql = "SELECT count(*), total(e.size) FROM entries e INDEXED BY "
                                   "entries_undelivered LEFT JOIN contents c ON c.id = e.content_id "
                                   "WHERE " + undelivered + " AND " + sql_carried_elsewhere;
    Statement st = db.prepare(plan == StatusStore::Plan::by_set ? by_set_sql : sql);
    st.bind(1, pair_id);
    std::pair<int64_t, int64_t> out{0, 0};
    if (st.step()) {
        out = {st.column_int(0), static_cast<int64_t>(st.column_double(1))};
    }
    st.reset();
    return out;
}

std::vector<std::string> mark_drive_lost(Catalog& catalog, const std::string& drive_id) {
    std::vector<std::string> pairs;
    Transaction tx(catalog.db());
    for (const auto& p : catalog.pairs()) {
        Statement st = catalog.db().prepare(
            "UPDATE drives SET lost_ns = coalesce(lost_ns, ?3) WHERE pair_id = ?1 AND drive_id = ?2");
        st.bind(1, p.id).bind_text(2, drive_id).bind(3, now_ns());
        st.run();
        if (catalog.db().changes() > 0) {
            pairs.push_back(p.name);
        }
    }
    tx.commit();
    return pairs;
}

std::vector<std::string> drives_with_pair_at(const std::string& root, const std::string& pair_uuid,
                                             const std::string& self, const CopyKeys& keys) {
    std::vector<std::string> out;
    for (const auto& [id, path] : copies_at(root, self)) {
        OpenCopy copy = open_copy(path, id, keys);
        if (copy.cat && pair_by_uuid(*copy.cat, pair_uuid)) {
            out.push_back(id);
        }
    }
    return out;
}

JoinLookup find_pair_to_join(const std::string& source, const std::string& dest,
                             const std::string& self, const CopyKeys& keys) {
    JoinLookup out;
    auto& join = out.join;
    std::vector<MarkerInfo> markers = markers_at(source, Role::source); // read once
    std::set<std::string> marked, described;
    for (const auto& m : markers) {
        marked.insert(m.pair_uuid);
    }
    for (const auto& [id, path] : copies_at(source, self)) {
        OpenCopy copy = open_copy(path, id, keys);
        if (!copy.cat) {
            out.notes.push_back(fmt::format("drive {}'s copy '{}' could not be read: {}", id,
                                            escape_bytes(path), copy.note));
            continue;
        }
        for (auto& p : copy.cat->pairs()) {
            described.insert(p.uuid);
            if (p.source != source || p.dest != dest || !p.source_marker ||
                !marked.contains(p.uuid)) {
                continue;
            }
            if (join && join->pair.uuid != p.uuid) {
                continue; // two pairs with these roots (one made --separate): the first
            }
            if (!join) {
                join.emplace();
                join->pair = p;
            } else if (p.options_ns > join->pair.options_ns) {
                join->pair = p;
            }
            join->drives.emplace_back(id, copy.cat->meta("label").value_or(""));
        }
    }
    for (auto& m : markers) {
        if (!described.contains(m.pair_uuid)) {
            out.unknown.push_back(std::move(m));
        }
    }
    return out;
}

} // namespace barge
