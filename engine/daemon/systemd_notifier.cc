#include "engine/daemon/systemd_notifier.h"

#include <string.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rackboot::daemon {
namespace {

// "1 host", "2 hosts".
std::string Count(int64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

}  // namespace

std::string DaemonStatusLine(const DaemonCounts& counts) {
  std::vector<std::string> parts;
  if (counts.hosts >= 0) {
    parts.push_back("serving " + Count(counts.hosts, "host", "hosts"));
    parts.push_back(absl::StrCat(counts.installing, " installing"));
    if (counts.stalled > 0) {
      parts.push_back(absl::StrCat(counts.stalled, " stalled"));
    }
    if (counts.failed > 0) {
      parts.push_back(absl::StrCat(counts.failed, " failed"));
    }
  } else {
    parts.push_back("serving without an inventory");
  }
  if (counts.tftp_transfers >= 0) {
    parts.push_back(
        Count(counts.tftp_transfers, "TFTP transfer", "TFTP transfers"));
  }
  if (counts.http_transfers >= 0) {
    parts.push_back(
        Count(counts.http_transfers, "HTTP transfer", "HTTP transfers"));
  }
  std::string line = absl::StrJoin(parts, ", ");
  if (!counts.degraded.empty()) absl::StrAppend(&line, "; ", counts.degraded);
  return line;
}

absl::optional<int> ErrnoNamedIn(absl::string_view text) {
  absl::optional<int> best;
  size_t best_length = 0;
  // Linux's errno values end below 134 (EHWPOISON is 133).
  for (int e = 1; e < 134; ++e) {
    const char* description = strerrordesc_np(e);
    if (description == nullptr) continue;
    const absl::string_view d = description;
    if (d.size() > best_length && absl::StrContains(text, d)) {
      best = e;
      best_length = d.size();
    }
  }
  return best;
}

void SystemdNotifier::ErrorSink::send(google::LogSeverity severity, const char*,
                                      const char*, int,
                                      const google::LogMessageTime&,
                                      const char* message, size_t length) {
  if (severity < google::GLOG_ERROR) return;
  // Whole (StatusAssignment makes its lines one and bounds it): main's
  // "configuration error:\n<error>" needs its second line.
  std::lock_guard<std::mutex> lock(mu_);
  last_.assign(message, std::min<size_t>(length, 1024));
}

std::string SystemdNotifier::ErrorSink::last() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

absl::StatusOr<std::unique_ptr<SystemdNotifier>>
SystemdNotifier::FromEnvironment() {
  absl::StatusOr<os::SdNotify> notify = os::SdNotify::FromEnvironment();
  if (!notify.ok()) return notify.status();
  return std::make_unique<SystemdNotifier>(*std::move(notify));
}

SystemdNotifier::SystemdNotifier(os::SdNotify notify)
    : notify_(std::move(notify)) {
  if (notify_.enabled()) {
    google::AddLogSink(&errors_);
    sink_added_ = true;
    LOG(INFO) << "systemd: notifying " << notify_.socket_name()
              << (notify_.watchdog()
                      ? absl::StrCat(", watchdog ",
                                     absl::FormatDuration(*notify_.watchdog()),
                                     " (probing every shard each ",
                                     absl::FormatDuration(tick_interval()), ")")
                      : std::string(", no watchdog"));
  }
}

SystemdNotifier::~SystemdNotifier() {
  if (sink_added_) google::RemoveLogSink(&errors_);
  // Every failed start logs its error; an exit before Ready without one is
  // no failure (a mode that serves nothing), so nothing is said then.
  const std::string error = errors_.last();
  if (ready_ || !notify_.enabled() || error.empty()) return;
  std::string message =
      os::StatusAssignment(absl::StrCat("cannot start: ", error));
  if (absl::optional<int> e = ErrnoNamedIn(error)) {
    absl::StrAppend(&message, "\nERRNO=", *e);
  }
  Send(message);
}

absl::Duration SystemdNotifier::tick_interval() const {
  if (!notify_.watchdog()) return kTick;
  return std::min(kTick, *notify_.watchdog() / 3);
}

void SystemdNotifier::Ready(std::vector<ShardGroup*> groups,
                            absl::string_view status) {
  ready_ = true;
  if (sink_added_) {
    google::RemoveLogSink(&errors_);
    sink_added_ = false;
  }
  if (!notify_.enabled()) return;
  if (notify_.watchdog()) {
    groups.erase(std::remove(groups.begin(), groups.end(), nullptr),
                 groups.end());
    watchdog_ =
        std::make_unique<ShardWatchdog>(std::move(groups), tick_interval());
  }
  last_status_ = std::string(status);
  Send("READY=1\n" + os::StatusAssignment(status));
}

void SystemdNotifier::Tick(absl::Time now, absl::string_view status) {
  if (!notify_.enabled() || !ready_) return;
  std::string message;
  std::string full(status);
  if (watchdog_) {
    if (watchdog_->Check(now)) {
      message = "WATCHDOG=1";
    } else if (const std::string late = watchdog_->Late(now); !late.empty()) {
      absl::StrAppend(&full, "; not answering: ", late);
    }
  }
  absl::StrAppend(&full, reload_note_);
  if (full != last_status_) {
    last_status_ = full;
    if (!message.empty()) message += '\n';
    message += os::StatusAssignment(full);
  }
  if (!message.empty()) Send(message);
}

void SystemdNotifier::Reloading() {
  Send(absl::StrCat("RELOADING=1\n", os::MonotonicUsecAssignment(), "\n",
                    os::StatusAssignment("reloading")));
  last_status_ = "reloading";
}

void SystemdNotifier::Reloaded(const absl::Status& result,
                               absl::string_view status) {
  reload_note_ = result.ok() ? "; reload applied"
                             : absl::StrCat("; reload refused: ",
                                            result.message().substr(0, 160));
  last_status_ = absl::StrCat(status, reload_note_);
  Send("READY=1\n" + os::StatusAssignment(last_status_));
}

void SystemdNotifier::Stopping(absl::string_view why) {
  last_status_ = absl::StrCat("stopping (", why, ")");
  Send("STOPPING=1\n" + os::StatusAssignment(last_status_));
}

void SystemdNotifier::Send(const std::string& message) {
  if (!notify_.enabled()) return;
  if (absl::Status sent = notify_.Send(message); !sent.ok()) {
    uint64_t suppressed = 0;
    if (send_errors_.Allow(absl::Now(), &suppressed)) {
      LOG(WARNING) << "systemd: cannot notify: " << sent.message()
                   << log::SuppressedNote(suppressed);
    }
  }
}

}  // namespace rackboot::daemon
