#include "proto/tftp/tftp_packet.h"

#include <cstring>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rackboot {
namespace {

uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

void StoreU16(uint16_t value, uint8_t* p) {
  p[0] = static_cast<uint8_t>(value >> 8);
  p[1] = static_cast<uint8_t>(value);
}

// Writes `s` and its terminating NUL; returns the position after the NUL.
uint8_t* StoreCString(absl::string_view s, uint8_t* p) {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  p[s.size()] = 0;
  return p + s.size() + 1;
}

// Peer-supplied text for an error message: escaped and cut short, since the
// message is logged and the text may be 64 KiB of binary.
std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 64;
  return absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMaxShown)),
                      s.size() > kMaxShown ? "...\"" : "\"");
}

// Reads the NUL-terminated string at `*pos` and moves `*pos` past its NUL.
std::optional<absl::string_view> ReadCString(absl::string_view in,
                                             size_t* pos) {
  size_t nul = in.find('\0', *pos);
  if (nul == absl::string_view::npos) return std::nullopt;
  absl::string_view s = in.substr(*pos, nul - *pos);
  *pos = nul + 1;
  return s;
}

// RFC 2347 section "Packet Formats": NUL-terminated name/value pairs after
// the mode (RRQ, WRQ) or the opcode (OACK). An option may appear only once
// ("Negotiation Protocol"), and names are case-insensitive.
absl::Status ParseOptions(absl::string_view in, size_t pos,
                          absl::string_view what,
                          std::vector<TftpOption>* options) {
  while (pos < in.size()) {
    if (in[pos] == '\0') {
      // Trailing NUL padding is harmless; an empty name before more options
      // is not.
      if (in.find_first_not_of('\0', pos) == absl::string_view::npos) break;
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": empty option name"));
    }
    if (options->size() == kTftpMaxOptions) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": more than ", kTftpMaxOptions, " options"));
    }
    std::optional<absl::string_view> name = ReadCString(in, &pos);
    if (!name) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": option name ",
                                                     Quote(in.substr(pos)),
                                                     " not NUL-terminated"));
    }
    if (pos == in.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": option ", Quote(*name), " has no value"));
    }
    std::optional<absl::string_view> value = ReadCString(in, &pos);
    if (!value) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": value of option ", Quote(*name), " not NUL-terminated"));
    }
    for (const TftpOption& seen : *options) {
      if (absl::EqualsIgnoreCase(seen.name, *name)) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": duplicate option ", Quote(*name)));
      }
    }
    options->push_back({std::string(*name), std::string(*value)});
  }
  return absl::OkStatus();
}

// RFC 1350 section 5: | opcode | filename | 0 | mode | 0 | + RFC 2347 options.
absl::StatusOr<TftpPacket> ParseRequest(absl::string_view in, bool write) {
  const absl::string_view what = write ? "WRQ" : "RRQ";
  size_t pos = 2;
  std::optional<absl::string_view> filename = ReadCString(in, &pos);
  if (!filename) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": file name not NUL-terminated"));
  }
  if (filename->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty file name"));
  }
  if (filename->size() > kTftpMaxFilenameSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": file name of ", filename->size(),
                     " bytes exceeds ", kTftpMaxFilenameSize));
  }
  if (pos == in.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": missing mode"));
  }
  std::optional<absl::string_view> mode = ReadCString(in, &pos);
  if (!mode) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": mode not NUL-terminated"));
  }
  TftpRequest request;
  request.write = write;
  // RFC 1350 section 5: the mode is matched in "any combination of upper and
  // lower case".
  if (absl::EqualsIgnoreCase(*mode, "octet")) {
    request.mode = TftpMode::kOctet;
  } else if (absl::EqualsIgnoreCase(*mode, "netascii")) {
    request.mode = TftpMode::kNetascii;
  } else if (absl::EqualsIgnoreCase(*mode, "mail")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": mode ", Quote(*mode), " not supported"));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": unknown mode ", Quote(*mode)));
  }
  request.filename = std::string(*filename);
  absl::Status status = ParseOptions(in, pos, what, &request.options);
  if (!status.ok()) return status;
  return request;
}

absl::Status CheckNoNul(absl::string_view what, absl::string_view s) {
  if (s.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " contains NUL"));
  }
  return absl::OkStatus();
}

// The writers' mirror of ParseOptions: what it would reject is not written.
absl::Status CheckOptions(absl::Span<const TftpOption> options) {
  if (options.size() > kTftpMaxOptions) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", kTftpMaxOptions, " options"));
  }
  for (size_t i = 0; i < options.size(); ++i) {
    const TftpOption& option = options[i];
    if (option.name.empty()) {
      return absl::InvalidArgumentError("empty option name");
    }
    absl::Status status = CheckNoNul("option name", option.name);
    if (status.ok()) status = CheckNoNul("option value", option.value);
    if (!status.ok()) return status;
    for (size_t j = 0; j < i; ++j) {
      if (absl::EqualsIgnoreCase(options[j].name, option.name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("duplicate option ", Quote(option.name)));
      }
    }
  }
  return absl::OkStatus();
}

size_t OptionsSize(absl::Span<const TftpOption> options) {
  size_t size = 0;
  for (const TftpOption& option : options) {
    size += option.name.size() + 1 + option.value.size() + 1;
  }
  return size;
}

uint8_t* StoreOptions(absl::Span<const TftpOption> options, uint8_t* p) {
  for (const TftpOption& option : options) {
    p = StoreCString(option.name, p);
    p = StoreCString(option.value, p);
  }
  return p;
}

absl::Status CheckRoom(absl::string_view what, size_t needed,
                       absl::Span<uint8_t> out) {
  if (out.size() < needed) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, " needs ", needed, " bytes, buffer holds ", out.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view TftpErrorCodeName(uint16_t code) {
  switch (static_cast<TftpErrorCode>(code)) {
    case TftpErrorCode::kNotDefined:
      return "Not defined";
    case TftpErrorCode::kFileNotFound:
      return "File not found";
    case TftpErrorCode::kAccessViolation:
      return "Access violation";
    case TftpErrorCode::kDiskFull:
      return "Disk full or allocation exceeded";
    case TftpErrorCode::kIllegalOperation:
      return "Illegal TFTP operation";
    case TftpErrorCode::kUnknownTransferId:
      return "Unknown transfer ID";
    case TftpErrorCode::kFileExists:
      return "File already exists";
    case TftpErrorCode::kNoSuchUser:
      return "No such user";
    case TftpErrorCode::kOptionRefused:
      return "Option negotiation refused";
  }
  return "Unknown error";
}

absl::string_view TftpOpcodeName(uint16_t opcode) {
  switch (static_cast<TftpOpcode>(opcode)) {
    case TftpOpcode::kRrq:
      return "RRQ";
    case TftpOpcode::kWrq:
      return "WRQ";
    case TftpOpcode::kData:
      return "DATA";
    case TftpOpcode::kAck:
      return "ACK";
    case TftpOpcode::kError:
      return "ERROR";
    case TftpOpcode::kOack:
      return "OACK";
  }
  return "unknown";
}

absl::string_view TftpModeName(TftpMode mode) {
  return mode == TftpMode::kNetascii ? "netascii" : "octet";
}

absl::StatusOr<TftpPacket> ParseTftpPacket(absl::Span<const uint8_t> datagram) {
  if (datagram.empty()) return absl::InvalidArgumentError("empty datagram");
  if (datagram.size() < 2) {
    return absl::InvalidArgumentError("1-byte datagram has no opcode");
  }
  const absl::string_view in(reinterpret_cast<const char*>(datagram.data()),
                             datagram.size());
  const uint16_t opcode = LoadU16(datagram.data());
  switch (static_cast<TftpOpcode>(opcode)) {
    case TftpOpcode::kRrq:
    case TftpOpcode::kWrq:
      return ParseRequest(in,
                          opcode == static_cast<uint16_t>(TftpOpcode::kWrq));
    case TftpOpcode::kData: {
      if (datagram.size() < kTftpHeaderSize) {
        return absl::InvalidArgumentError(absl::StrCat(
            "DATA: ", datagram.size(), " bytes, shorter than the header"));
      }
      absl::Span<const uint8_t> payload = datagram.subspan(kTftpHeaderSize);
      if (payload.size() > kTftpMaxBlockSize) {
        return absl::InvalidArgumentError(
            absl::StrCat("DATA: payload of ", payload.size(), " bytes exceeds ",
                         kTftpMaxBlockSize, " (RFC 2348)"));
      }
      return TftpData{LoadU16(datagram.data() + 2), payload};
    }
    case TftpOpcode::kAck:
      if (datagram.size() < kTftpHeaderSize) {
        return absl::InvalidArgumentError(
            absl::StrCat("ACK: ", datagram.size(), " bytes, shorter than 4"));
      }
      // Bytes after the block number are ignored (see the header comment).
      return TftpAck{LoadU16(datagram.data() + 2)};
    case TftpOpcode::kError: {
      if (datagram.size() < kTftpHeaderSize) {
        return absl::InvalidArgumentError(
            absl::StrCat("ERROR: ", datagram.size(), " bytes, shorter than 4"));
      }
      // RFC 1350 wants ErrMsg NUL-terminated; a missing NUL is accepted.
      absl::string_view message = in.substr(kTftpHeaderSize);
      message = message.substr(0, message.find('\0'));
      return TftpError{LoadU16(datagram.data() + 2), std::string(message)};
    }
    case TftpOpcode::kOack: {
      TftpOack oack;
      absl::Status status = ParseOptions(in, 2, "OACK", &oack.options);
      if (!status.ok()) return status;
      return oack;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown opcode ", opcode));
}

size_t WriteDataHeader(uint16_t block,
                       std::span<uint8_t, kTftpHeaderSize> out) {
  StoreU16(static_cast<uint16_t>(TftpOpcode::kData), out.data());
  StoreU16(block, out.data() + 2);
  return kTftpHeaderSize;
}

absl::StatusOr<size_t> WriteData(uint16_t block,
                                 absl::Span<const uint8_t> payload,
                                 absl::Span<uint8_t> out) {
  if (payload.size() > kTftpMaxBlockSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("DATA payload of ", payload.size(), " bytes exceeds ",
                     kTftpMaxBlockSize));
  }
  const size_t size = kTftpHeaderSize + payload.size();
  absl::Status status = CheckRoom("DATA", size, out);
  if (!status.ok()) return status;
  WriteDataHeader(
      block, std::span<uint8_t, kTftpHeaderSize>(out.data(), kTftpHeaderSize));
  if (!payload.empty()) {
    std::memcpy(out.data() + kTftpHeaderSize, payload.data(), payload.size());
  }
  return size;
}

size_t WriteAck(uint16_t block, std::span<uint8_t, kTftpHeaderSize> out) {
  StoreU16(static_cast<uint16_t>(TftpOpcode::kAck), out.data());
  StoreU16(block, out.data() + 2);
  return kTftpHeaderSize;
}

absl::StatusOr<size_t> WriteError(uint16_t code, absl::string_view message,
                                  absl::Span<uint8_t> out) {
  absl::Status status = CheckNoNul("ERROR message", message);
  if (!status.ok()) return status;
  const size_t size = kTftpHeaderSize + message.size() + 1;
  status = CheckRoom("ERROR", size, out);
  if (!status.ok()) return status;
  StoreU16(static_cast<uint16_t>(TftpOpcode::kError), out.data());
  StoreU16(code, out.data() + 2);
  StoreCString(message, out.data() + kTftpHeaderSize);
  return size;
}

absl::StatusOr<size_t> WriteOack(absl::Span<const TftpOption> options,
                                 absl::Span<uint8_t> out) {
  absl::Status status = CheckOptions(options);
  if (!status.ok()) return status;
  const size_t size = 2 + OptionsSize(options);
  status = CheckRoom("OACK", size, out);
  if (!status.ok()) return status;
  StoreU16(static_cast<uint16_t>(TftpOpcode::kOack), out.data());
  StoreOptions(options, out.data() + 2);
  return size;
}

absl::StatusOr<size_t> WriteRequest(const TftpRequest& request,
                                    absl::Span<uint8_t> out) {
  if (request.filename.empty()) {
    return absl::InvalidArgumentError("empty file name");
  }
  if (request.filename.size() > kTftpMaxFilenameSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("file name of ", request.filename.size(),
                     " bytes exceeds ", kTftpMaxFilenameSize));
  }
  absl::Status status = CheckNoNul("file name", request.filename);
  if (status.ok()) status = CheckOptions(request.options);
  if (!status.ok()) return status;
  const absl::string_view mode = TftpModeName(request.mode);
  const size_t size = 2 + request.filename.size() + 1 + mode.size() + 1 +
                      OptionsSize(request.options);
  status = CheckRoom(request.write ? "WRQ" : "RRQ", size, out);
  if (!status.ok()) return status;
  StoreU16(static_cast<uint16_t>(request.write ? TftpOpcode::kWrq
                                               : TftpOpcode::kRrq),
           out.data());
  uint8_t* p = StoreCString(request.filename, out.data() + 2);
  p = StoreCString(mode, p);
  StoreOptions(request.options, p);
  return size;
}

absl::StatusOr<size_t> WriteTftpPacket(const TftpPacket& packet,
                                       absl::Span<uint8_t> out) {
  if (const auto* request = std::get_if<TftpRequest>(&packet)) {
    return WriteRequest(*request, out);
  }
  if (const auto* data = std::get_if<TftpData>(&packet)) {
    return WriteData(data->block, data->payload, out);
  }
  if (const auto* ack = std::get_if<TftpAck>(&packet)) {
    absl::Status status = CheckRoom("ACK", kTftpHeaderSize, out);
    if (!status.ok()) return status;
    return WriteAck(ack->block, std::span<uint8_t, kTftpHeaderSize>(
                                    out.data(), kTftpHeaderSize));
  }
  if (const auto* error = std::get_if<TftpError>(&packet)) {
    return WriteError(error->code, error->message, out);
  }
  return WriteOack(std::get<TftpOack>(packet).options, out);
}

}  // namespace rackboot
