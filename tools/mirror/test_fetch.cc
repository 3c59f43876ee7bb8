#include "tools/mirror/test_fetch.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {

FetchFilesFn MakeDirectoryFetch(const std::string& base_url,
                                const std::string& dir,
                                const std::string& staging_root,
                                std::vector<std::string>* fetched) {
  return [=](const std::vector<PlannedFile>& files) -> absl::Status {
    for (const PlannedFile& f : files) {
      if (fetched != nullptr) fetched->push_back(f.path);
      absl::string_view rel = f.url;
      if (!absl::ConsumePrefix(&rel, base_url + "/")) {
        return absl::InvalidArgumentError(
            absl::StrCat("url ", f.url, " is not under ", base_url));
      }
      const std::string source = absl::StrCat(dir, "/", rel);
      struct stat st;
      if (stat(source.c_str(), &st) == 0 && (st.st_mode & 0444) == 0) {
        return absl::PermissionDeniedError(absl::StrCat(f.url, ": 403"));
      }
      std::ifstream in(source, std::ios::binary);
      if (!in) return absl::NotFoundError(absl::StrCat(f.url, ": 404"));
      std::stringstream bytes;
      bytes << in.rdbuf();
      const std::string data = bytes.str();
      if (f.size >= 0 && static_cast<int64_t>(data.size()) != f.size) {
        return absl::DataLossError(absl::StrCat("size mismatch for ", f.url,
                                                ": expected ", f.size, ", got ",
                                                data.size()));
      }
      const std::string sha = Sha256Hex(data);
      if (!f.sha256.empty() && sha != f.sha256) {
        return absl::DataLossError(absl::StrCat("sha256 mismatch for ", f.url,
                                                ": expected ", f.sha256,
                                                ", got ", sha));
      }
      const std::string dest = absl::StrCat(staging_root, "/", f.path);
      for (size_t p = dest.find('/', staging_root.size() + 1);
           p != std::string::npos; p = dest.find('/', p + 1)) {
        mkdir(dest.substr(0, p).c_str(), 0755);
      }
      std::ofstream(dest, std::ios::binary | std::ios::trunc) << data;
    }
    return absl::OkStatus();
  };
}

}  // namespace rackboot::mirror
