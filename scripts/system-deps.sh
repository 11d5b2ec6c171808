#!/usr/bin/env bash
# Debian packages the labs need beside Python: Java 17, Maven, graphviz (diagrams),
# kcat (an independent Kafka client). Installs only what is missing; never fails
# silently: without root it says what to install.
set -euo pipefail
need=()
command -v java  >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn   >/dev/null || need+=(maven)
command -v dot   >/dev/null || need+=(graphviz)
command -v kcat  >/dev/null || need+=(kcat)
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
