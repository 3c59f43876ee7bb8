// The families TFTP and HTTP share (rackboot_transfers_active, _total,
// rackboot_transfer_bytes_total, rackboot_transfer_duration_seconds, each with
// a `transport` label), declared in one place so both services declare them
// alike. Setup only (the registry's rules).
#ifndef RACKBOOT_ENGINE_METRICS_TRANSFER_METRICS_H_
#define RACKBOOT_ENGINE_METRICS_TRANSFER_METRICS_H_

#include "engine/metrics/metrics_registry.h"

namespace rackboot::metrics {

struct TransferFamilies {
  GaugeFamily* active = nullptr;        // {transport}
  CounterFamily* total = nullptr;       // {transport, result}
  CounterFamily* bytes = nullptr;       // {transport}
  HistogramFamily* duration = nullptr;  // {transport}
};

TransferFamilies DeclareTransferFamilies(MetricsRegistry& registry, int shards);

}  // namespace rackboot::metrics

#endif  // RACKBOOT_ENGINE_METRICS_TRANSFER_METRICS_H_
