# shellcheck shell=bash
# Sourced by the rackbootd shell tests (never run): the example site (examples/site.toml and
# inventory.csv) copied into a work directory with a boot tree that holds every file it names,
# so that a test of startup checks starts from a site that passes them.

# make_example_site WORK SITE_TOML INVENTORY_CSV: WORK/site.toml, WORK/inventory.csv,
# WORK/tftp/<each boot file the example names>, WORK/state and WORK/repo. The site's paths are
# left as the example has them; each test rewrites what it needs.
make_example_site() {
  local work=$1 f
  cp "$2" "$work/site.toml"
  cp "$3" "$work/inventory.csv"
  mkdir -p "$work/tftp/rocky9" "$work/tftp/debian12" "$work/tftp/ubuntu2404" "$work/state" \
    "$work/repo"
  for f in pxelinux.0 bootnetx64.efi grubaa64.efi localboot.0 rocky9/vmlinuz rocky9/initrd.img \
    debian12/linux debian12/initrd.gz ubuntu2404/vmlinuz ubuntu2404/initrd undionly.kpxe \
    snponly.efi; do
    echo "$f" >"$work/tftp/$f"
  done
}
