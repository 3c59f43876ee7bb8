// A test driver for signature_verifier and compressed_file: the shell test
// feeds it files made by the real gpg, xz and gzip.
//   mirror_check_tool inline SIGNED KEYRING      prints the signed text
//   mirror_check_tool detached DATA SIG KEYRING  prints "ok <fingerprint>"
//   mirror_check_tool unpack FILE [MAX]          prints the unpacked bytes
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tools/mirror/compressed_file.h"
#include "tools/mirror/signature_verifier.h"

int main(int argc, char** argv) {
  using namespace rackboot::mirror;
  std::string verb = argc > 1 ? argv[1] : "";
  if (verb == "inline" && argc == 4) {
    auto v = VerifyInlineSigned(argv[2], argv[3]);
    if (!v.ok()) {
      std::cerr << v.status() << "\n";
      return 1;
    }
    std::cout << v->text;
    return 0;
  }
  if (verb == "detached" && argc == 5) {
    auto v = VerifyDetached(argv[2], argv[3], argv[4]);
    if (!v.ok()) {
      std::cerr << v.status() << "\n";
      return 1;
    }
    std::cout << "ok " << v->fingerprints.front() << "\n";
    return 0;
  }
  if (verb == "unpack" && (argc == 3 || argc == 4)) {
    auto v = argc == 4 ? ReadCompressedFile(argv[2], std::atoll(argv[3]))
                       : ReadCompressedFile(argv[2]);
    if (!v.ok()) {
      std::cerr << v.status() << "\n";
      return 1;
    }
    std::cout << *v;
    return 0;
  }
  std::cerr << "usage: mirror_check_tool inline|detached|unpack ...\n";
  return 2;
}
