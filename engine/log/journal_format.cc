#include "engine/log/journal_format.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "engine/log/utf8.h"

namespace rackboot::log {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHex(std::string* out, absl::string_view bytes) {
  for (unsigned char c : bytes) {
    const char escaped[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
    out->append(escaped, sizeof(escaped));
  }
}

// Appends `message` escaped (as the header says) to *out while the appended
// text stays within `budget` bytes; returns how many bytes of `message` it
// took. Stops between characters.
size_t AppendEscaped(absl::string_view message, size_t budget,
                     std::string* out) {
  size_t i = 0;
  size_t used = 0;
  while (i < message.size()) {
    const unsigned char c = static_cast<unsigned char>(message[i]);
    if (c >= 0x20 && c < 0x7f) {
      // The common case: a run of printable ASCII, copied at once.
      size_t end = i + 1;
      while (end < message.size() && end - i < budget - used) {
        const unsigned char d = static_cast<unsigned char>(message[end]);
        if (d < 0x20 || d >= 0x7f) break;
        ++end;
      }
      const size_t take = std::min(end - i, budget - used);
      if (take == 0) break;
      out->append(message.data() + i, take);
      used += take;
      i += take;
      continue;
    }
    if (c < 0x80) {  // C0 controls and DEL
      const char* named = c == '\n'   ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                                      : nullptr;
      const size_t width = named != nullptr ? 2 : 4;
      if (budget - used < width) break;
      if (named != nullptr) {
        out->append(named, 2);
      } else {
        AppendHex(out, message.substr(i, 1));
      }
      used += width;
      ++i;
      continue;
    }
    size_t n = Utf8SequenceLength(message.substr(i));
    // C1 controls (U+0080-U+009F: C2 80 .. C2 9F) are escaped like C0's.
    const bool c1 = n == 2 && c == 0xc2 &&
                    static_cast<unsigned char>(message[i + 1]) < 0xa0;
    if (n != 0 && !c1) {
      if (budget - used < n) break;
      out->append(message.data() + i, n);
      used += n;
      i += n;
      continue;
    }
    if (n == 0) n = 1;  // a byte that starts no valid sequence
    if (budget - used < 4 * n) break;
    AppendHex(out, message.substr(i, n));
    used += 4 * n;
    i += n;
  }
  return i;
}

}  // namespace

int SyslogPriority(int glog_severity) {
  if (glog_severity <= 0) return 6;  // LOG_INFO
  if (glog_severity == 1) return 4;  // LOG_WARNING
  if (glog_severity == 2) return 3;  // LOG_ERR
  return 2;                          // LOG_CRIT: FATAL aborts the process
}

void AppendJournalRecord(int glog_severity, absl::string_view message,
                         std::string* out, size_t max_bytes) {
  max_bytes = std::max(max_bytes, kMinJournalRecord);
  const size_t start = out->size();
  const char prefix[3] = {
      '<', static_cast<char>('0' + SyslogPriority(glog_severity)), '>'};
  out->append(prefix, sizeof(prefix));
  // Room for the message: everything but the prefix and the newline.
  const size_t budget = max_bytes - sizeof(prefix) - 1;
  // Escaping can only grow the text, so a message longer than the budget is
  // cut for sure; otherwise try it whole first.
  if (message.size() <= budget) {
    out->reserve(start + sizeof(prefix) + message.size() + 1);
    if (AppendEscaped(message, budget, out) == message.size()) {
      out->push_back('\n');
      return;
    }
    out->resize(start + sizeof(prefix));
  }
  const std::string marker =
      absl::StrCat(" ...[cut: message of ", message.size(), " bytes]");
  AppendEscaped(message, budget - marker.size(), out);
  out->append(marker);
  out->push_back('\n');
}

std::string JournalRecord(int glog_severity, absl::string_view message,
                          size_t max_bytes) {
  std::string out;
  AppendJournalRecord(glog_severity, message, &out, max_bytes);
  return out;
}

}  // namespace rackboot::log
