#include "barge/engine/dir_move.hpp"

#include "barge/catalog/transit.hpp"
#include "barge/engine/destination.hpp"
#include "barge/engine/known_at_dest.hpp"
#include "barge/fs/dest_tree.hpp"
#include "barge/fs/dir.hpp"
#include "barge/util/text.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <functional>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

namespace barge {

namespace {

// Whether the destination shows `from` renamed to `to`: nothing at `from` (nor
// a directory to hold it), a real directory at `to` by that exact name (never
// one a case-insensitive file system takes for it).
bool shows_move(const DestTree& tree, const EntryPath& from, const EntryPath& to) {
    DestTree::check_path(from.parent, from.name);
    DestTree::check_path(to.parent, to.name);
    Fd from_parent = open_beneath(tree.fd(), from.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    struct stat st{};
    bool from_gone = from_parent ? ::fstatat(from_parent.get(), from.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 &&
                                       errno == ENOENT
                                 : errno == ENOENT;
    if (!from_gone) {
        return false;
    }
    Fd to_parent = open_beneath(tree.fd(), to.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    return to_parent && ::fstatat(to_parent.get(), to.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISDIR(st.st_mode) && exact_name_present(tree, to_parent.get(), to);
}

} // namespace

std::optional<std::string> finish_dir_move(Catalog& catalog, const Pair& pair) {
    TransitStore store(catalog.db());
    auto move = store.dir_move(pair.id);
    if (!move) {
        return std::nullopt;
    }
    DestTree tree(pair.dest);
    std::optional<std::string> note;
    Transaction tx(catalog.db());
    if (shows_move(tree, move->from, move->to)) {
        auto from = store.dir_for_move(move->from_id, true);
        if (from && from->rel() == move->from.rel()) {
            KnownAtDestCheck check(store, tree);
            store.move_dest_subtree(pair.id, move->from_id, move->from.rel(), move->to,
                                    std::ref(check));
            spdlog::info("pair {}: recorded the move of '{}' to '{}', made by an unload that stopped "
                         "before recording it",
                         pair.name, escape_bytes(tree.display(move->from.rel())),
                         escape_bytes(tree.display(move->to.rel())));
        } else {
            note = fmt::format("'{}' was moved to '{}' by an unload that stopped before recording it, "
                               "and a load found it at the source again since: run verify-destination, "
                               "which finds what the catalog holds there missing, and the next unload "
                               "delivers it again",
                               escape_bytes(tree.display(move->from.rel())),
                               escape_bytes(tree.display(move->to.rel())));
        }
    }
    store.drop_dir_move(pair.id);
    tx.commit();
    return note;
}

} // namespace barge
