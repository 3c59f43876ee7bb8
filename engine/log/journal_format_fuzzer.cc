// Fuzzes AppendJournalRecord(): whatever the message, severity and bound, the
// record is one line ("<N>" with N a syslog priority, one newline, at the
// end), holds no control byte, is valid UTF-8 without C1 controls, and fits
// its bound. The first byte picks the severity, the second the bound.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/log/journal_format.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Whether `s` is valid UTF-8 (RFC 3629) with no C1 control; a decoder
// written apart from the formatter's.
bool IsCleanUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 2, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (int k = 1; k < n; ++k) {
      const uint8_t d = static_cast<uint8_t>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    const uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    if (cp <= 0x9f) return false;  // C1
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int severity = static_cast<int8_t>(data[0]) % 6;  // -5..5
  const size_t max = data[1] < 128 ? rackboot::log::kMaxJournalRecord
                                   : static_cast<size_t>(data[1]) * 8;
  const std::string message(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::string record =
      rackboot::log::JournalRecord(severity, message, max);
  const size_t bound = std::max(max, rackboot::log::kMinJournalRecord);
  Check(record.size() >= 4 && record.size() <= bound);
  Check(record[0] == '<' && record[2] == '>');
  Check(record[1] == '2' || record[1] == '3' || record[1] == '4' ||
        record[1] == '6');
  Check(record.find('\n') == record.size() - 1);
  for (size_t i = 0; i + 1 < record.size(); ++i) {
    const uint8_t c = static_cast<uint8_t>(record[i]);
    Check(c >= 0x20 && c != 0x7f);
  }
  Check(IsCleanUtf8(record.substr(0, record.size() - 1)));
  // Printable ASCII that fits (backslash included) comes out as it went in.
  bool plain = message.size() + 4 <= bound;
  for (unsigned char c : message) plain &= c >= 0x20 && c < 0x7f;
  if (plain) Check(record.compare(3, message.size(), message) == 0);
  return 0;
}
