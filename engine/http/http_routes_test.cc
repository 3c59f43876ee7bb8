#include "engine/http/http_routes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rackboot::http {
namespace {

namespace fs = std::filesystem;

TEST(DecodeRequestPathTest, DecodesOnceAndDropsTheQuery) {
  EXPECT_EQ(*DecodeRequestPath("/boot/vmlinuz"), "/boot/vmlinuz");
  EXPECT_EQ(*DecodeRequestPath("/boot/a%20b?x=1#f"), "/boot/a b");
  EXPECT_EQ(*DecodeRequestPath("/boot/%41%62"), "/boot/Ab");
  EXPECT_EQ(*DecodeRequestPath("/boot/caf%C3%A9"), "/boot/caf\xc3\xa9");
  // Double encoding is decoded once: "%252e%252e" is the name "%2e%2e".
  EXPECT_EQ(*DecodeRequestPath("/boot/%252e%252e/x"), "/boot/%2e%2e/x");
  EXPECT_EQ(*DecodeRequestPath("/boot/..a/a..b/...x"), "/boot/..a/a..b/...x");
  // RFC 9112 section 3.2.2: absolute-form.
  EXPECT_EQ(*DecodeRequestPath("http://198.18.0.1:8080/boot/x?q"), "/boot/x");
  EXPECT_EQ(*DecodeRequestPath("HTTP://host"), "/");
  EXPECT_EQ(*DecodeRequestPath("/"), "/");
}

TEST(DecodeRequestPathTest, RefusesEveryTraversalEncoding) {
  const char* kBad[] = {
      "/boot/../etc/passwd",
      "/boot/..",
      "/boot/%2e%2e/etc/passwd",
      "/boot/%2E%2E/etc/passwd",
      "/boot/.%2e/x",
      "/boot/%2e./x",
      "/boot/./x",
      "/boot/%2e/x",
      "/boot/..%2fetc%2fpasswd",
      "/boot/%2f%2fetc/passwd",
      "/boot/a%2Fb",
      "/boot/..\\etc\\passwd",
      "/boot/a\\b",
      "/boot/a%5cb",
      "/boot/%5C..%5C",
      "/boot/%c0%ae%c0%ae/etc/passwd",  // overlong '.'
      "/boot/%c0%af",                   // overlong '/'
      "/boot/%e0%80%ae",                // 3-byte overlong '.'
      "/boot/%f0%80%80%ae",             // 4-byte overlong '.'
      "/boot/%ed%a0%80",                // a surrogate
      "/boot/%f4%90%80%80",             // above U+10FFFF
      "/boot/%ff",                      // not UTF-8 at all
      "/boot/%c3",                      // truncated sequence
      "/boot/a%00b",                    // NUL
      "/boot/a%00",
      "/boot/a%0ab",  // newline (log forging)
      "/boot/a%7f",
      "/boot/%zz",
      "/boot/%4",
      "/boot/%",
      "boot/x",
      "*",
      "198.18.0.1:80",
      "",
  };
  for (const char* target : kBad) {
    absl::StatusOr<std::string> path = DecodeRequestPath(target);
    EXPECT_FALSE(path.ok()) << target << " -> " << *path;
    if (!path.ok()) {
      EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(StatusForFileErrorTest, MapsFileRootErrors) {
  EXPECT_EQ(StatusForFileError(absl::NotFoundError("")), 404);
  EXPECT_EQ(StatusForFileError(absl::PermissionDeniedError("")), 403);
  EXPECT_EQ(StatusForFileError(absl::FailedPreconditionError("")), 404);
  EXPECT_EQ(StatusForFileError(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(StatusForFileError(absl::ResourceExhaustedError("")), 503);
  EXPECT_EQ(StatusForFileError(absl::InternalError("")), 500);
}

TEST(ContentTypeForTest, SmallTable) {
  EXPECT_EQ(ContentTypeFor("pxelinux.cfg/default.cfg"),
            "text/plain; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("boot.ipxe"), "text/plain; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("README.TXT"), "text/plain; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.json"), "application/json");
  EXPECT_EQ(ContentTypeFor("repodata/repomd.xml"), "application/xml");
  EXPECT_EQ(ContentTypeFor("debian/vmlinuz"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("debian/initrd.gz"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("ipxe.efi"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("undionly.kpxe"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("pxelinux.0"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("d.iso"), "application/x-iso9660-image");
  EXPECT_EQ(ContentTypeFor("Packages.gz"), "application/gzip");
  EXPECT_EQ(ContentTypeFor("pool/a.deb"),
            "application/vnd.debian.binary-package");
  EXPECT_EQ(ContentTypeFor("x.rpm"), "application/x-rpm");
  EXPECT_EQ(ContentTypeFor("noext"), "application/octet-stream");
}

// Per-host files for one client only, as BootRenderer does.
class OneHostRenderer : public RenderedFiles {
 public:
  absl::optional<std::string> Render(absl::string_view relative_path,
                                     const io::SocketAddress& client) override {
    if (relative_path == "host.ipxe" &&
        client.WithPort(0) == io::SocketAddress::Ipv4({198, 18, 0, 5}, 0)) {
      return std::string("#!ipxe\nkernel vmlinuz\n");
    }
    return absl::nullopt;
  }
};

class FileRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/http_routes_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    fs::create_directories(top_ / "boot" / "sub");
    fs::create_directories(top_ / "repo" / "pool");
    Write("secret", "outside the roots");
    Write("boot/vmlinuz", "kernel bytes");
    Write("boot/sub/initrd.img", "initrd");
    Write("repo/pool/a.deb", "deb");
    fs::create_symlink("../secret", top_ / "boot" / "escape");
    fs::create_symlink("/etc/passwd", top_ / "boot" / "absolute");
    fs::create_symlink("vmlinuz", top_ / "boot" / "inroot");
    fs::create_symlink("../repo", top_ / "boot" / "torepo");
    ASSERT_EQ(mkfifo((top_ / "boot" / "fifo").c_str(), 0644), 0);
    boot_ = std::make_unique<FileCache>(
        *FileRoot::Open((top_ / "boot").string()), &renderer_,
        FileCache::kDefaultKeepUnused, FileCache::kDefaultMaxDescriptors);
    repo_ =
        std::make_unique<FileCache>(*FileRoot::Open((top_ / "repo").string()));
  }
  void TearDown() override { fs::remove_all(top_); }
  void Write(const std::string& name, const std::string& contents) {
    std::ofstream(top_ / name) << contents;
  }
  HttpRouteResult Get(HttpRoutes& routes, const std::string& target,
                      io::SocketAddress client =
                          io::SocketAddress::Ipv4({198, 18, 0, 9}, 1234)) {
    absl::StatusOr<std::string> path = DecodeRequestPath(target);
    if (!path.ok()) {
      HttpRouteResult r;
      r.status = 400;
      return r;
    }
    HttpRequest request;
    request.method = "GET";
    request.path = *path;
    request.client = client;
    return routes.Route(request);
  }
  static std::string Contents(const HttpRouteResult& r) {
    if (r.file == nullptr) return "<none>";
    return std::string(r.file->bytes().begin(), r.file->bytes().end());
  }

  fs::path top_;
  OneHostRenderer renderer_;
  std::unique_ptr<FileCache> boot_;
  std::unique_ptr<FileCache> repo_;
};

TEST_F(FileRoutesTest, ServesTheBootTreeWithTftpRules) {
  FileRoutes routes(boot_.get(), repo_.get());
  HttpRouteResult r = Get(routes, "/boot/vmlinuz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.kind, HttpRouteKind::kBoot);
  EXPECT_EQ(Contents(r), "kernel bytes");
  EXPECT_GE(r.file->fd(), 0);
  EXPECT_EQ(Contents(Get(routes, "/boot/sub/initrd.img")), "initrd");
  EXPECT_EQ(Contents(Get(routes, "/boot//sub//initrd.img")), "initrd");
  // In-root symlinks are followed.
  EXPECT_EQ(Contents(Get(routes, "/boot/inroot")), "kernel bytes");
  // Symlinks out of the root: the kernel (RESOLVE_BENEATH) refuses.
  EXPECT_EQ(Get(routes, "/boot/escape").status, 403);
  EXPECT_EQ(Get(routes, "/boot/absolute").status, 403);
  EXPECT_EQ(Get(routes, "/boot/torepo/pool/a.deb").status, 403);
  // Not regular files.
  EXPECT_EQ(Get(routes, "/boot/fifo").status, 404);
  EXPECT_EQ(Get(routes, "/boot/sub").status, 404);
  EXPECT_EQ(Get(routes, "/boot/sub/").status, 404);
  EXPECT_EQ(Get(routes, "/boot/").status, 404);
  EXPECT_EQ(Get(routes, "/boot").status, 404);
  EXPECT_EQ(Get(routes, "/boot/missing").status, 404);
  // Traversal never reaches the filesystem, and would fail there anyway.
  EXPECT_EQ(Get(routes, "/boot/../secret").status, 400);
  EXPECT_EQ(Get(routes, "/boot/%2e%2e/secret").status, 400);
  EXPECT_EQ(Get(routes, "/boot/%252e%252e/secret").status, 404);
  // The root's own absolute path is stripped the way TFTP does it, and the
  // result is still beneath the root.
  EXPECT_EQ(
      Contents(Get(routes, "/boot/" + (top_ / "boot").string() + "/vmlinuz")),
      "kernel bytes");
}

// Device files are never served (TFTP's rule). Real ones, without mknod
// (which the test sandbox forbids): a root over /dev.
TEST_F(FileRoutesTest, DeviceFilesAreNotServed) {
  FileCache dev(*FileRoot::Open("/dev"));
  FileRoutes routes(boot_.get(), &dev);
  for (const char* device : {"/repo/null", "/repo/zero", "/repo/urandom"}) {
    HttpRouteResult r = Get(routes, device);
    EXPECT_EQ(r.status, 404) << device;
    EXPECT_EQ(r.file, nullptr) << device;
  }
}

TEST_F(FileRoutesTest, PerHostFilesGoOnlyToTheirHost) {
  FileRoutes routes(boot_.get(), nullptr);
  HttpRouteResult mine = Get(routes, "/boot/host.ipxe",
                             io::SocketAddress::Ipv4({198, 18, 0, 5}, 40000));
  EXPECT_EQ(mine.status, 200);
  EXPECT_EQ(Contents(mine), "#!ipxe\nkernel vmlinuz\n");
  EXPECT_EQ(mine.file->fd(), -1);
  EXPECT_EQ(Get(routes, "/boot/host.ipxe").status, 404);
}

TEST_F(FileRoutesTest, RepoAndReservedPaths) {
  FileRoutes with_repo(boot_.get(), repo_.get());
  HttpRouteResult r = Get(with_repo, "/repo/pool/a.deb");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.kind, HttpRouteKind::kRepo);
  EXPECT_EQ(Contents(r), "deb");
  // The repo root does not reach the boot tree or above.
  EXPECT_EQ(Get(with_repo, "/repo/../boot/vmlinuz").status, 400);
  FileRoutes without_repo(boot_.get(), nullptr);
  EXPECT_EQ(Get(without_repo, "/repo/pool/a.deb").status, 404);
  for (const char* reserved :
       {"/", "/install/x/preseed.cfg", "/api/v1/hosts", "/metrics"}) {
    HttpRouteResult res = Get(with_repo, reserved);
    EXPECT_EQ(res.status, 404) << reserved;
    EXPECT_EQ(res.kind, HttpRouteKind::kReserved) << reserved;
  }
  EXPECT_EQ(Get(with_repo, "/vmlinuz").status, 404);
  EXPECT_EQ(Get(with_repo, "/bootx/vmlinuz").status, 404);
}

// rackboot mirror keeps its manifest in the published tree and its lock and
// staging tree beside it (docs/mirror.md): none of that is ever served, in
// any spelling, under /repo/ or /boot/; the mirrored files are.
TEST_F(FileRoutesTest, MirrorBookkeepingIsNotServed) {
  fs::create_directories(top_ / "repo" / "deb12" / "pool");
  fs::create_directories(top_ / "repo" / ".rackboot-mirror-deb12" / "staging");
  Write("repo/deb12/.rackboot-manifest.json", "{}");
  Write("repo/deb12/pool/b.deb", "b");
  Write("repo/.rackboot-mirror-deb12/lock", "");
  Write("repo/.rackboot-mirror-deb12/staging/x.deb", "staged");
  Write("boot/.rackboot-manifest.json", "{}");
  Write("repo/deb12/pool/x.rackboot", "a name that merely contains it");
  FileRoutes routes(boot_.get(), repo_.get());
  EXPECT_EQ(Contents(Get(routes, "/repo/deb12/pool/b.deb")), "b");
  EXPECT_EQ(Get(routes, "/repo/deb12/pool/x.rackboot").status, 200);
  for (const char* hidden : {
           "/repo/deb12/.rackboot-manifest.json",
           "/repo/deb12/.RACKBOOT-manifest.json",
           "/repo/deb12/%2erackboot-manifest.json",
           "/repo/.rackboot-mirror-deb12/lock",
           "/repo/.rackboot-mirror-deb12/staging/x.deb",
           "/repo/deb12/.rackboot",
           "/boot/.rackboot-manifest.json",
       }) {
    HttpRouteResult r = Get(routes, hidden);
    EXPECT_EQ(r.status, 404) << hidden;
    EXPECT_EQ(r.file, nullptr) << hidden;
  }
}

TEST_F(FileRoutesTest, WithoutABootCacheBootIsNotFound) {
  FileRoutes routes(nullptr, repo_.get());
  HttpRouteResult r = Get(routes, "/boot/vmlinuz");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.kind, HttpRouteKind::kBoot);
  EXPECT_EQ(Contents(Get(routes, "/repo/pool/a.deb")), "deb");
}

// A route that answers with its name, for dispatch tests.
class NamedRoutes : public HttpRoutes {
 public:
  explicit NamedRoutes(std::string name, uint64_t max_body = 0)
      : name_(std::move(name)), max_body_(max_body) {}
  HttpRouteResult Route(const HttpRequest& request) override {
    HttpRouteResult r;
    r.status = 200;
    r.has_body = true;
    r.body = absl::StrCat(name_, " ", request.path);
    return r;
  }
  uint64_t MaxRequestBody(absl::string_view, absl::string_view) override {
    return max_body_;
  }
  bool AcceptsMethod(absl::string_view method, absl::string_view) override {
    return max_body_ > 0 || method != "POST";
  }

 private:
  std::string name_;
  uint64_t max_body_;
};

TEST(PrefixRoutesTest, LongestPrefixWinsAndSlashIsExact) {
  NamedRoutes api("api", 4096), metrics("metrics"), page("page"),
      files("files"), hosts("hosts");
  auto routes = PrefixRoutes::Create({{"/boot/", &files},
                                      {"/", &page},
                                      {"/api/v1/", &api},
                                      {"/api/v1/hosts/", &hosts},
                                      {"/metrics", &metrics}});
  ASSERT_TRUE(routes.ok()) << routes.status();
  auto body = [&](absl::string_view path) {
    HttpRequest request;
    request.method = "GET";
    request.path = path;
    HttpRouteResult r = (*routes)->Route(request);
    return r.status == 200 ? r.body : absl::StrCat(r.status, " ", r.error);
  };
  EXPECT_EQ(body("/"), "page /");
  EXPECT_EQ(body("/index.html"), "404 no route");
  EXPECT_EQ(body("/boot/vmlinuz"), "files /boot/vmlinuz");
  EXPECT_EQ(body("/boot"), "404 no route");
  EXPECT_EQ(body("/api/v1/leases"), "api /api/v1/leases");
  EXPECT_EQ(body("/api/v1/hosts/node1"), "hosts /api/v1/hosts/node1");
  EXPECT_EQ(body("/api/v1"), "404 no route");
  EXPECT_EQ(body("/metrics"), "metrics /metrics");
  EXPECT_EQ(body("/metrics/x"), "404 no route");
  EXPECT_EQ(body("/metricsx"), "404 no route");
  EXPECT_EQ((*routes)->MaxRequestBody("POST", "/api/v1/leases"), 4096u);
  EXPECT_EQ((*routes)->MaxRequestBody("POST", "/metrics"), 0u);
  EXPECT_EQ((*routes)->MaxRequestBody("POST", "/nowhere"), 0u);
  EXPECT_TRUE((*routes)->AcceptsMethod("POST", "/api/v1/x"));
  EXPECT_FALSE((*routes)->AcceptsMethod("POST", "/metrics"));
  EXPECT_FALSE((*routes)->AcceptsMethod("POST", "/nowhere"));
  EXPECT_TRUE((*routes)->AcceptsMethod("GET", "/nowhere"));
}

TEST(PrefixRoutesTest, RefusesBadPrefixes) {
  NamedRoutes a("a");
  EXPECT_FALSE(PrefixRoutes::Create({{"", &a}}).ok());
  EXPECT_FALSE(PrefixRoutes::Create({{"api/", &a}}).ok());
  EXPECT_FALSE(PrefixRoutes::Create({{"/a/", &a}, {"/a/", &a}}).ok());
  EXPECT_FALSE(PrefixRoutes::Create({{"/a/", nullptr}}).ok());
  EXPECT_TRUE(PrefixRoutes::Create({}).ok());
}

}  // namespace
}  // namespace rackboot::http
