#include "barge/cli/unlock.hpp"

#include "barge/cli/context.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/path.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

namespace barge::cli {

namespace {

// What this process unlocked, for save_keys_at (one drive per process).
struct Unlocked {
    std::string wrapped_text; // DRIVE/barge.key as read
    bool save = true;         // not --no-save-key
    std::string root;         // the drive unlocked, and its keys: asked once per process
    std::shared_ptr<const DriveKeys> keys;
};
Unlocked g_unlocked;

// Reads a small file whole; the passphrase and key files are never large.
std::string read_small(const std::string& path, const char* what) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw Refusal(fmt::format("cannot read the {} '{}': {}", what, escape_bytes(path),
                                  std::strerror(errno)));
    }
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            throw SystemError(errno, "read", path);
        }
        if (n == 0) {
            break;
        }
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > 64 * 1024) {
            throw Refusal(fmt::format("the {} '{}' is larger than 64 KiB", what, escape_bytes(path)));
        }
    }
    sodium_memzero(buf, sizeof buf);
    return text;
}

// A line typed on the terminal without echo.
std::string read_hidden(const std::string& prompt) {
    std::fprintf(stderr, "%s", prompt.c_str());
    std::fflush(stderr);
    termios old{};
    bool restore = ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        quiet.c_lflag |= ECHONL;
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (restore) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    }
    return line;
}

std::string state_dir() {
    if (const char* d = std::getenv("BARGE_STATE_DIR"); d && *d) {
        return d;
    }
    if (::geteuid() == 0) {
        return "/var/lib/barge";
    }
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) {
        return std::string(x) + "/barge";
    }
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/tmp") + "/.local/state/barge";
}

std::vector<std::string> known_roots() {
    std::vector<std::string> roots;
    std::string text;
    try {
        text = read_file(endpoints_list_path());
    } catch (const SystemError&) {
        return roots;
    }
    for (auto& line : split_lines(text)) {
        if (!line.empty() && line[0] == '/') {
            roots.push_back(std::move(line));
        }
    }
    return roots;
}

// The data key saved at root for drive_id, if there is one. A key file that is
// not the user's own or is open to others is refused, never used.
std::optional<SecretKey> saved_key_in(const std::string& path, const std::string& drive_id) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return std::nullopt;
        }
        throw Refusal(fmt::format("cannot read the saved key '{}': {}", escape_bytes(path),
                                  std::strerror(errno)));
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) {
        throw SystemError(errno, "stat", path);
    }
    check_key_file_stat(st, ::geteuid(), path); // after opening: no race with a swap
    std::string text(static_cast<size_t>(std::min<off_t>(st.st_size, 8192)), '\0');
    ssize_t n = ::pread(fd.get(), text.data(), text.size(), 0);
    if (n < 0) {
        throw SystemError(errno, "read", path);
    }
    text.resize(static_cast<size_t>(n));
    SavedKey saved = parse_saved_key(text, path);
    sodium_memzero(text.data(), text.size());
    if (saved.drive_id != drive_id) {
        throw KeyFileError(fmt::format("'{}' is the key of drive {}, not of drive {}",
                                       escape_bytes(path), saved.drive_id, drive_id));
    }
    return std::move(saved.key);
}

} // namespace

SecretText::~SecretText() {
    sodium_memzero(text.data(), text.size());
}

std::optional<std::string> get_passphrase(const std::optional<std::string>& file,
                                          const std::string& prompt, bool confirm, bool use_env) {
    std::optional<std::string> path = file;
    if (!path && use_env) {
        if (const char* env = std::getenv("BARGE_PASSPHRASE_FILE"); env && *env) {
            path = env;
        }
    }
    if (path) {
        std::string text = read_small(*path, "passphrase file");
        if (!text.empty() && text.back() == '\n') {
            text.pop_back();
            if (!text.empty() && text.back() == '\r') {
                text.pop_back();
            }
        }
        if (text.empty()) {
            throw Refusal(fmt::format("the passphrase file '{}' is empty", escape_bytes(*path)));
        }
        return text;
    }
    if (!::isatty(STDIN_FILENO)) {
        return std::nullopt;
    }
    std::string first = read_hidden(prompt + ": ");
    if (first.empty()) {
        throw Refusal("an empty passphrase is refused");
    }
    if (confirm) {
        std::string second = read_hidden("the same passphrase again: ");
        bool same = first == second;
        sodium_memzero(second.data(), second.size());
        if (!same) {
            sodium_memzero(first.data(), first.size());
            throw Refusal("the two passphrases differ; nothing was changed");
        }
    }
    return first;
}

std::string endpoints_list_path() {
    return state_dir() + "/endpoints";
}

std::string saved_key_path(const std::string& root, const std::string& drive_id) {
    return barge_dir(root) + "/drive-" + drive_id + ".key";
}

std::string wrapped_key_copy_path(const std::string& root, const std::string& drive_id) {
    return barge_dir(root) + "/drive-" + drive_id + ".wrapped-key";
}

KdfParams kdf_from_options(const std::optional<std::string>& memory,
                           const std::optional<uint64_t>& passes, KdfParams kdf) {
    if (memory) {
        kdf.memlimit = parse_size(*memory);
    }
    if (passes) {
        kdf.opslimit = *passes;
    }
    if (!valid_kdf(kdf)) {
        throw Refusal("the passphrase's key derivation takes --kdf-passes 1 to 64 and "
                      "--kdf-memory 8KiB to 16GiB (a multiple of 1 KiB)");
    }
    return kdf;
}

void add_kdf_options(CLI::App* command, KdfOptions& o) {
    command->add_option("--kdf-memory", o.memory,
                        "memory of each Argon2id passphrase check (a new drive: 128MiB; a "
                        "passphrase change keeps the drive's)")
        ->option_text("SIZE");
    command->add_option("--kdf-passes", o.passes,
                        "Argon2id passes (a new drive: 4; a passphrase change keeps the drive's)")
        ->option_text("N");
}

WrappedKey read_wrapped_key(const std::string& path) {
    return parse_wrapped_key(read_small(path, "key file"), path);
}

void unlock(DriveLayout& layout, const Globals& g) {
    g_unlocked.save = !g.no_save_key;
    if (g_unlocked.keys && g_unlocked.root == layout.root) {
        layout.keys = g_unlocked.keys;
        return;
    }
    struct stat st{};
    if (::lstat(layout.key_file().c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return; // a plain drive
        }
        throw SystemError(errno, "stat", layout.key_file());
    }
    g_unlocked.wrapped_text = read_small(layout.key_file(), "key file");
    WrappedKey wrapped = parse_wrapped_key(g_unlocked.wrapped_text, layout.key_file());
    // A saved key that cannot be trusted (loose permissions, another owner) or read
    // is never used; the passphrase may still unlock, else it is the reason given.
    std::vector<std::string> problems;
    for (const auto& root : known_roots()) {
        std::optional<SecretKey> key;
        try {
            key = saved_key_in(saved_key_path(root, wrapped.drive_id), wrapped.drive_id);
        } catch (const Error& e) {
            problems.push_back(e.what());
            continue;
        }
        if (key) {
            for (const auto& p : problems) {
                spdlog::warn("{} (another saved key is used instead)", p);
            }
            spdlog::debug("drive {} unlocked with the key saved at '{}'", wrapped.drive_id,
                          escape_bytes(root));
            layout.keys = DriveKeys::derive(std::move(*key), wrapped.drive_id);
            g_unlocked.root = layout.root;
            g_unlocked.keys = layout.keys;
            return;
        }
    }
    auto pass = get_passphrase(g.passphrase_file,
                               fmt::format("passphrase of the drive {}", escape_bytes(layout.root)),
                               false);
    if (!pass) {
        if (!problems.empty()) {
            std::string all;
            for (const auto& p : problems) {
                all += (all.empty() ? "" : "; ") + p;
            }
            throw Refusal(fmt::format("drive '{}' is encrypted, and no usable key is at hand: {}",
                                      escape_bytes(layout.root), all));
        }
        throw Refusal(fmt::format(
            "drive '{}' is encrypted, and neither its key nor its passphrase is at hand: no key "
            "saved at an endpoint this machine knows ({}), no --passphrase-file, no "
            "$BARGE_PASSPHRASE_FILE and no terminal to ask on",
            escape_bytes(layout.root), escape_bytes(endpoints_list_path())));
    }
    for (const auto& p : problems) {
        spdlog::warn("{} (the passphrase is used instead)", p);
    }
    SecretText pass_w{std::move(*pass)};
    SecretKey key = SecretKey::zeroed();
    try {
        key = unwrap_key(wrapped, pass_w.text);
    } catch (const WrongPassphrase&) {
        throw Refusal(fmt::format("wrong passphrase for drive '{}' (its key file {})",
                                  escape_bytes(layout.root), escape_bytes(layout.key_file())));
    }
    layout.keys = DriveKeys::derive(std::move(key), wrapped.drive_id);
    g_unlocked.root = layout.root;
    g_unlocked.keys = layout.keys;
}

bool is_sealed_catalog(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    char head[16] = {};
    return fd && ::pread(fd.get(), head, sizeof head, 0) == static_cast<ssize_t>(sizeof head) &&
           std::memcmp(head, "SQLite format 3", 16) != 0;
}

EndpointKeys keys_for_copy(const std::string& copy_path, const Globals& g) {
    std::string dir = parent_path(copy_path);
    std::string name = copy_path.substr(std::min(copy_path.size(), dir.size() + 1));
    if (!starts_with(name, "catalog-") || !name.ends_with(".db") || name.size() <= 11) {
        throw Refusal(fmt::format("'{}' is encrypted but not named catalog-<drive id>.db, so the "
                                  "key file beside it cannot be found",
                                  escape_bytes(copy_path)));
    }
    std::string id = name.substr(8, name.size() - 11); // catalog-<id>.db
    std::string wrapped_path = dir + "/drive-" + id + ".wrapped-key";
    EndpointKeys out;
    out.wrapped_text = read_small(wrapped_path, "copy of the drive's key file");
    WrappedKey wrapped = parse_wrapped_key(out.wrapped_text, wrapped_path);
    if (wrapped.drive_id != id) {
        throw KeyFileError(fmt::format("'{}' is the key of drive {}, not of drive {}",
                                       escape_bytes(wrapped_path), wrapped.drive_id, id));
    }
    if (g_unlocked.keys && g_unlocked.keys->drive_id == id) {
        out.keys = g_unlocked.keys;
        return out;
    }
    if (auto key = saved_key_in(dir + "/drive-" + id + ".key", id)) {
        out.keys = DriveKeys::derive(std::move(*key), id);
    } else {
        auto pass = get_passphrase(g.passphrase_file, "passphrase of drive " + id, false);
        if (!pass) {
            throw Refusal(fmt::format("the copy '{}' is encrypted, and neither the key saved "
                                      "beside it nor a passphrase is at hand",
                                      escape_bytes(copy_path)));
        }
        SecretText w{std::move(*pass)};
        out.keys = DriveKeys::derive(unwrap_key(wrapped, w.text), id);
    }
    g_unlocked.keys = out.keys;
    g_unlocked.wrapped_text = out.wrapped_text;
    return out;
}

std::shared_ptr<const DriveKeys> saved_keys_for_copy(const std::string& copy_path) {
    if (!is_sealed_catalog(copy_path)) {
        return nullptr;
    }
    std::string dir = parent_path(copy_path);
    std::string name = copy_path.substr(std::min(copy_path.size(), dir.size() + 1));
    std::string id = name.size() > 11 ? name.substr(8, name.size() - 11) : "";
    if (auto key = saved_key_in(dir + "/drive-" + id + ".key", id)) {
        return DriveKeys::derive(std::move(*key), id);
    }
    throw Refusal(fmt::format("it is encrypted and no key of drive {} is saved here (saved at "
                              "that drive's first unlock here unless --no-save-key)",
                              id));
}

void save_keys_at(const DriveLayout& layout, const std::vector<std::string>& roots) {
    if (!layout.keys || !g_unlocked.save || roots.empty()) {
        return;
    }
    const std::string& id = layout.keys->drive_id;
    std::vector<std::string> listed = known_roots();
    bool list_changed = false;
    for (const auto& root : roots) {
        try {
            std::string key_path = saved_key_path(root, id);
            struct stat st{};
            if (::lstat(key_path.c_str(), &st) != 0) {
                std::string text = format_saved_key(layout.keys->data, id);
                write_file_atomic(key_path, text, 0600);
                sodium_memzero(text.data(), text.size());
                spdlog::info("saved the key of drive {} at '{}' (0600)", id, escape_bytes(key_path));
            }
            std::string copy = wrapped_key_copy_path(root, id);
            std::string old;
            try {
                old = read_file(copy);
            } catch (const SystemError&) {
            }
            if (!g_unlocked.wrapped_text.empty() && old != g_unlocked.wrapped_text) {
                write_file_atomic(copy, g_unlocked.wrapped_text, 0600);
            }
            if (root.find('\n') == std::string::npos &&
                std::find(listed.begin(), listed.end(), root) == listed.end()) {
                listed.push_back(root);
                list_changed = true;
            }
        } catch (const Error& e) {
            spdlog::warn("saving the drive's key at '{}': {}", escape_bytes(root), e.what());
        }
    }
    if (list_changed) {
        try {
            std::error_code ec;
            std::filesystem::create_directories(parent_path(endpoints_list_path()), ec);
            if (ec) {
                throw SystemError(ec.value(), "mkdir", parent_path(endpoints_list_path()));
            }
            std::string text;
            for (const auto& r : listed) {
                text += r + "\n";
            }
            write_file_atomic(endpoints_list_path(), text, 0600);
        } catch (const Error& e) {
            spdlog::warn("recording the endpoints with saved keys in '{}': {}",
                         escape_bytes(endpoints_list_path()), e.what());
        }
    }
}

} // namespace barge::cli
