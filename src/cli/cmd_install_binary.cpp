#include "barge/cli/commands.hpp"
#include "barge/cli/install_binary.hpp"
#include "barge/engine/transfer.hpp"
#include "barge/fs/medium.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/path.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

// Every barge binary carries this string, so that install-binary can tell a
// barge from any other static program (SPEC §5: install-binary --from /sbin/ldconfig
// must be refused) without running it.
extern "C" {
__attribute__((used)) const char barge_binary_marker[] = "barge-binary-marker:v1 barge " BARGE_VERSION;
}

namespace barge::cli {

namespace {

// Whether the file holds barge's marker (a binary built from this project).
bool holds_marker(const std::string& path) {
    static constexpr std::string_view marker = "barge-binary-marker:v1 ";
    Fd fd = open_or_throw(path, O_RDONLY);
    std::string window;
    char buf[1 << 16];
    for (;;) {
        size_t n = read_full(fd.get(), buf, sizeof buf, path);
        window.append(buf, n);
        if (window.find(marker) != std::string::npos) {
            return true;
        }
        if (n < sizeof buf) {
            return false;
        }
        window.erase(0, window.size() - marker.size()); // a marker across two reads
    }
}

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
    if (!holds_marker(path)) {
        throw Refusal(fmt::format("'{}' is a static program, but not barge (it lacks barge's "
                                  "marker): build one with scripts/build-static",
                                  escape_bytes(path)));
    }
}

} // namespace

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

namespace {

// What is copied: the binary, as one item of the transfer pipeline.
struct Binary : TransferItem {};

// Puts the verified copy in place as DRIVE/bin/barge; nothing to record.
class BinaryPlacer : public Transfer<Binary>::Client {
public:
    BinaryPlacer(int bin_fd, std::string dst) : m_bin_fd(bin_fd), m_dst(std::move(dst)) {}
    void place(Binary& b) override { b.written.front().file.commit(m_bin_fd, "barge", m_dst); }
    void commit(std::vector<Binary>&) override {}
    void retry(Binary&&) override {} // never: RetryPolicy{1}
    void failed(Binary&, const std::string& reason) override { m_failure = reason; }
    std::string mismatch(const Binary& b, size_t) override {
        return fmt::format("'{}' read back different from what was written",
                           escape_bytes(b.written.front().file.display()));
    }
    std::string describe(const Binary&) override { return m_dst; }
    const std::string& failure() const { return m_failure; }

private:
    int m_bin_fd;
    std::string m_dst;
    std::string m_failure;
};

} // namespace

void install_binary(const Globals& g, const DriveLayout& layout, const std::optional<std::string>& from,
                    JsonWriter& j) {
    std::string src = static_binary(from);
    std::string bin = layout.root + "/bin";
    ensure_dir(bin);
    std::string dst = bin + "/barge";
    Fd in = open_or_throw(src, O_RDONLY);
    struct stat st{};
    if (::fstat(in.get(), &st) != 0) {
        throw_errno("stat", src);
    }
    // The same verified copy as every piece: written under a temporary name, made
    // durable, read back from the drive and compared, then renamed.
    Medium medium(open_or_throw(bin, O_RDONLY | O_DIRECTORY), bin, OnFailure::stop_run);
    medium.remove_leftovers("tmp-");
    BinaryPlacer placer(medium.dirfd(), dst);
    Problems failures;
    Notes notes;
    ErrorSink sink("install-binary", failures, notes, nullptr);
    Transfer<Binary> transfer(medium, placer, sink, RetryPolicy{1});
    HashPipeline pipe;
    Binary b;
    TempFile tmp = transfer.create("tmp-", "", st.st_size, 0755);
    uint64_t n = copy_through(pipe, in.get(), 0, st.st_size, src, &tmp, 0);
    Digest d = pipe.finish();
    if (static_cast<int64_t>(n) != st.st_size) {
        throw VerifyError(fmt::format("'{}' changed size while copied", escape_bytes(src)));
    }
    tmp.finish();
    b.written.push_back({std::move(tmp), d, st.st_size});
    transfer.add(std::move(b));
    transfer.flush();
    if (!placer.failure().empty()) {
        throw VerifyError(placer.failure());
    }
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

namespace {

struct InstallCli {
    std::optional<std::string> from;
    bool dry_run = false;
};

ExitCode run_install_binary(const Globals& g, const InstallCli& o) {
    DriveLayout layout = find_drive(g.drive);
    DriveLock lock(layout.root, DriveLock::Mode::exclusive, "install-binary");
    JsonWriter j;
    j.begin_object();
    j.field("dry_run", o.dry_run);
    if (o.dry_run) {
        std::string src = static_binary(o.from);
        say(g, fmt::format("dry run: would install {} as {}/bin/barge; nothing was changed",
                           escape_bytes(src), escape_bytes(layout.root)));
        j.key("binary");
        j.begin_object();
        j.field("path", layout.root + "/bin/barge");
        j.field("from", src);
        j.end_object();
    } else {
        install_binary(g, layout, o.from, j);
    }
    j.end_object();
    if (g.json) {
        print_json(j);
    }
    return ExitCode::ok;
}

} // namespace

void add_install_binary(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<InstallCli>();
    auto* ib = app.add_subcommand(
        "install-binary", "copy a statically linked barge onto the drive (DRIVE/bin/barge), so a "
                          "destination without barge installed can unload straight from the drive");
    ib->add_flag("-n,--dry-run", o->dry_run, "check the binary and say what would be installed");
    ib->add_option("--from", o->from,
                   "the static barge to copy (default: this barge if static, else barge-static "
                   "next to it)")
        ->option_text("FILE");
    ib->footer("Example: barge install-binary --from build-static/barge\n"
               "then, offsite: /media/usb/barge/bin/barge -d /media/usb/barge unload");
    ib->callback([&g, &action, o] { action = [&g, o] { return run_install_binary(g, *o); }; });
}

} // namespace barge::cli
