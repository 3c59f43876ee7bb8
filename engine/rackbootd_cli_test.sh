#!/usr/bin/env bash
# rackbootd's command line: --help lists the daemon's own flags, bad input fails clearly and
# starts nothing.
set -euo pipefail
rackbootd=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

help=$("$rackbootd" --help)
grep -q '^Usage: rackbootd' <<<"$help" || fail "--help has no usage line"
for flag in config tftp_root tftp_listen tftp_max_blksize tftp_max_windowsize io threads \
            dhcp_mode interface address state_dir inventory allow_other_dhcp tftp_timeout_ms \
            tftp_max_retries tftp_gso user dhcp_commit_window_us; do
  grep -q -- "--$flag " <<<"$help" || fail "--help does not list --$flag"
done
grep -q -- '--logbuflevel' <<<"$help" && fail "--help lists glog's flags"

# Each bad start exits non-zero with a message naming what to fix.
expect_error() {
  local pattern=$1
  shift
  local out
  if out=$(timeout 10 "$rackbootd" "$@" 2>&1); then fail "accepted: $*"; fi
  grep -q -- "$pattern" <<<"$out" || fail "error for '$*' does not say '$pattern': $out"
}
expect_error "nothing to serve"
expect_error "no_such_flag" --no_such_flag
expect_error "unexpected argument 'stray'" --tftp_root=/tmp stray
expect_error "--tftp_root: .*/nonexistent/dir" --tftp_root=/nonexistent/dir --tftp_listen=127.0.0.1:0
expect_error "--tftp_max_blksize=7 is outside 8..65464" --tftp_root=/tmp --tftp_max_blksize=7
expect_error "--tftp_max_windowsize=0 is outside" --tftp_root=/tmp --tftp_max_windowsize=0
expect_error "--tftp_listen" --tftp_root=/tmp --tftp_listen=not-an-address
expect_error "--io=fast: use 'auto', 'uring' or 'epoll'" --tftp_root=/tmp --io=fast
expect_error "--dhcp_mode=bogus: use 'authoritative', 'proxy' or 'off'" --dhcp_mode=bogus
expect_error "cannot start DHCP: /nonexistent/inv.csv: cannot open" --dhcp_mode=authoritative --inventory=/nonexistent/inv.csv
expect_error "user \"no-such-user-rb\" does not exist" --tftp_root=/tmp --tftp_listen=127.0.0.1:0 --user=no-such-user-rb
expect_error "--dhcp_commit_window_us=-1: must be between 0 and 1000000" --dhcp_mode=authoritative --dhcp_commit_window_us=-1
expect_error "no such file\|cannot read\|/nonexistent/site.toml" --config=/nonexistent/site.toml
echo PASS
