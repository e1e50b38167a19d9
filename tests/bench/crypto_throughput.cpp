// Throughput of the encryption building blocks (not a test: no timing is asserted).
// Build with `cmake --build build --target barge_crypto_bench`, run build/tests/barge_crypto_bench.
#include "../unit/test_dir.hpp"
#include "barge/catalog/vfs.hpp"
#include "barge/crypto/piece_format.hpp"

#include <algorithm>
#include <blake2.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <vector>

using namespace barge;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void report(const char* what, double bytes, double secs) {
    std::printf("%-44s %8.0f MB/s  (%.3f s)\n", what, bytes / secs / 1e6, secs);
}

void pieces() {
    constexpr size_t total = size_t{512} << 20, chunk = size_t{1} << 20;
    std::vector<uint8_t> plain(chunk, 0x5a), cipher(PieceEncryptor::max_update_output(chunk));
    std::vector<uint8_t> sealed;
    sealed.reserve(encrypted_piece_size(total));
    SecretKey key = SecretKey::random();
    Digest name{};

    auto t0 = Clock::now();
    Blake2b h;
    for (size_t done = 0; done < total; done += chunk) {
        h.update(plain.data(), plain.size());
    }
    Digest ours = h.final();
    report("BLAKE2b-512 (barge's), the hash baseline", total, seconds_since(t0));

    // What barge hashed with before it had its own: libb2, as dispatched on this CPU.
    t0 = Clock::now();
    blake2b_state s;
    blake2b_init(&s, BLAKE2B_OUTBYTES);
    for (size_t done = 0; done < total; done += chunk) {
        blake2b_update(&s, plain.data(), plain.size());
    }
    Digest theirs{};
    blake2b_final(&s, theirs.data(), theirs.size());
    report("BLAKE2b-512 (libb2)", total, seconds_since(t0));
    if (ours != theirs) {
        std::printf("BLAKE2b digests differ between barge and libb2\n");
    }

    // Timed into one reused output buffer (what load does: write it, reuse it); the
    // sealed piece for the decryptor is collected by an untimed second pass.
    t0 = Clock::now();
    PieceEncryptor enc(key, name);
    cipher.resize(std::max(cipher.size(), PieceEncryptor::max_finish_output));
    for (size_t done = 0; done < total; done += chunk) {
        enc.update(plain, cipher);
    }
    enc.finish(cipher);
    report("PieceEncryptor, 1 MiB chunks", total, seconds_since(t0));
    enc.reset(name);
    for (size_t done = 0; done < total; done += chunk) {
        size_t n = enc.update(plain, cipher);
        sealed.insert(sealed.end(), cipher.begin(), cipher.begin() + static_cast<long>(n));
    }
    size_t n = enc.finish(cipher);
    sealed.insert(sealed.end(), cipher.begin(), cipher.begin() + static_cast<long>(n));

    std::vector<uint8_t> out(PieceDecryptor::max_update_output(chunk));
    t0 = Clock::now();
    PieceDecryptor dec(key, name, sealed.size());
    for (size_t at = 0; at < sealed.size(); at += chunk) {
        size_t len = std::min(chunk, sealed.size() - at);
        dec.update({sealed.data() + at, len}, out);
    }
    dec.finish(out);
    report("PieceDecryptor, 1 MiB chunks, known size", total, seconds_since(t0));

    // Small files: one piece each, the cost per piece (a fresh nonce prefix).
    constexpr int small = 1000000;
    std::vector<uint8_t> file(2048, 0x33);
    t0 = Clock::now();
    for (int i = 0; i < small; ++i) {
        enc.reset(name);
        size_t w = enc.update(file, cipher);
        enc.finish(std::span(cipher).subspan(w));
    }
    double secs = seconds_since(t0);
    std::printf("%-44s %8.2f us/piece (%.3f s for 1e6)\n", "PieceEncryptor, 2 KiB pieces", secs,
                secs);
}

void catalog(const char* what, const std::function<Database(const std::string&)>& open) {
    TestDir dir;
    std::string path = dir / "c.db";
    auto t0 = Clock::now();
    {
        Database db = open(path);
        db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)");
        db.exec("BEGIN");
        db.exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 400000) "
                "INSERT INTO t SELECT i, randomblob(100) FROM c");
        db.exec("CREATE INDEX tb ON t(b)");
        db.exec("COMMIT");
    }
    double write_s = seconds_since(t0);
    auto size = static_cast<double>(std::filesystem::file_size(path));
    t0 = Clock::now();
    {
        Database db = open(path);
        db.exec("PRAGMA cache_size = -2000"); // small: every page goes through xRead
        db.query_int("SELECT sum(length(b)) FROM t");
        db.query_int("SELECT count(*) FROM t INDEXED BY tb WHERE b > x'00'");
    }
    double read_s = seconds_since(t0);
    std::printf("%-12s %6.1f MB file: write %6.0f MB/s, read (page cache warm) %6.0f MB/s\n", what,
                size / 1e6, size / write_s / 1e6, 2 * size / read_s / 1e6);
}

void configure(Database& db) {
    db.exec("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY");
}

} // namespace

int main() {
    pieces();
    catalog("plain", [](const std::string& path) {
        Database db(path, Database::Create::yes);
        configure(db);
        return db;
    });
    for (bool encrypt : {false, true}) {
        catalog(encrypt ? "encrypted" : "checksum", [encrypt](const std::string& path) {
            PageProtection p = encrypt ? PageProtection::encrypted(
                                             SecretKey::from_bytes(std::array<uint8_t, 32>{}), "d")
                                       : PageProtection::checksum();
            Database db = open_protected(path, Database::Create::yes, p);
            configure(db);
            prepare_protected(db, p);
            return db;
        });
    }
}
