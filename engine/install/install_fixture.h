// InstallFixture: renders a fixture site (site.toml + its inventory.csv)
// into every file its hosts get, the way rackbootd and `rackboot gen` render
// them (InstallTemplates::Load + RenderHostFiles). For the golden-file test
// (install_golden_test.cc) and render_fixture, which writes the files for the
// validators in tests/install/ and regenerates the golden files.
//
// Hosts whose inventory state is "install" are armed with a fixed token
// (FixtureToken), so the output is the same on every run; other hosts are
// rendered not armed. A plain function: no state, any thread.
#ifndef RACKBOOT_ENGINE_INSTALL_INSTALL_FIXTURE_H_
#define RACKBOOT_ENGINE_INSTALL_INSTALL_FIXTURE_H_

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "engine/install/install_templates.h"

namespace rackboot::install {

// The token of the index-th inventory host (32 lowercase hex digits, fixed).
std::string FixtureToken(size_t index);

// Every file of every host, keyed "<hostname>/<path>" with the path
// RenderHostFiles gives (pxelinux.cfg/01-<mac>, grub/grub.cfg-01-<mac>,
// ipxe/01-<mac>.ipxe, install/<token>/<file>). Errors name the fixture file
// or the host.
absl::StatusOr<std::map<std::string, RenderedHostFile>> RenderFixture(
    const std::string& site_toml_path);

}  // namespace rackboot::install

#endif  // RACKBOOT_ENGINE_INSTALL_INSTALL_FIXTURE_H_
