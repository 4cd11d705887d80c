#!/usr/bin/env bash
# Makes the images docker/Dockerfile builds FROM, debian:12 and debian:12-slim, on a machine that
# reaches no image registry: `debootstrap --variant=minbase bookworm` from the mirror this host's
# apt uses, then `docker import`. Skips an image that already exists (pulled or made here), so it
# is cheap to run before every build. Run as root, with a Docker engine up
# (scripts/docker-engine.sh).
#
# Both images get what the official ones carry for apt and dpkg (cache cleaning, compressed
# indexes, no translations, no fsync per file) and this host's apt settings that decide whether apt works at all here (the
# mirror, proxies, the date checks a frozen mirror needs), read from its apt configuration, never
# written into the repository. The slim one also has the official slim variant's dpkg exclusions
# (docs, man pages, locales), without which the costgate image more than doubles.
# debian:12 is the build stage's base: it trusts this host's extra CA certificates
# (/usr/local/share/ca-certificates), since HTTPS from here may go through a proxy with its own
# authority (npm fetches the tokenizer data in the build). debian:12-slim, the runtime base, does
# not: the image that ships must not trust a build machine's proxy.
set -euo pipefail

suite=bookworm
full=debian:12
slim=debian:12-slim

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if have_image "$full" && have_image "$slim"; then
  echo "debian-base-images: $full and $slim exist"
  exit 0
fi
for tool in debootstrap docker; do
  command -v "$tool" >/dev/null || { echo "debian-base-images: $tool is not installed" >&2; exit 1; }
done

# The host's Debian sources for this suite and its updates, as apt resolved them (any format,
# any file): "SITE RELEASE COMPONENT" lines.
host_sources() {
  # shellcheck disable=SC2016 # apt's own $(FIELD) placeholders, not the shell's
  apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT) $(TARGET_OF)' |
    awk -v suite="$suite" '$4 == "deb" && ($2 == suite || index($2, suite "-") == 1) { print $1, $2, $3 }' |
    sort -u
}
# The host's apt settings for proxies and the Release files' date checks.
host_apt_settings() {
  apt-config dump | grep -E '^Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date)' || true
}

mirror=$(host_sources | awk -v suite="$suite" '$2 == suite { print $1; exit }')
if [[ -z "$mirror" ]]; then
  echo "debian-base-images: this host's apt has no source for $suite" >&2
  exit 1
fi
# debootstrap downloads with wget, which reads the proxy from the environment, not from apt.
proxy=$(apt-config shell proxy Acquire::http::Proxy | sed -n "s/^proxy='\(.*\)'$/\1/p")
if [[ -n "$proxy" && "$proxy" != DIRECT && -z "${http_proxy:-}" ]]; then
  export http_proxy=$proxy
fi

work=$(mktemp -d /var/tmp/debian-base-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

echo "debian-base-images: debootstrap $suite (minbase)"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# apt as the official images configure it (debuerreotype's files, same names).
apt_conf=$rootfs/etc/apt/apt.conf.d
cat >"$apt_conf/docker-clean" <<'EOF'
# Downloaded packages and apt's binary caches would only grow image layers.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$apt_conf/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$apt_conf/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$apt_conf/docker-autoremove-suggests"
host_apt_settings >"$apt_conf/90build-host"
# dpkg without an fsync per file: an image build that dies is started over anyway.
echo 'force-unsafe-io' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
host_sources | while read -r site release component; do
  echo "deb $site $release $component"
done >"$rootfs/etc/apt/sources.list"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb

import_image() {
  local directory=$1 tag=$2
  echo "debian-base-images: importing $tag"
  tar --numeric-owner -C "$directory" -c . | docker import --change 'CMD ["bash"]' - "$tag" >/dev/null
}

# --- debian:12-slim: the official slim variant's dpkg exclusions, and the files they name removed.
slim_root=$work/slim
cp -a "$rootfs" "$slim_root"
cat >"$slim_root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# The "slim" variant: files containers do not need stay out, as in the official image.
path-exclude /usr/share/doc/*
# copyright files stay, for legal reasons
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
find "$slim_root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$slim_root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$slim_root"/usr/share/{man,groff,info,lintian,linda}/*
find "$slim_root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
have_image "$slim" || import_image "$slim_root" "$slim"

# --- debian:12: the host's extra CA certificates, trusted through ca-certificates.
if ! have_image "$full"; then
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
    cp -r /usr/local/share/ca-certificates/. "$rootfs/usr/local/share/ca-certificates/"
  fi
  chroot "$rootfs" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends ca-certificates && update-ca-certificates' \
    >"$work/ca.log" 2>&1 || { tail -n 30 "$work/ca.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs/etc/resolv.conf"
  import_image "$rootfs" "$full"
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^debian:12(-slim)? '
