#include "barge/cli/drive_log.hpp"

#include "barge/crypto/drive_keys.hpp"
#include "barge/crypto/sealed_log.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/text.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <fmt/format.h>
#include <mutex>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge::cli {

namespace {

constexpr int64_t max_file = 4 * 1024 * 1024;
constexpr int kept_files = 5; // besides the current one
constexpr const char* pattern = "%Y-%m-%dT%H:%M:%S.%e %l [%P] %v";

std::string sealed_name(const DriveLayout& layout, int index) {
    return layout.logs() + (index == 0 ? "/barge.log.sealed"
                                       : "/barge.log." + std::to_string(index) + ".sealed");
}

// spdlog's rotating sink names its older files barge.1.log … barge.5.log.
std::string plain_name(const DriveLayout& layout, int index) {
    return layout.logs() + (index == 0 ? "/barge.log" : "/barge." + std::to_string(index) + ".log");
}

// Appends each line sealed; starts a new file (shifting the old ones) when the
// current one is full or not a sealed log.
class SealedFileSink : public spdlog::sinks::base_sink<std::mutex> {
public:
    SealedFileSink(DriveLayout layout) : m_layout(std::move(layout)) { open_current(); }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        // Other barges may append too (commands that only read share the drive):
        // each record is sealed for the offset it really lands at.
        if (::flock(m_fd.get(), LOCK_EX) != 0) {
            throw SystemError(errno, "lock", sealed_name(m_layout, 0));
        }
        struct stat st{};
        if (::fstat(m_fd.get(), &st) != 0) {
            ::flock(m_fd.get(), LOCK_UN);
            throw SystemError(errno, "stat", sealed_name(m_layout, 0));
        }
        if (st.st_size >= max_file) {
            ::flock(m_fd.get(), LOCK_UN);
            rotate();
            sink_it_(msg);
            return;
        }
        std::string record = seal_log_record(m_layout.keys->logs, m_header,
                                             static_cast<uint64_t>(st.st_size),
                                             {formatted.data(), formatted.size()});
        try {
            write_full(m_fd.get(), record.data(), record.size(), sealed_name(m_layout, 0));
        } catch (...) {
            ::flock(m_fd.get(), LOCK_UN);
            throw;
        }
        ::flock(m_fd.get(), LOCK_UN);
    }
    void flush_() override {}

private:
    void open_current() {
        std::string path = sealed_name(m_layout, 0);
        m_fd = open_or_throw(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
        struct stat st{};
        if (::fstat(m_fd.get(), &st) != 0) {
            throw SystemError(errno, "stat", path);
        }
        int64_t size = st.st_size;
        m_header.assign(log_header_size, '\0');
        bool valid = size >= static_cast<int64_t>(log_header_size) &&
                     ::pread(m_fd.get(), m_header.data(), m_header.size(), 0) ==
                         static_cast<ssize_t>(m_header.size()) &&
                     m_header.compare(0, log_magic.size(), log_magic) == 0;
        if (size > 0 && (!valid || size >= max_file)) {
            rotate();
            return;
        }
        if (size == 0) {
            m_header = new_log_header();
            write_full(m_fd.get(), m_header.data(), m_header.size(), path);
        }
    }
    void rotate() {
        m_fd = Fd();
        for (int i = kept_files; i > 0; --i) {
            std::rename(sealed_name(m_layout, i - 1).c_str(), sealed_name(m_layout, i).c_str());
        }
        open_current();
    }

    DriveLayout m_layout;
    Fd m_fd;
    std::string m_header;
};

} // namespace

void add_drive_log_sink(const DriveLayout& layout) {
    try {
        spdlog::sink_ptr sink;
        if (layout.keys) {
            sink = std::make_shared<SealedFileSink>(layout);
        } else {
            // 5 files of 4 MiB: months of history, bounded on a small drive.
            sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
                plain_name(layout, 0), static_cast<size_t>(max_file), kept_files);
        }
        sink->set_pattern(pattern);
        sink->set_level(spdlog::level::debug);
        spdlog::default_logger()->sinks().push_back(sink);
        spdlog::default_logger()->flush_on(spdlog::level::info);
    } catch (const std::exception& e) {
        spdlog::warn("cannot write the drive log in '{}': {}", layout.logs(), e.what());
    }
}

std::vector<std::string> read_drive_log(const DriveLayout& layout) {
    std::vector<std::string> out;
    for (int i = kept_files; i >= 0; --i) {
        std::string path = layout.keys ? sealed_name(layout, i) : plain_name(layout, i);
        std::string file;
        try {
            file = read_file(path);
        } catch (const SystemError& e) {
            if (e.err() == ENOENT) {
                continue;
            }
            throw;
        }
        if (!layout.keys) {
            for (auto& l : split_lines(file)) {
                out.push_back(std::move(l));
            }
            continue;
        }
        LogLines lines = open_log_file(layout.keys->logs, file, path);
        for (auto& l : lines.lines) {
            while (!l.empty() && l.back() == '\n') {
                l.pop_back();
            }
            out.push_back(std::move(l));
        }
        if (lines.truncated) {
            out.push_back(fmt::format("({}: its last record was cut short)", path));
        }
    }
    return out;
}

} // namespace barge::cli
