#!/usr/bin/env bash
# Debian packages the labs need beside Python: Java 17, Maven, graphviz (diagrams),
# kcat (an independent Kafka client), Chromium (the browser tests drive it headless
# through Playwright). Installs only what is missing, so a second run takes milliseconds;
# never fails silently: without root it says what to install.
set -euo pipefail
need=()
# javac too: lablib compiles a one-class patch of the OpenLineage listener (lablib/jvm/patches.py)
command -v java  >/dev/null && command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn   >/dev/null || need+=(maven)
command -v dot   >/dev/null || need+=(graphviz)
command -v kcat  >/dev/null || need+=(kcat)
# The browser tests (Linux; elsewhere lablib/browser.py finds Chrome or reads LAB_CHROMIUM): any
# Chromium or Chrome will do (GitHub's Ubuntu runners have Chrome), and a colour emoji font so
# their screenshots show the checks' ✅/❌ instead of empty boxes.
if [ "$(uname -s)" = Linux ]; then
  [ -n "${LAB_CHROMIUM:-}" ] || command -v chromium >/dev/null || command -v google-chrome-stable >/dev/null \
    || command -v google-chrome >/dev/null || need+=(chromium)
  if command -v apt-get >/dev/null && [ ! -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
    need+=(fonts-noto-color-emoji)  # Debian's path; other distributions: optional, not asked for
  fi
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else
  echo "missing system packages: ${need[*]}: install them (e.g. sudo apt-get install ${need[*]}) and run make again" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${need[*]}: install them with your package manager and run make again" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
