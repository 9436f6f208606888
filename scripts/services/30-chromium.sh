# Sourced by scripts/test.sh: Debian's chromium for the Playwright dashboard tests (no browser download).
# Fast path: nothing to do when /usr/bin/chromium exists. Installs take the shared apt lock.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium (once)"
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO flock /tmp/nexus-apt.lock apt-get update -qq >/dev/null \
    && $SUDO env DEBIAN_FRONTEND=noninteractive flock /tmp/nexus-apt.lock apt-get install -y -qq chromium >/dev/null \
    || echo "chromium could not be installed; the browser tests will be skipped"
fi
if [ -x /usr/bin/chromium ]; then
  export NEXUS_CHROMIUM=/usr/bin/chromium
fi
