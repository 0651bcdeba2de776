#!/usr/bin/env bash
# Builds the Debian package of vpcflow: target/debian/vpcflow_VERSION-1_ARCH.deb.
# Needs cargo-deb (`cargo install cargo-deb --locked`) and dpkg-dev; prints the
# package's path on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! cargo deb --version >/dev/null 2>&1; then
    echo "error: cargo-deb not found: cargo install cargo-deb --locked" >&2
    exit 1
fi
if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
    echo "error: dpkg-shlibdeps not found: apt-get install dpkg-dev" >&2
    exit 1
fi

cargo build --release --locked -p vpcflow >&2
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/vpcflow"
assets="$target/release/deb-assets"
rm -rf "$assets"
mkdir -p "$assets"
# The man page and completions come from the binary's own command-line
# definitions; the unit is the repository's with the packaged binary's path.
"$bin" man | gzip -9n > "$assets/vpcflow.1.gz"
"$bin" completions bash > "$assets/vpcflow.bash"
"$bin" completions zsh > "$assets/_vpcflow"
"$bin" completions fish > "$assets/vpcflow.fish"
sed 's#/usr/local/bin/vpcflow#/usr/bin/vpcflow#g' packaging/systemd/vpcflow.service \
    > "$assets/vpcflow.service"

cargo deb --locked --no-build -p vpcflow >&2
ls -t "$target"/debian/vpcflow_*.deb | head -n 1
