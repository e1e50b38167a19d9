#include "../test_dir.hpp"
#include "barge/crypto/keys.hpp"

#include <cstring>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace barge;

namespace {

// The cheapest Argon2id libsodium allows: these tests are about the record, not the cost.
const KdfParams fast{1, 64 * 1024};

SecretKey counting_key() {
    std::array<uint8_t, 32> b{};
    for (size_t i = 0; i < b.size(); ++i) {
        b[i] = static_cast<uint8_t>(i);
    }
    return SecretKey::from_bytes(b);
}

std::string repeat(const std::string& s, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        out += s;
    }
    return out;
}

WrappedKey sample_record() {
    WrappedKey w;
    w.drive_id = "0f3c-uuid";
    w.kdf = {4, 134217728};
    w.salt.fill(0xab);
    w.nonce.fill(0x01);
    w.ciphertext.fill(0xff);
    return w;
}

std::string remove_line(const std::string& text, const std::string& name) {
    size_t at = text.find("\n" + name + " ");
    size_t end = text.find('\n', at + 1);
    return text.substr(0, at) + text.substr(end);
}

std::string replace_line(const std::string& text, const std::string& name,
                         const std::string& line) {
    size_t at = text.find("\n" + name + " ");
    size_t end = text.find('\n', at + 1);
    return text.substr(0, at + 1) + line + text.substr(end);
}

} // namespace

TEST(SecretKey, RandomKeysDifferAndMovesEmptyTheSource) {
    SecretKey a = SecretKey::random(), b = SecretKey::random();
    EXPECT_FALSE(a == b);
    SecretKey c = SecretKey::from_bytes(a.bytes());
    EXPECT_TRUE(a == c);
    SecretKey d = std::move(a);
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_TRUE(d == c);
    d = std::move(b);
    EXPECT_FALSE(d == c);
    EXPECT_EQ(b.data(), nullptr);
}

TEST(SecretKey, ZeroedIsAllZero) {
    SecretKey z = SecretKey::zeroed();
    EXPECT_TRUE(sodium_is_zero(z.data(), SecretKey::size));
}

TEST(Subkeys, EachUseHasItsOwnDeterministicKey) {
    SecretKey k = SecretKey::random();
    SecretKey p = derive_subkey(k, Subkey::pieces), n = derive_subkey(k, Subkey::piece_names),
              c = derive_subkey(k, Subkey::catalog), l = derive_subkey(k, Subkey::logs);
    EXPECT_TRUE(p == derive_subkey(k, Subkey::pieces));
    EXPECT_FALSE(p == n);
    EXPECT_FALSE(p == c);
    EXPECT_FALSE(p == l);
    EXPECT_FALSE(n == c);
    EXPECT_FALSE(c == l);
    EXPECT_FALSE(p == k);
}

// crypto_kdf_derive_from_key is BLAKE2b keyed by K with the subkey id as salt and the
// context as personalisation: checking against that proves the contexts are wired.
TEST(Subkeys, MatchTheKdfDefinitionWithTheDocumentedContexts) {
    SecretKey k = counting_key();
    std::array<uint8_t, 16> salt{1}; // subkey id 1, little-endian, zero-padded
    for (auto [which, context] :
         {std::pair{Subkey::pieces, "bargepcs"}, std::pair{Subkey::piece_names, "bargenam"},
          std::pair{Subkey::catalog, "bargecat"}, std::pair{Subkey::logs, "bargelog"}}) {
        std::array<uint8_t, 16> personal{};
        std::memcpy(personal.data(), context, 8);
        std::array<uint8_t, 32> expected{};
        crypto_generichash_blake2b_salt_personal(expected.data(), expected.size(), nullptr, 0,
                                                 k.data(), SecretKey::size, salt.data(),
                                                 personal.data());
        SecretKey got = derive_subkey(k, which);
        EXPECT_EQ(0, std::memcmp(got.data(), expected.data(), 32)) << context;
    }
}

TEST(WrappedKey, UnwrapsWithThePassphraseOnly) {
    SecretKey k = SecretKey::random();
    WrappedKey w = wrap_key(k, "correct horse", "drive-1", fast);
    EXPECT_TRUE(unwrap_key(w, "correct horse") == k);
    EXPECT_THROW(unwrap_key(w, "correct horsf"), WrongPassphrase);
    EXPECT_THROW(unwrap_key(w, ""), WrongPassphrase);
    try {
        unwrap_key(w, "nope");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::refused); // exit 2, "wrong passphrase"
        EXPECT_STREQ(e.what(), "wrong passphrase");
    }
}

TEST(WrappedKey, FreshSaltAndNonceEachTime) {
    SecretKey k = SecretKey::random();
    WrappedKey a = wrap_key(k, "pw", "d", fast), b = wrap_key(k, "pw", "d", fast);
    EXPECT_NE(a.salt, b.salt);
    EXPECT_NE(a.nonce, b.nonce);
    EXPECT_NE(a.ciphertext, b.ciphertext);
}

TEST(WrappedKey, AnyAlteredFieldFailsToUnwrap) {
    SecretKey k = SecretKey::random();
    WrappedKey w = wrap_key(k, "pw", "drive-1", fast);
    WrappedKey other_drive = w;
    other_drive.drive_id = "drive-2"; // the drive id is associated data
    EXPECT_THROW(unwrap_key(other_drive, "pw"), WrongPassphrase);
    for (size_t i : {size_t{0}, size_t{31}, size_t{32}, size_t{47}}) {
        WrappedKey bad = w;
        bad.ciphertext[i] ^= 1;
        EXPECT_THROW(unwrap_key(bad, "pw"), WrongPassphrase) << i;
    }
    WrappedKey bad_nonce = w, bad_salt = w, bad_cost = w;
    bad_nonce.nonce[3] ^= 1;
    bad_salt.salt[0] ^= 1;
    bad_cost.kdf.opslimit = 2;
    EXPECT_THROW(unwrap_key(bad_nonce, "pw"), WrongPassphrase);
    EXPECT_THROW(unwrap_key(bad_salt, "pw"), WrongPassphrase);
    EXPECT_THROW(unwrap_key(bad_cost, "pw"), WrongPassphrase);
    EXPECT_TRUE(unwrap_key(w, "pw") == k);
}

TEST(WrappedKey, RewrapChangesThePassphraseNotTheKey) {
    SecretKey k = SecretKey::random();
    WrappedKey w = wrap_key(k, "old", "d", fast);
    WrappedKey w2 = rewrap_key(w, "old", "new");
    EXPECT_TRUE(unwrap_key(w2, "new") == k);
    EXPECT_THROW(unwrap_key(w2, "old"), WrongPassphrase);
    EXPECT_EQ(w2.kdf, fast);
    EXPECT_EQ(w2.drive_id, "d");
    KdfParams dearer{2, 128 * 1024};
    WrappedKey w3 = rewrap_key(w2, "new", "new", dearer); // raise the cost, same passphrase
    EXPECT_EQ(w3.kdf, dearer);
    EXPECT_TRUE(unwrap_key(w3, "new") == k);
    EXPECT_THROW(rewrap_key(w, "wrong", "new"), WrongPassphrase);
}

TEST(WrappedKey, DefaultCostIsArgon2idOps4Mem128MiB) {
    EXPECT_EQ(KdfParams{}.opslimit, 4u);
    EXPECT_EQ(KdfParams{}.memlimit, 128u << 20);
    SecretKey k = SecretKey::random();
    WrappedKey w = wrap_key(k, "pw", "d"); // the real cost, once
    EXPECT_EQ(w.kdf, KdfParams{});
    EXPECT_TRUE(unwrap_key(w, "pw") == k);
}

TEST(WrappedKey, RefusesEmptyPassphraseBadIdsAndCosts) {
    SecretKey k = SecretKey::random();
    EXPECT_THROW(wrap_key(k, "", "d", fast), Refusal);
    EXPECT_THROW(wrap_key(k, "pw", "", fast), Error);
    EXPECT_THROW(wrap_key(k, "pw", "a b", fast), Error);
    EXPECT_THROW(wrap_key(k, "pw", "d", KdfParams{0, 64 * 1024}), Error);
    EXPECT_THROW(wrap_key(k, "pw", "d", KdfParams{1, 1000}), Error);
}

TEST(WrappedKeyText, ExactFormat) {
    EXPECT_EQ(format_wrapped_key(sample_record()), "barge-key 1\n"
                                                   "drive_id 0f3c-uuid\n"
                                                   "kdf argon2id13\n"
                                                   "opslimit 4\n"
                                                   "memlimit 134217728\n"
                                                   "salt " +
                                                       repeat("ab", 16) +
                                                       "\n"
                                                       "nonce " +
                                                       repeat("01", 24) +
                                                       "\n"
                                                       "wrapped_key " +
                                                       repeat("ff", 48) + "\n");
}

TEST(WrappedKeyText, RoundTripsAndStillUnwraps) {
    SecretKey k = SecretKey::random();
    WrappedKey w = wrap_key(k, "pw", "drive-9", fast);
    std::string text = format_wrapped_key(w);
    EXPECT_EQ(parse_wrapped_key(text, "barge.key"), w);
    EXPECT_TRUE(unwrap_key(parse_wrapped_key(text, "barge.key"), "pw") == k);
    text.pop_back(); // the final newline is optional
    EXPECT_EQ(parse_wrapped_key(text, "barge.key"), w);
}

TEST(WrappedKeyText, RefusesMalformedRecords) {
    std::string good = format_wrapped_key(sample_record());
    ASSERT_NO_THROW(parse_wrapped_key(good, "k"));
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"empty", ""},
        {"other version", "barge-key 2" + good.substr(11)},
        {"no version line", good.substr(12)},
        {"missing field", remove_line(good, "nonce")},
        {"duplicate field", good + "salt " + repeat("ab", 16) + "\n"},
        {"unknown field", good + "colour blue\n"},
        {"blank line at the end", good + "\n"},
        {"CRLF", replace_line(good, "kdf", "kdf argon2id13\r")},
        {"two spaces", replace_line(good, "kdf", "kdf  argon2id13")},
        {"trailing space", replace_line(good, "kdf", "kdf argon2id13 ")},
        {"unknown kdf", replace_line(good, "kdf", "kdf scrypt")},
        {"opslimit 0", replace_line(good, "opslimit", "opslimit 0")},
        {"opslimit huge", replace_line(good, "opslimit", "opslimit 1000000")},
        {"opslimit leading zero", replace_line(good, "opslimit", "opslimit 04")},
        {"opslimit negative", replace_line(good, "opslimit", "opslimit -4")},
        {"memlimit too small", replace_line(good, "memlimit", "memlimit 1024")},
        {"memlimit huge", replace_line(good, "memlimit", "memlimit 99999999999999")},
        {"memlimit not KiB", replace_line(good, "memlimit", "memlimit 134217729")},
        {"short salt", replace_line(good, "salt", "salt " + repeat("ab", 15))},
        {"long nonce", replace_line(good, "nonce", "nonce " + repeat("01", 25))},
        {"odd hex", replace_line(good, "nonce", "nonce " + repeat("01", 23) + "0")},
        {"upper-case hex", replace_line(good, "wrapped_key", "wrapped_key " + repeat("FF", 48))},
        {"not hex", replace_line(good, "wrapped_key", "wrapped_key " + repeat("zz", 48))},
        {"bad drive id", replace_line(good, "drive_id", "drive_id a/b")},
        {"huge", good + std::string(5000, 'x')},
    };
    for (const auto& [what, text] : bad) {
        EXPECT_THROW(parse_wrapped_key(text, "DRIVE/barge.key"), KeyFileError) << what;
    }
    try {
        parse_wrapped_key(good + "colour blue\n", "DRIVE/barge.key");
    } catch (const KeyFileError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "key file 'DRIVE/barge.key': line 9: unknown field 'colour'");
    }
}

TEST(SavedKey, ExactFormatAndRoundTrip) {
    SecretKey k = counting_key();
    std::string text = format_saved_key(k, "drive-1");
    EXPECT_EQ(text, "barge-saved-key 1\ndrive_id drive-1\nkey "
                    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
    SavedKey s = parse_saved_key(text, "x");
    EXPECT_EQ(s.drive_id, "drive-1");
    EXPECT_TRUE(s.key == k);
}

TEST(SavedKey, RefusesMalformedFiles) {
    std::string good = format_saved_key(counting_key(), "drive-1");
    for (const std::string& text :
         {std::string(), good.substr(0, good.size() - 2), good + "key 00\n",
          replace_line(good, "key", "key " + repeat("00", 31)),
          replace_line(good, "key", "key " + repeat("0g", 32)),
          replace_line(good, "drive_id", "drive_id "), "barge-key 1" + good.substr(17)}) {
        EXPECT_THROW(parse_saved_key(text, "x"), KeyFileError) << text;
    }
}

TEST(KeyFileStat, OnlyAPrivateRegularFileOfTheOwner) {
    struct stat st {};
    st.st_mode = S_IFREG | 0600;
    st.st_uid = 1000;
    EXPECT_NO_THROW(check_key_file_stat(st, 1000, "k"));
    st.st_mode = S_IFREG | 0400;
    EXPECT_NO_THROW(check_key_file_stat(st, 1000, "k"));
    for (mode_t mode : {0640u, 0604u, 0620u, 0602u, 0610u, 0601u, 0666u, 0644u}) {
        st.st_mode = S_IFREG | mode;
        EXPECT_THROW(check_key_file_stat(st, 1000, "k"), Refusal) << std::oct << mode;
    }
    st.st_mode = S_IFREG | 0600;
    EXPECT_THROW(check_key_file_stat(st, 0, "k"), Refusal);
    st.st_mode = S_IFDIR | 0700;
    EXPECT_THROW(check_key_file_stat(st, 1000, "k"), Refusal);
}

TEST(KeyFileStat, ARealFileChecked) {
    TestDir dir;
    std::string path = dir / "key";
    int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_NO_THROW(check_key_file_stat(st, ::geteuid(), path));
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    try {
        check_key_file_stat(st, ::geteuid(), path);
        FAIL();
    } catch (const Refusal& e) {
        EXPECT_NE(std::string(e.what()).find("0644"), std::string::npos) << e.what();
    }
}
