#include "engine/metrics/transfer_metrics.h"

namespace rackboot::metrics {

TransferFamilies DeclareTransferFamilies(MetricsRegistry& registry,
                                         int shards) {
  TransferFamilies f;
  f.active = registry.Gauge("rackboot_transfers_active",
                            "Transfers in progress (TFTP transfers; HTTP file "
                            "bodies being sent).",
                            {"transport"}, shards);
  f.total = registry.Counter(
      "rackboot_transfers_total",
      "Transfers ended, by result (complete: the whole file or range reached "
      "the client; failed: timed out, aborted or cut short).",
      {"transport", "result"}, shards);
  f.bytes = registry.Counter(
      "rackboot_transfer_bytes_total",
      "Bytes sent by transfers (TFTP: DATA payload, retransmissions included, "
      "counted per window; HTTP: heads and bodies of file responses, counted "
      "when each ends).",
      {"transport"}, shards);
  f.duration = registry.Histogram(
      "rackboot_transfer_duration_seconds",
      "Duration of ended transfers, from the request to the last byte.",
      {"transport"}, TransferDurationBuckets(), shards);
  return f;
}

}  // namespace rackboot::metrics
