// EventHub: fans bring-up events out to Server-Sent Events subscribers
// (GET /api/v1/events). Each subscriber is an http::HttpStream the API's
// events route returns; the HTTP shard that owns the connection drives it.
//
//   EventHub hub;                                      // rackbootd owns it
//   fleet->SetPublisher(hub.FleetPublisher());         // every new event
//   // events route (an HTTP shard):
//   absl::StatusOr<std::shared_ptr<http::HttpStream>> stream =
//       hub.Subscribe(EventBacklog(*fleet, request.last_event_id));
//   if (!stream.ok()) -> 503 busy
//   // main loop, once a second: hub.Tick(now)        (keepalives)
//
// Wire format, per event: "id: N\nevent: host\ndata: {json}\n\n"; every 15 s
// of the hub's Tick a comment line ": keepalive\n\n" to every subscriber
// (idle proxies and dead peers notice); a resume older than the ring gets
// "event: reset\ndata: {}\n\n" (the page refetches the hosts).
//
// Bounds: a subscriber's queue holds at most kMaxQueueBytes; a publish that
// would overflow it drops the subscriber instead (its stream ends after what
// it has queued, the shard closes the connection, the client's EventSource
// reconnects with Last-Event-ID and catches up from the ring). At most
// max_subscribers at once; past it Subscribe fails (kResourceExhausted, the
// API answers 503). A subscriber is woken at most once per Read: when its
// queue goes from empty to non-empty (or gains bytes after a partial Read),
// so hundreds of events a second cost one wake per batch the shard sends.
//
// Threads: Publish, Tick, Subscribe and the counters from any thread (short
// locks: the hub's list, then one subscriber's queue at a time; no I/O; wake
// posts to the shard's reactor). The streams' Start/Read/Stop on their
// shard's thread. The hub may be destroyed before the streams it made (they
// then end); it must outlive nothing.
#ifndef RACKBOOT_ENGINE_API_EVENT_HUB_H_
#define RACKBOOT_ENGINE_API_EVENT_HUB_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/http/http_stream.h"
#include "engine/site/fleet_status.h"

namespace rackboot::api {

class EventHub {
 public:
  static constexpr size_t kMaxQueueBytes = 256 * 1024;
  static constexpr size_t kDefaultMaxSubscribers = 1024;
  static constexpr absl::Duration kKeepaliveInterval = absl::Seconds(15);

  explicit EventHub(size_t max_subscribers = kDefaultMaxSubscribers);
  ~EventHub();  // ends every stream
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // A new subscriber whose queue starts with `backlog` (SSE text, e.g.
  // EventBacklog's; cut to nothing but a reset when over kMaxQueueBytes).
  // kResourceExhausted past max_subscribers.
  absl::StatusOr<std::shared_ptr<http::HttpStream>> Subscribe(
      std::string backlog);
  // Formats one event (FormatEvent) and queues it for every subscriber.
  void Publish(uint64_t id, absl::string_view event_name,
               absl::string_view json_data);
  // A callback for FleetStatus::SetPublisher: Publish(id, "host",
  // HostEventJson(event)). The hub must outlive the FleetStatus's use of it
  // (clear it with SetPublisher({}) before the hub goes).
  std::function<void(const site::HostEvent&)> FleetPublisher();
  // Once a second from the main loop: a keepalive comment to every
  // subscriber each kKeepaliveInterval.
  void Tick(absl::Time now);

  size_t subscribers() const;
  // Subscribers dropped for falling behind, since start.
  uint64_t dropped() const;

  // "id: 7\nevent: host\ndata: {...}\n\n" (json_data must be one line, as
  // HostEventJson's is; newlines in it are sent as further data: lines).
  static std::string FormatEvent(uint64_t id, absl::string_view event_name,
                                 absl::string_view json_data);

 private:
  class Subscriber;
  struct Core;
  std::shared_ptr<Core> core_;
};

// {"id":7,"time":"2026-11-30T13:05:00Z","host":"node001","kind":"file",
//  "phase":"booting","detail":"tftp vmlinuz 5242880 bytes",
//  "address":"198.18.0.10"}: one line, keys in this order, ASCII (the
// details are escaped); "time" null when unknown.
std::string HostEventJson(const site::HostEvent& event);

// What a subscriber resuming after `last_event_id` (the request's
// Last-Event-ID, "" for a new one) is sent first: "" for a new subscriber;
// the ring's events after it, as SSE text; or "event: reset" when it is
// older than the ring, is not a number, or is ahead of the last id, or the
// events would exceed the queue bound.
std::string EventBacklog(const site::FleetStatus& fleet,
                         absl::string_view last_event_id);

}  // namespace rackboot::api

#endif  // RACKBOOT_ENGINE_API_EVENT_HUB_H_
