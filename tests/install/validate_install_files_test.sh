#!/usr/bin/env bash
# The rendered install files pass their installers' own checks, and each check
# can fail. render_fixture writes every file of the fixture site
# (engine/install/testdata/fixture: each family, static and DHCP hosts); then
#   preseed.cfg: check_preseed.py (debconf-set-selections -c: exit 0 and
#                nothing on stderr; sh -n of early/late_command; names and
#                types against the questions in Debian 12's installer initrd),
#   ks.cfg:      check_kickstart.py (allow-list of commands, options, sections),
#   user-data:   check_user_data.py (#cloud-config, YAML, autoinstall-schema.json,
#                sh -n of the command lists), meta-data likewise,
#   menus:       check_menus.py (pxelinux, GRUB and iPXE of each host agree on
#                entries, default, timeout, kernel, initrd and arguments, read
#                by each loader's rules; grub-script-check),
#   all:         run_report_commands.py (the report commands really POST valid
#                JSON with the token to a local server, log before done, and
#                exit 0 with the server down).
# Then broken copies of real files prove each validator rejects what it must.
# Usage (Bazel): validate_install_files_test.sh RENDER_FIXTURE SITE_TOML TESTS_DIR
set -euo pipefail

render_fixture=$1
site_toml=$2
dir=$3
py=/usr/bin/python3  # python3-yaml and python3-jsonschema (the PATH python may lack them)
schema=$dir/autoinstall-schema.json
busybox=$(command -v busybox)

for m in yaml jsonschema; do
  $py -c "import $m" || { echo "FAIL: $py lacks $m (apt-get install python3-$m)"; exit 1; }
done
command -v debconf-set-selections >/dev/null || { echo "FAIL: debconf-set-selections missing"; exit 1; }

work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/validate.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The questions (and their types) of the Debian 12 installer's own initrd
# (package debian-installer-12-netboot-amd64): check_preseed.py checks the
# names and types of those it owns (netcfg/, mirror/http/, preseed/, ...).
di_initrd=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/initrd.gz
[[ -f $di_initrd ]] || { echo "FAIL: $di_initrd missing (./rackboot setup)"; exit 1; }
mkdir -p "$work/di"
(cd "$work/di" && zcat "$di_initrd" | cpio -id --quiet 'var/lib/dpkg/info/*.templates')
di_templates=$work/di/var/lib/dpkg/info
n=$(cat "$di_templates"/*.templates | grep -c '^Template: ')
echo "debian-installer initrd: $n questions"
[[ $n -gt 100 ]] || { echo "FAIL: too few d-i questions found in $di_initrd"; exit 1; }
out=$work/out
"$render_fixture" "$site_toml" "$out"

mapfile -t preseeds < <(find "$out" -name preseed.cfg | sort)
mapfile -t kickstarts < <(find "$out" -name ks.cfg | sort)
mapfile -t userdatas < <(find "$out" -name user-data | sort)
mapfile -t metadatas < <(find "$out" -name meta-data | sort)
echo "rendered: ${#preseeds[@]} preseed.cfg, ${#kickstarts[@]} ks.cfg," \
  "${#userdatas[@]} user-data, ${#metadatas[@]} meta-data"
for n in ${#preseeds[@]} ${#kickstarts[@]} ${#userdatas[@]} ${#metadatas[@]}; do
  [[ $n -ge 2 ]] || { echo "FAIL: the fixture should give 2 of each (static, DHCP)"; exit 1; }
done

failures=0
# expect_pass NAME CMD...: the command exits 0 with nothing on stderr.
expect_pass() {
  local name=$1
  shift
  if "$@" 2>"$work/stderr" >/dev/null && [[ ! -s $work/stderr ]]; then
    echo "ok: $name"
  else
    echo "FAIL: $name:"
    sed 's/^/  /' "$work/stderr"
    failures=$((failures + 1))
  fi
}
# expect_fail NAME PATTERN CMD...: the command fails and its stderr matches PATTERN.
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  if "$@" 2>"$work/stderr" >/dev/null; then
    echo "FAIL: $name: accepted a broken file"
    failures=$((failures + 1))
  elif ! grep -Eq -- "$pattern" "$work/stderr"; then
    echo "FAIL: $name: rejected, but not for /$pattern/:"
    sed 's/^/  /' "$work/stderr"
    failures=$((failures + 1))
  else
    echo "ok: $name: rejected ($(head -n1 "$work/stderr"))"
  fi
}

expect_pass "preseed files" $py "$dir/check_preseed.py" --di-templates="$di_templates" "${preseeds[@]}"
expect_pass "kickstart files" $py "$dir/check_kickstart.py" "${kickstarts[@]}"
expect_pass "user-data files" $py "$dir/check_user_data.py" "$schema" user-data "${userdatas[@]}"
expect_pass "meta-data files" $py "$dir/check_user_data.py" "$schema" meta-data "${metadatas[@]}"
mapfile -t hosts < <(find "$out" -mindepth 1 -maxdepth 1 -type d | sort)
expect_pass "menus on par (${#hosts[@]} hosts)" $py "$dir/check_menus.py" "${hosts[@]}"
# menu_timeout = 0: every loader boots the default at once (pxelinux PROMPT 0,
# GRUB timeout=0, iPXE goto), still on par.
mkdir -p "$work/fixture0"
cp "$(dirname "$site_toml")"/* "$work/fixture0/"
sed -i 's/^menu_timeout = .*/menu_timeout = 0/' "$work/fixture0/site.toml"
grep -q '^menu_timeout = 0$' "$work/fixture0/site.toml" || { echo "FAIL: no menu_timeout in the fixture"; exit 1; }
"$render_fixture" "$work/fixture0/site.toml" "$work/out0" >/dev/null
mapfile -t hosts0 < <(find "$work/out0" -mindepth 1 -maxdepth 1 -type d | sort)
expect_pass "menus on par with menu_timeout 0 (${#hosts0[@]} hosts)" $py "$dir/check_menus.py" "${hosts0[@]}"
if grep -L '^PROMPT 0$' "$work"/out0/*/pxelinux.cfg/* | grep -q .; then
  echo "FAIL: menu_timeout 0: a pxelinux menu without PROMPT 0"
  failures=$((failures + 1))
fi
expect_pass "report commands" $py "$dir/run_report_commands.py" "$busybox" \
  "${preseeds[@]}" "${kickstarts[@]}" "${userdatas[@]}"

# --- Negative cases: each a real rendered file with one thing broken. ---
bad=$work/bad
# broken SRC NAME SED_SCRIPT: a copy of SRC at $bad/NAME/<basename> edited by sed.
broken() {
  mkdir -p "$bad/$2"
  sed -e "$3" "$1" >"$bad/$2/$(basename "$1")"
  cmp -s "$1" "$bad/$2/$(basename "$1")" && { echo "FAIL: the edit '$3' changed nothing"; exit 1; }
  echo "$bad/$2/$(basename "$1")"
}
p=${preseeds[0]}
expect_fail "preseed: line without a value type" "parse error" \
  $py "$dir/check_preseed.py" "$(broken "$p" p1 '$a d-i brokenline')"
expect_fail "preseed: unknown type (debconf warns, exit 0)" "Unknown type strng" \
  $py "$dir/check_preseed.py" "$(broken "$p" p2 's#^d-i time/zone string#d-i time/zone strng#')"
expect_fail "preseed: late_command that does not parse" "late_command: does not parse" \
  $py "$dir/check_preseed.py" "$(broken "$p" p3 "s#^\(d-i preseed/late_command string .*\)#\1; echo 'unclosed#")"
expect_fail "preseed: a question d-i does not have" "netcfg/get_hostnme: not a question of the installer" \
  $py "$dir/check_preseed.py" --di-templates="$di_templates" "$(broken "$p" p5 's#^d-i netcfg/get_hostname #d-i netcfg/get_hostnme #')"
expect_fail "preseed: another type than d-i's" "netcfg/choose_interface: the installer's type is select, not string" \
  $py "$dir/check_preseed.py" --di-templates="$di_templates" "$(broken "$p" p6 's#^d-i netcfg/choose_interface select#d-i netcfg/choose_interface string#')"
# debconf-set-selections itself: the stderr signal, without the wrapper.
dss=$(broken "$p" p4 's#^d-i time/zone string#d-i time/zone strng#')
if debconf-set-selections -c "$dss" 2>"$work/stderr" && [[ -s $work/stderr ]]; then
  echo "ok: debconf-set-selections -c exits 0 on a skipped line; stderr says: $(cat "$work/stderr")"
else
  echo "note: debconf-set-selections -c exit $? (stderr: $(cat "$work/stderr"))"
fi

k=${kickstarts[0]}
expect_fail "kickstart: unknown command" "unknown command 'frobnicate'" \
  $py "$dir/check_kickstart.py" "$(broken "$k" k1 's#^text$#text\nfrobnicate --now#')"
expect_fail "kickstart: unknown option" "unknown option --bogus" \
  $py "$dir/check_kickstart.py" "$(broken "$k" k2 's#^autopart \(.*\)#autopart \1 --bogus#')"
expect_fail "kickstart: bad option value" "--type='zfs' is not a valid value" \
  $py "$dir/check_kickstart.py" "$(broken "$k" k3 's#^autopart --type=[a-z]*#autopart --type=zfs#')"
expect_fail "kickstart: unclosed section" "never closed with %end|sections do not nest" \
  $py "$dir/check_kickstart.py" "$(broken "$k" k4 '0,/^%end$/{/^%end$/d}')"
expect_fail "kickstart: unknown section" "unknown section %prepare" \
  $py "$dir/check_kickstart.py" "$(broken "$k" k5 's#^%pre #%prepare #')"
expect_fail "kickstart: no reboot" "no reboot" \
  $py "$dir/check_kickstart.py" "$(broken "$k" k6 '/^reboot$/d')"

u=${userdatas[0]}
expect_fail "user-data: unknown autoinstall key" "Additional properties are not allowed \('frobnicate'" \
  $py "$dir/check_user_data.py" "$schema" user-data "$(broken "$u" u1 's#^  version: 1$#  version: 1\n  frobnicate: true#')"
expect_fail "user-data: wrong type" "version: '1' is not of type 'integer'" \
  $py "$dir/check_user_data.py" "$schema" user-data "$(broken "$u" u2 "s#^  version: 1\$#  version: '1'#")"
expect_fail "user-data: not YAML" "not YAML" \
  $py "$dir/check_user_data.py" "$schema" user-data "$(broken "$u" u3 's#^  version: 1$#  version: [1#')"
expect_fail "user-data: no #cloud-config" "#cloud-config" \
  $py "$dir/check_user_data.py" "$schema" user-data "$(broken "$u" u4 '1d')"
expect_fail "user-data: key outside autoinstall" "Additional properties are not allowed \('locale'" \
  $py "$dir/check_user_data.py" "$schema" user-data "$(broken "$u" u5 '$a locale: "en_US.UTF-8"')"
expect_fail "user-data: layout not documented" "'ext4' is not one of" \
  $py "$dir/check_user_data.py" "$schema" user-data "$(broken "$u" u6 's#^      name: [a-z]*$#      name: ext4#')"
expect_fail "user-data: neither identity nor user-data" "matches none of anyOf .*identity.*user-data" \
  $py "$dir/check_user_data.py" "$schema" user-data "$(broken "$u" u7 '/^  user-data:/,/^  late-commands:/{/^  late-commands:/!d}')"
expect_fail "meta-data: no local-hostname" "local-hostname: missing" \
  $py "$dir/check_user_data.py" "$schema" meta-data "$(broken "${metadatas[0]}" m1 '/^local-hostname/d')"

expect_fail "reports: JSON broken" "body is not JSON" \
  $py "$dir/run_report_commands.py" "$busybox" "$(broken "$p" r1 's#"phase":"installing"#"phase":installing#')"
expect_fail "reports: a report that can fail the install" "with the server down a command exited" \
  $py "$dir/run_report_commands.py" "$busybox" "$(broken "$k" r2 "s#/done' || true#/done'#")"
expect_fail "reports: done before the log" "reports \['phase:installing', 'done', 'log'\]" \
  $py "$dir/run_report_commands.py" "$busybox" "$(broken "$k" r3 '/log?token=/{h;d}; /\/done'"'"'/G')"

# broken_host HOST NAME FILE_GLOB SED_SCRIPT: a copy of a host's menus with one edited.
broken_host() {
  mkdir -p "$bad/$2"
  cp -r "$out/$1" "$bad/$2/"
  local f
  f=$(find "$bad/$2/$1" -path "*/$3" | head -n1)
  sed -i -e "$4" "$f"
  cmp -s "$f" "$(find "$out/$1" -path "*/$3" | head -n1)" && { echo "FAIL: the edit '$4' changed nothing"; exit 1; }
  echo "$bad/$2/$1"
}
expect_fail "menus: GRUB ';' unquoted" "an unquoted ';' ends the linux command" \
  $py "$dir/check_menus.py" "$(broken_host ubuntu-static g1 'grub/grub.cfg-*' "s#'ds=nocloud-net;\([^']*\)'#ds=nocloud-net;\1#")"
expect_fail "menus: kernel args differ" "entry install: grub" \
  $py "$dir/check_menus.py" "$(broken_host deb-static.lab.example g2 'grub/grub.cfg-*' 's#priority=critical#priority=high#')"
expect_fail "menus: default differs" "ipxe default" \
  $py "$dir/check_menus.py" "$(broken_host rocky-static g3 'ipxe/*.ipxe' 's#--default install#--default local#')"
expect_fail "menus: GRUB syntax" "grub-script-check" \
  $py "$dir/check_menus.py" "$(broken_host idle g4 'grub/grub.cfg-*' '0,/^}$/{/^}$/d}')"

if [[ $failures -ne 0 ]]; then
  echo "FAILED: $failures checks"
  exit 1
fi
echo "PASS: every rendered install file validates; every validator rejects its broken file"
