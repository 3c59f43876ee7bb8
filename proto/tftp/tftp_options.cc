#include "proto/tftp/tftp_options.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rackboot {
namespace {

// Enough digits for any uint64_t; longer values are refused before parsing.
constexpr size_t kMaxDigits = 20;

// Parses `value` as plain decimal digits into [min, max]. `name` is the
// canonical option name used in errors.
absl::StatusOr<uint64_t> ParseDecimal(absl::string_view name,
                                      absl::string_view value, uint64_t min,
                                      uint64_t max) {
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has an empty value"));
  }
  const bool digits_only = value.size() <= kMaxDigits &&
                           std::all_of(value.begin(), value.end(), [](char c) {
                             return absl::ascii_isdigit(c);
                           });
  if (!digits_only) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " \"", absl::CHexEscape(value.substr(0, 32)),
        value.size() > 32 ? "..." : "", "\" is not a decimal number"));
  }
  uint64_t n = 0;
  bool overflow = false;
  for (char c : value) {
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - digit) / 10) overflow = true;
    n = n * 10 + digit;  // Wraps only when overflow is already set.
  }
  if (overflow || n < min || n > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " ", value, " out of range ", min, "..", max));
  }
  return n;
}

}  // namespace

absl::Status ParseRequestedOption(const TftpOption& option,
                                  TftpRequestedOptions& out) {
  const absl::string_view name = option.name;
  if (absl::EqualsIgnoreCase(name, "blksize")) {
    absl::StatusOr<uint64_t> n =
        ParseDecimal("blksize", option.value, kTftpMinBlksize, kTftpMaxBlksize);
    if (!n.ok()) return n.status();
    out.blksize = static_cast<uint16_t>(*n);
  } else if (absl::EqualsIgnoreCase(name, "tsize")) {
    absl::StatusOr<uint64_t> n =
        ParseDecimal("tsize", option.value, 0, UINT64_MAX);
    if (!n.ok()) return n.status();
    out.tsize = *n;
  } else if (absl::EqualsIgnoreCase(name, "timeout")) {
    absl::StatusOr<uint64_t> n =
        ParseDecimal("timeout", option.value, kTftpMinTimeoutSeconds,
                     kTftpMaxTimeoutSeconds);
    if (!n.ok()) return n.status();
    out.timeout_seconds = static_cast<uint8_t>(*n);
  } else if (absl::EqualsIgnoreCase(name, "windowsize")) {
    absl::StatusOr<uint64_t> n = ParseDecimal(
        "windowsize", option.value, kTftpMinWindowsize, kTftpMaxWindowsize);
    if (!n.ok()) return n.status();
    out.windowsize = static_cast<uint16_t>(*n);
  } else {
    out.ignored.push_back(option.name);
  }
  return absl::OkStatus();
}

absl::StatusOr<TftpRequestedOptions> ParseRequestedOptions(
    absl::Span<const TftpOption> options) {
  TftpRequestedOptions out;
  for (const TftpOption& option : options) {
    absl::Status status = ParseRequestedOption(option, out);
    if (!status.ok()) return status;
  }
  return out;
}

}  // namespace rackboot
