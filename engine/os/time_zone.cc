#include "engine/os/time_zone.h"

#include <stdlib.h>
#include <time.h>

namespace rackboot::os {

void PinTimeZone() {
  if (getenv("TZ") == nullptr) setenv("TZ", ":/etc/localtime", 0);
  tzset();
}

}  // namespace rackboot::os
