#include "barge/catalog/catalog.hpp"
#include "barge/cli/commands.hpp"
#include "barge/cli/install_binary.hpp"
#include "barge/fs/space.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/path.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <fmt/format.h>
#include <sys/stat.h>

namespace barge::cli {

namespace {

struct InitOptions {
    std::string dir = ".";
    std::optional<std::string> piece_size;
    bool install_binary = false;
    std::optional<std::string> from;
};

// SPEC §3: 1 GiB (below FAT32's 4 GiB file limit), or 1/16 of the drive when smaller.
uint64_t default_piece_size(uint64_t capacity) {
    constexpr uint64_t gib = 1024ull * 1024 * 1024;
    return std::max<uint64_t>(std::min(gib, capacity / 16), 64 * 1024);
}

ExitCode run_init(const Globals& g, const InitOptions& o) {
    std::string dir = absolute_path(o.dir);
    // Like mkdir without -p: a missing parent usually means a drive not mounted.
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        throw_errno("mkdir", dir);
    }
    Space space = fs_space(dir);
    uint64_t piece = o.piece_size ? parse_size(*o.piece_size) : default_piece_size(space.capacity);
    if (piece < 4096) {
        throw Refusal(fmt::format("piece size {} is too small: at least 4096 bytes", piece));
    }
    DriveLayout layout{dir};
    DriveLock lock(dir, DriveLock::Mode::exclusive, "init");
    std::string id = new_uuid();
    {
        Catalog cat = Catalog::create(layout.catalog(), piece, id);
    }
    ensure_dir(layout.cargo());
    ensure_dir(layout.logs());
    fsync_dir(dir);
    JsonWriter j;
    j.begin_object();
    j.field("drive", dir);
    j.field("drive_id", id);
    j.field("piece_size", piece);
    j.field("capacity_bytes", space.capacity);
    j.field("free_bytes", space.available);
    if (!g.json) {
        say(g, fmt::format("initialized drive {} (piece size {}, {} free of {})", escape_bytes(dir),
                           format_size(piece), format_size(space.available),
                           format_size(space.capacity)));
    }
    if (o.install_binary) {
        install_binary(g, layout, o.from, j);
    }
    j.end_object();
    if (g.json) {
        print_json(j);
    }
    return ExitCode::ok;
}

} // namespace

void add_init(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<InitOptions>();
    auto* sub = app.add_subcommand("init", "make DIR (default: the working directory) a drive");
    sub->add_option("DIR", o->dir, "the directory on the external drive");
    sub->add_option("--piece-size", o->piece_size,
                    "largest piece on the cargo (default: 1GiB, or 1/16 of the drive if smaller)")
        ->option_text("SIZE");
    sub->add_flag("--install-binary", o->install_binary,
                  "also copy a static barge onto the drive (DIR/bin/barge), see install-binary");
    sub->add_option("--from", o->from, "with --install-binary: the static barge to copy")
        ->option_text("FILE");
    sub->footer("Example: barge init /media/usb/barge --install-binary");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_init(g, *o); }; });
}

} // namespace barge::cli
