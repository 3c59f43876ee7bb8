// IdleService: a Service with nothing to serve, for tests that need shards
// whose reactors only turn (the watchdog's and the notifier's). Test-only;
// stateless, so any thread may call it.
#ifndef RACKBOOT_ENGINE_DAEMON_IDLE_SERVICE_H_
#define RACKBOOT_ENGINE_DAEMON_IDLE_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/daemon/service.h"

namespace rackboot::daemon {

class IdleService : public Service {
 public:
  absl::string_view name() const override { return "idle"; }
  absl::Status StartShard(int, io::Reactor&) override {
    return absl::OkStatus();
  }
  void StopShard(int, io::Reactor&) override {}
  std::string Ready() const override { return "idle"; }
  std::vector<Metric> Metrics() const override { return {}; }
};

}  // namespace rackboot::daemon

#endif  // RACKBOOT_ENGINE_DAEMON_IDLE_SERVICE_H_
