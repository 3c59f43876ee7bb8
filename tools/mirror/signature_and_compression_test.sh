#!/usr/bin/env bash
# signature_verifier and compressed_file against the real gpg, gpgv, xz and gzip: a throwaway
# ed25519 key signs inline and detached; tampered text, a wrong key, a missing keyring and
# Debian's archive keyring (which did not sign these) are refused; xz/gzip/plain unpack, a
# bomb over the bound and a corrupt stream are errors.
set -euo pipefail
TOOL=$1
# /tmp, not TEST_TMPDIR: gpg-agent's socket path must stay under 108 bytes.
W=$(mktemp -d /tmp/rackboot-sigtest.XXXXXX)
trap 'gpgconf --homedir "$W/gnupg" --kill all >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export GNUPGHOME=$W/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch -q --passphrase '' --quick-gen-key "Rackboot Test <test@rackboot.invalid>" ed25519 sign never 2>/dev/null
gpg --batch -q --export >"$W/test.gpg"
printf 'Origin: Test\nSuite: lab\nCodename: lab\n' >"$W/Release"
gpg --batch -q --yes --clearsign -o "$W/InRelease" "$W/Release"
gpg --batch -q --yes --detach-sign --armor -o "$W/Release.gpg" "$W/Release"

out=$("$TOOL" inline "$W/InRelease" "$W/test.gpg") || fail "inline signature refused"
[[ $out == *"Codename: lab"* ]] || fail "inline: signed text not returned: $out"
[[ $out != *"BEGIN PGP"* ]] || fail "inline: armour leaked into the text"
"$TOOL" detached "$W/Release" "$W/Release.gpg" "$W/test.gpg" | grep -q '^ok ' || fail "detached refused"

sed 's/Codename: lab/Codename: evil/' "$W/InRelease" >"$W/InRelease.bad"
if err=$("$TOOL" inline "$W/InRelease.bad" "$W/test.gpg" 2>&1); then fail "tampered InRelease accepted"; fi
[[ $err == *"BADSIG"* ]] || fail "tampered: reason not named: $err"
printf 'Origin: Evil\n' >>"$W/Release"
if "$TOOL" detached "$W/Release" "$W/Release.gpg" "$W/test.gpg" 2>/dev/null; then fail "tampered Release accepted"; fi
if err=$("$TOOL" inline "$W/InRelease" /usr/share/keyrings/debian-archive-keyring.gpg 2>&1); then
  fail "a key outside the keyring accepted"
fi
[[ $err == *"NO_PUBKEY"* || $err == *"ERRSIG"* ]] || fail "wrong keyring: reason not named: $err"
if err=$("$TOOL" inline "$W/InRelease" "$W/missing.gpg" 2>&1); then fail "missing keyring accepted"; fi
[[ $err == *"--keyring"* ]] || fail "missing keyring: no hint: $err"
if "$TOOL" inline "$W/Release" "$W/test.gpg" 2>/dev/null; then fail "unsigned file accepted"; fi

seq 1 20000 >"$W/plain"
xz -k "$W/plain"; gzip -k "$W/plain"
cmp <("$TOOL" unpack "$W/plain.xz") "$W/plain" || fail "xz"
cmp <("$TOOL" unpack "$W/plain.gz") "$W/plain" || fail "gzip"
cmp <("$TOOL" unpack "$W/plain") "$W/plain" || fail "plain"
head -c 50000000 /dev/zero | xz -1 >"$W/bomb.xz"
if err=$("$TOOL" unpack "$W/bomb.xz" 1000000 2>&1); then fail "bomb unpacked past the bound"; fi
[[ $err == *"more than 1000000"* ]] || fail "bomb: $err"
head -c 2000 "$W/plain.xz" >"$W/cut.xz"
if "$TOOL" unpack "$W/cut.xz" >/dev/null 2>&1; then fail "truncated xz accepted"; fi
echo PASS
