#include "engine/daemon/shard_watchdog.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rackboot::daemon {

ShardWatchdog::ShardWatchdog(std::vector<ShardGroup*> groups,
                             absl::Duration late_after)
    : late_after_(late_after) {
  for (ShardGroup* group : groups) {
    for (int i = 0; i < group->shards(); ++i) {
      targets_.push_back({group, i});
      names_.push_back(absl::StrCat(group->name(), "-", i));
    }
  }
  slots_ = std::make_shared<std::vector<Slot>>(targets_.size());
}

bool ShardWatchdog::Check(absl::Time now) {
  if (round_ > 0) {
    if (!AllAnswered()) {
      const std::string late = Late(now);
      uint64_t suppressed = 0;
      if (!late.empty() && late_log_.Allow(now, &suppressed)) {
        LOG(WARNING) << "watchdog: not answering: " << late
                     << " (a reactor thread that does not turn its loop; no "
                        "WATCHDOG=1 to systemd until it does)"
                     << log::SuppressedNote(suppressed);
        late_logged_ = true;
      }
      return false;
    }
    if (late_logged_) {
      LOG(INFO) << "watchdog: every shard answers again, after "
                << absl::FormatDuration(absl::Trunc(now - round_posted_,
                                                    absl::Milliseconds(100)));
      late_logged_ = false;
    }
  }
  ++round_;
  round_posted_ = now;
  const uint64_t round = round_;
  for (size_t i = 0; i < targets_.size(); ++i) {
    // A shard without a reactor takes no probe: it stays late.
    targets_[i].group->Post(targets_[i].index, [slots = slots_, i, round] {
      (*slots)[i].answered.store(round, std::memory_order_release);
    });
  }
  return true;
}

bool ShardWatchdog::AllAnswered() const {
  for (const Slot& slot : *slots_) {
    if (slot.answered.load(std::memory_order_acquire) != round_) return false;
  }
  return true;
}

std::string ShardWatchdog::Late(absl::Time now) const {
  if (round_ == 0 || now - round_posted_ < late_after_) return "";
  constexpr int kNamed = 8;
  std::string out;
  int late = 0;
  const std::string since = absl::FormatDuration(
      absl::Trunc(now - round_posted_, absl::Milliseconds(100)));
  for (size_t i = 0; i < names_.size(); ++i) {
    if ((*slots_)[i].answered.load(std::memory_order_acquire) == round_) {
      continue;
    }
    if (++late <= kNamed) {
      absl::StrAppend(&out, out.empty() ? "" : ", ", names_[i], " for ", since);
    }
  }
  if (late > kNamed) absl::StrAppend(&out, " and ", late - kNamed, " more");
  return out;
}

}  // namespace rackboot::daemon
