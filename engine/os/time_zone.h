// PinTimeZone: the daemon reads its time zone once, not on every log line.
//
// With TZ unset, glibc's tzset() (which mktime() calls, and glog calls
// mktime() for every LogMessage, even one below the log level) stats
// /etc/localtime each time to notice a change: a system call per log line on
// every thread that logs, the TFTP and DHCP packet threads included. With TZ
// naming the same file, glibc loads it once. The price: a change of the
// system's time zone shows in the log after a restart. Call at the start of
// main, before other threads exist (setenv is not thread-safe).
#ifndef RACKBOOT_ENGINE_OS_TIME_ZONE_H_
#define RACKBOOT_ENGINE_OS_TIME_ZONE_H_

namespace rackboot::os {

// Sets TZ to ":/etc/localtime" when it is unset (an explicit TZ is kept).
void PinTimeZone();

}  // namespace rackboot::os

#endif  // RACKBOOT_ENGINE_OS_TIME_ZONE_H_
