// Reads tests/data/MANIFEST.tsv: one captured datagram per row, with the fields
// tshark decoded from it (see README.md). Tests compare these independent
// decodings with Rackboot's own. Test-only; single-threaded.
#ifndef RACKBOOT_TESTS_DATA_MANIFEST_H_
#define RACKBOOT_TESTS_DATA_MANIFEST_H_

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace rackboot::testing {

struct CapturedDatagram {
  std::string
      file;  // relative to tests/data, e.g. "tftp/curl-rrq-blksize512.bin"
  std::string protocol;  // "dhcp" or "tftp"
  std::string source;    // the program that sent it
  std::string message;   // e.g. "discover", "rrq", "data-1"
  std::map<std::string, std::string>
      fields;                  // tshark's decoding, name -> value
  std::vector<uint8_t> bytes;  // the UDP payload
};

// Splits "a,b,c" (or any separator) into its parts; "" gives no parts.
inline std::vector<std::string> SplitList(const std::string& text,
                                          char separator = ',') {
  std::vector<std::string> parts;
  if (text.empty()) return parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

// Every row of `protocol` ("" for all). `data_dir` is tests/data as seen from
// the test's working directory (the runfiles root under Bazel).
inline std::vector<CapturedDatagram> ReadManifest(
    const std::string& protocol, const std::string& data_dir = "tests/data") {
  std::vector<CapturedDatagram> rows;
  std::ifstream manifest(data_dir + "/MANIFEST.tsv");
  std::string line;
  std::getline(manifest, line);  // header
  while (std::getline(manifest, line)) {
    std::vector<std::string> columns = SplitList(line, '\t');
    if (columns.size() < 5) continue;
    if (!protocol.empty() && columns[1] != protocol) continue;
    CapturedDatagram row{columns[0], columns[1], columns[2],
                         columns[3], {},         {}};
    for (const std::string& field : SplitList(columns[4], ';')) {
      size_t eq = field.find('=');
      if (eq != std::string::npos)
        row.fields[field.substr(0, eq)] = field.substr(eq + 1);
    }
    std::ifstream file(data_dir + "/" + row.file, std::ios::binary);
    row.bytes.assign(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace rackboot::testing

#endif  // RACKBOOT_TESTS_DATA_MANIFEST_H_
