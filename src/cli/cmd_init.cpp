#include "barge/catalog/catalog.hpp"
#include "barge/cli/context.hpp"
#include "barge/fs/atomic_file.hpp"
#include "barge/fs/durable.hpp"
#include "barge/fs/path.hpp"
#include "barge/fs/space.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge::cli {

namespace {

struct InitOptions {
    std::string dir = ".";
    std::optional<std::string> piece_size;
    bool install_binary = false;
    std::optional<std::string> from;
};

// Whether the file is an x86-64 (or any 64-bit) ELF executable without a program
// interpreter, i.e. linked statically: it runs on a machine without barge's
// libraries. Throws Refusal with the reason otherwise.
void require_static_elf(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw_errno("open", path);
    }
    Elf64_Ehdr eh{};
    if (::pread(fd.get(), &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh) ||
        std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
        throw Refusal(fmt::format("'{}' is not a 64-bit ELF executable", escape_bytes(path)));
    }
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph{};
        auto off = static_cast<off_t>(eh.e_phoff + i * static_cast<uint64_t>(eh.e_phentsize));
        if (::pread(fd.get(), &ph, sizeof ph, off) != static_cast<ssize_t>(sizeof ph)) {
            throw Refusal(fmt::format("'{}': truncated ELF program headers", escape_bytes(path)));
        }
        if (ph.p_type == PT_INTERP) {
            throw Refusal(fmt::format(
                "'{}' is dynamically linked: it would not run on a machine without barge's "
                "libraries. Build a static barge (scripts/build-static) and pass --from FILE",
                escape_bytes(path)));
        }
    }
}

// The static barge to put on a drive: --from, else this barge if it is static,
// else barge-static next to it. Throws Refusal when the one chosen is not static.
std::string static_binary(const std::optional<std::string>& from) {
    if (from) {
        std::string path = absolute_path(*from);
        require_static_elf(path);
        return path;
    }
    char buf[4096] = {};
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        throw_errno("readlink", "/proc/self/exe");
    }
    std::string self(buf, static_cast<size_t>(n));
    try {
        require_static_elf(self);
        return self;
    } catch (const Refusal&) {
        std::string sibling = self.substr(0, self.rfind('/') + 1) + "barge-static";
        struct stat st{};
        if (::stat(sibling.c_str(), &st) == 0) {
            require_static_elf(sibling);
            return sibling;
        }
        throw;
    }
}

// Copies the static barge to DRIVE/bin/barge: written under a temporary name,
// synced, re-read and compared with the source's BLAKE2b-512, then renamed.
void install_binary(const Globals& g, const DriveLayout& layout, const std::optional<std::string>& from,
                    JsonWriter& j) {
    std::string src = static_binary(from);
    std::string bin = layout.root + "/bin";
    ensure_dir(bin);
    const std::string tmp_name = ".barge.tmp";
    std::string tmp = bin + "/" + tmp_name;
    std::string dst = bin + "/barge";
    Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) {
        throw_errno("open", src);
    }
    struct stat st{};
    if (::fstat(in.get(), &st) != 0) {
        throw_errno("stat", src);
    }
    ::unlink(tmp.c_str());
    Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755));
    if (!out) {
        throw_errno("create", tmp);
    }
    HashPipeline pipe;
    uint64_t n = copy_through(pipe, in.get(), 0, st.st_size, out.get(), 0, src, tmp);
    Digest d = pipe.finish();
    if (static_cast<int64_t>(n) != st.st_size) {
        throw VerifyError(fmt::format("'{}' changed size while copied", escape_bytes(src)));
    }
    full_sync(out.get(), tmp);
    out.close(tmp);
    // Read back from the drive itself, as every piece is (docs/durability.md).
    Fd bin_fd = open_or_throw(bin, O_RDONLY | O_DIRECTORY);
    uint64_t m = 0;
    if (hash_for_verify(open_for_verify(bin_fd.get(), tmp_name, tmp), pipe, m, tmp) != d ||
        m != n) {
        ::unlink(tmp.c_str());
        throw VerifyError(fmt::format("'{}' read back different from '{}'", escape_bytes(tmp),
                                      escape_bytes(src)));
    }
    rename_into_place(tmp, dst);
    if (g.json) {
        j.key("binary");
        j.begin_object();
        j.field("path", dst);
        j.field("from", src);
        j.field("bytes", static_cast<int64_t>(n));
        j.field("blake2b", digest_hex(d));
        j.end_object();
    } else {
        say(g, fmt::format("installed a static barge ({}) as {}; at a destination without barge run: "
                           "{} -d {} unload",
                           format_size(n), escape_bytes(dst), escape_bytes(dst),
                           escape_bytes(layout.root)));
    }
}

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

ExitCode run_install_binary(const Globals& g, const std::optional<std::string>& from) {
    DriveLayout layout = find_drive(g.drive);
    DriveLock lock(layout.root, DriveLock::Mode::exclusive, "install-binary");
    JsonWriter j;
    j.begin_object();
    install_binary(g, layout, from, j);
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

    auto from = std::make_shared<std::optional<std::string>>();
    auto* ib = app.add_subcommand(
        "install-binary", "copy a statically linked barge onto the drive (DRIVE/bin/barge), so a "
                          "destination without barge installed can unload straight from the drive");
    ib->add_option("--from", *from,
                   "the static barge to copy (default: this barge if static, else barge-static "
                   "next to it)")
        ->option_text("FILE");
    ib->footer("Example: barge install-binary --from build-static/barge\n"
               "then, offsite: /media/usb/barge/bin/barge -d /media/usb/barge unload");
    ib->callback([&g, &action, from] { action = [&g, from] { return run_install_binary(g, *from); }; });
}

} // namespace barge::cli
