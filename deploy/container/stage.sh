#!/bin/sh
# Stage the agent image's root file system in DIR: the sysaudit binary, the shared libraries
# it links (and the dynamic loader), the default configuration. The image is then built
# FROM scratch with deploy/container/Containerfile, offline: no base image, no registry.
# Usage: stage.sh SYSAUDIT_BINARY DIR
set -eu
bin=$1
dir=$2
here=$(dirname "$0")
rm -rf "$dir"
mkdir -p "$dir/usr/bin" "$dir/etc/sysaudit" "$dir/tmp"
cp "$bin" "$dir/usr/bin/sysaudit"
# Every library ldd resolves, at the same path (the loader's own line has no "=>").
ldd "$bin" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
done
cp "$here/../sysaudit.yaml" "$dir/etc/sysaudit/sysaudit.yaml"
# Host names the agent resolves (fd.sip.name) go through /etc/hosts first.
printf '127.0.0.1 localhost\n::1 localhost\n' > "$dir/etc/hosts"
printf 'hosts: files dns\n' > "$dir/etc/nsswitch.conf"
echo "staged $(find "$dir" -type f | wc -l) files in $dir"
