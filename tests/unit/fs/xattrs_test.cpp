#include "../test_dir.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/fs/xattrs.hpp"
#include "barge/util/error.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

using namespace barge;

TEST(Xattrs, EqualSetsEncodeEquallyAndRoundTrip) {
    std::string nul_value("a\0b\xff", 4);
    Xattrs one = {{"user.b", nul_value}, {"user.a", ""}, {"trusted.z", "1"}};
    Xattrs other = {{"trusted.z", "1"}, {"user.a", ""}, {"user.b", nul_value}};
    EXPECT_EQ(encode_xattrs(one), encode_xattrs(other));
    Xattrs back = decode_xattrs(encode_xattrs(one));
    ASSERT_EQ(back.size(), 3u);
    EXPECT_EQ(back[0].first, "trusted.z");
    EXPECT_EQ(back[1].first, "user.a");
    EXPECT_EQ(back[1].second, "");
    EXPECT_EQ(back[2].second, nul_value);
    EXPECT_EQ(encode_xattrs({}), "");
    EXPECT_TRUE(decode_xattrs("").empty());
}

TEST(Xattrs, MalformedBlobsAreRefused) {
    std::string good = encode_xattrs({{"user.a", "value"}});
    for (const std::string& bad : {good.substr(0, good.size() - 1), // value cut short
                                   std::string("user.a"),           // no NUL, no length
                                   std::string("\0\0\0\0\0", 5),    // empty name
                                   good + "x"}) {                   // trailing junk
        EXPECT_THROW(decode_xattrs(bad), CatalogError) << "accepted " << bad.size() << " bytes";
    }
}

TEST(Xattrs, WhichNamespacesTravel) {
    EXPECT_TRUE(carried_xattr("user.xdg.tags", false));
    EXPECT_FALSE(carried_xattr("trusted.x", false));
    EXPECT_FALSE(carried_xattr("security.capability", false));
    EXPECT_FALSE(carried_xattr("system.posix_acl_access", false));
    EXPECT_TRUE(carried_xattr("trusted.x", true));
    EXPECT_TRUE(carried_xattr("security.capability", true));
    EXPECT_TRUE(carried_xattr("system.posix_acl_access", true));
    EXPECT_TRUE(carried_xattr("system.posix_acl_default", true));
    EXPECT_FALSE(carried_xattr("system.nfs4_acl", true));
    EXPECT_FALSE(carried_xattr("userx.a", true));
}

TEST(Xattrs, ApplyMakesTheCarriedSetEqualAndRefusesNamesBargeNeverCarries) {
    TestDir dir;
    std::string src = dir / "src", dst = dir / "dst";
    for (const auto& p : {src, dst}) {
        int fd = ::open(p.c_str(), O_CREAT | O_WRONLY, 0600);
        ASSERT_GE(fd, 0);
        ::close(fd);
    }
    if (::setxattr(src.c_str(), "user.keep", "v", 1, 0) != 0) {
        GTEST_SKIP() << "the file system of " << dir.path() << " holds no user.* attributes";
    }
    ASSERT_EQ(::setxattr(src.c_str(), "user.bin", "\0\1", 2, 0), 0);
    ASSERT_EQ(::setxattr(dst.c_str(), "user.stale", "old", 3, 0), 0);
    ASSERT_EQ(::setxattr(dst.c_str(), "user.keep", "other", 5, 0), 0);
    std::string blob = read_xattrs(src, false, src);
    ASSERT_EQ(decode_xattrs(blob).size(), 2u);
    int fd = ::open(dst.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    XattrOutcome out = apply_xattrs(fd, "", blob, false, dst);
    EXPECT_EQ(out.changed, 3); // user.keep set, user.bin set, user.stale removed
    EXPECT_EQ(read_xattrs(dst, false, dst), blob);
    EXPECT_EQ(apply_xattrs(fd, "", blob, false, dst).changed, 0) << "equal: nothing to do";
    EXPECT_THROW(apply_xattrs(fd, "", encode_xattrs({{"system.foo", "x"}}), false, dst),
                 CatalogError);
    ::close(fd);
}

TEST(DeviceNumber, RoundTripsAndRefusesJunk) {
    uint64_t dev = makedev(259, 70000);
    EXPECT_EQ(device_number_text(dev), "259:70000");
    EXPECT_EQ(parse_device_number(device_number_text(dev)), dev);
    for (const char* bad : {"", "8", "8:", ":1", "8:1x", "a:b", "8:1:2"}) {
        EXPECT_THROW(parse_device_number(bad), CatalogError) << bad;
    }
}
