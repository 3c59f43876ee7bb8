#include "engine/api/event_hub.h"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace rackboot::api {
namespace {

constexpr absl::string_view kReset = "event: reset\ndata: {}\n\n";
constexpr absl::string_view kKeepalive = ": keepalive\n\n";

std::string TimeText(absl::Time time) {
  if (time == absl::InfinitePast() || time == absl::InfiniteFuture()) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

}  // namespace

// One subscriber: a queue of SSE text the hub appends to and the shard
// drains. Its own mutex; the hub's list holds it while it is live.
class EventHub::Subscriber : public http::HttpStream {
 public:
  Subscriber(std::shared_ptr<Core> core, std::string backlog)
      : core_(std::move(core)), queue_(std::move(backlog)) {}

  void Start(std::function<void()> wake) override;
  bool Read(std::string* out, size_t max) override;
  void Stop() override;

  // Hub side (any thread). Appends `text`, or ends the subscriber when it
  // would overflow. Returns false when the subscriber is to be unlisted.
  bool Append(absl::string_view text);
  // Ends it (the hub is going away or dropped it); wakes it to notice.
  void End();

 private:
  // REQUIRES mu_. Wakes the shard unless a wake is pending since the last
  // Read.
  void WakeLocked();

  const std::shared_ptr<Core> core_;
  std::mutex mu_;
  std::string queue_;  // unread bytes start at head_
  size_t head_ = 0;
  std::function<void()> wake_;  // set by Start, cleared by Stop
  bool wake_pending_ = false;
  bool ended_ = false;    // dropped or the hub is gone: Read returns false
  bool stopped_ = false;  // Stop ran: never wake again
};

struct EventHub::Core {
  explicit Core(size_t max) : max_subscribers(max) {}
  struct Entry {
    const Subscriber* key;  // identity only
    std::weak_ptr<Subscriber> subscriber;
  };
  void Unlist(const Subscriber* subscriber) {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].key != subscriber) continue;
      list[i] = std::move(list.back());
      list.pop_back();
      return;
    }
  }
  // REQUIRES mu. Appends `text` to every subscriber, unlisting those that
  // ended or are gone. A subscriber's last reference may be dropped here:
  // its destructor does not touch the hub.
  void AppendAll(absl::string_view text) {
    for (size_t i = 0; i < list.size();) {
      std::shared_ptr<Subscriber> subscriber = list[i].subscriber.lock();
      if (subscriber != nullptr && subscriber->Append(text)) {
        ++i;
        continue;
      }
      if (subscriber != nullptr) ++dropped;
      list[i] = std::move(list.back());
      list.pop_back();
    }
  }
  const size_t max_subscribers;
  mutable std::mutex mu;
  // Live subscribers. Weak: the shard that drives a stream owns it; one it
  // let go without Stop is unlisted at the next publish.
  std::vector<Entry> list;
  uint64_t dropped = 0;
  absl::Time last_keepalive = absl::InfinitePast();
};

void EventHub::Subscriber::WakeLocked() {
  if (wake_pending_ || stopped_ || !wake_) return;
  wake_pending_ = true;
  wake_();
}

void EventHub::Subscriber::Start(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  wake_ = std::move(wake);
  if (head_ < queue_.size() || ended_) WakeLocked();
}

bool EventHub::Subscriber::Read(std::string* out, size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  wake_pending_ = false;
  const size_t n = std::min(max, queue_.size() - head_);
  out->append(queue_, head_, n);
  head_ += n;
  if (head_ == queue_.size()) {
    queue_.clear();
    head_ = 0;
    // Give back what a burst grew (a subscriber holds its bound at most
    // while it is behind).
    if (queue_.capacity() > 16 * 1024) queue_.shrink_to_fit();
  } else if (head_ > queue_.size() / 2) {
    queue_.erase(0, head_);
    head_ = 0;
  }
  return !(ended_ && queue_.empty());
}

void EventHub::Subscriber::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    wake_ = nullptr;
    queue_.clear();
    queue_.shrink_to_fit();
    head_ = 0;
  }
  core_->Unlist(this);
}

bool EventHub::Subscriber::Append(absl::string_view text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_ || stopped_) return false;
  if (queue_.size() - head_ + text.size() > kMaxQueueBytes) {
    // Fallen behind: what it has queued still goes out, then the stream
    // ends; the client reconnects with Last-Event-ID.
    ended_ = true;
    WakeLocked();
    return false;
  }
  queue_.append(text.data(), text.size());
  WakeLocked();
  return true;
}

void EventHub::Subscriber::End() {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_) return;
  ended_ = true;
  WakeLocked();
}

EventHub::EventHub(size_t max_subscribers)
    : core_(std::make_shared<Core>(max_subscribers)) {}

EventHub::~EventHub() {
  std::lock_guard<std::mutex> lock(core_->mu);
  for (Core::Entry& entry : core_->list) {
    if (auto subscriber = entry.subscriber.lock()) subscriber->End();
  }
  core_->list.clear();
}

absl::StatusOr<std::shared_ptr<http::HttpStream>> EventHub::Subscribe(
    std::string backlog) {
  if (backlog.size() > kMaxQueueBytes) backlog = std::string(kReset);
  auto subscriber = std::make_shared<Subscriber>(core_, std::move(backlog));
  std::lock_guard<std::mutex> lock(core_->mu);
  if (core_->list.size() >= core_->max_subscribers) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many event subscribers (", core_->max_subscribers,
                     "); try again later"));
  }
  core_->list.push_back({subscriber.get(), subscriber});
  return std::shared_ptr<http::HttpStream>(std::move(subscriber));
}

std::string EventHub::FormatEvent(uint64_t id, absl::string_view event_name,
                                  absl::string_view json_data) {
  std::string text = absl::StrCat("id: ", id, "\nevent: ", event_name, "\n");
  for (absl::string_view line : absl::StrSplit(json_data, '\n')) {
    absl::StrAppend(&text, "data: ", line, "\n");
  }
  text += "\n";
  return text;
}

void EventHub::Publish(uint64_t id, absl::string_view event_name,
                       absl::string_view json_data) {
  const std::string text = FormatEvent(id, event_name, json_data);
  std::lock_guard<std::mutex> lock(core_->mu);
  core_->AppendAll(text);
}

void EventHub::Tick(absl::Time now) {
  std::lock_guard<std::mutex> lock(core_->mu);
  if (core_->last_keepalive == absl::InfinitePast()) {
    core_->last_keepalive = now;
    return;
  }
  if (now - core_->last_keepalive < kKeepaliveInterval) return;
  core_->last_keepalive = now;
  core_->AppendAll(kKeepalive);
}

std::function<void(const site::HostEvent&)> EventHub::FleetPublisher() {
  return [this](const site::HostEvent& event) {
    Publish(event.id, "host", HostEventJson(event));
  };
}

size_t EventHub::subscribers() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->list.size();
}

uint64_t EventHub::dropped() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->dropped;
}

std::string HostEventJson(const site::HostEvent& event) {
  nlohmann::ordered_json json = {
      {"id", event.id},           {"time", nullptr},
      {"host", event.host},       {"kind", event.kind},
      {"phase", event.phase},     {"detail", event.detail},
      {"address", event.address},
  };
  if (std::string time = TimeText(event.time); !time.empty())
    json["time"] = time;
  // Keys in DESIGN13's order, as the API writes its other JSON. Replace,
  // never throw: the texts are escaped ASCII already, but a
  // malformed byte must not take the publisher down.
  return json.dump(-1, ' ', false,
                   nlohmann::ordered_json::error_handler_t::replace);
}

std::string EventBacklog(const site::FleetStatus& fleet,
                         absl::string_view last_event_id) {
  if (last_event_id.empty()) return "";
  uint64_t after = 0;
  if (!absl::SimpleAtoi(last_event_id, &after)) return std::string(kReset);
  const uint64_t last = fleet.last_id();
  if (after > last) return std::string(kReset);  // a daemon restart
  if (after == last) return "";
  const uint64_t oldest = fleet.oldest_id();
  if (after + 1 < oldest) return std::string(kReset);  // fell off the ring
  std::string text;
  for (const site::HostEvent& event :
       fleet.EventsAfter(after, site::FleetStatus::kRingEvents)) {
    text += EventHub::FormatEvent(event.id, "host", HostEventJson(event));
    if (text.size() > EventHub::kMaxQueueBytes) return std::string(kReset);
  }
  return text;
}

}  // namespace rackboot::api
