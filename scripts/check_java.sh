#!/usr/bin/env bash
# Spark needs Java 17 or newer. Prints the version found, or how to install one, and fails.
set -u
if ! command -v java >/dev/null 2>&1; then
  echo "Java 17+ is needed for Spark and none was found on PATH." >&2
  echo "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y openjdk-17-jre-headless" >&2
  echo "  macOS:         brew install openjdk@17   (then follow brew's PATH hint)" >&2
  exit 1
fi
version=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
major=${version%%.*}
[ "$major" = "1" ] && major=$(echo "$version" | cut -d. -f2)  # Java 8 reports 1.8
if ! [ "$major" -ge 17 ] 2>/dev/null; then
  echo "Java $version found; Spark 4 needs Java 17 or newer." >&2
  echo "  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless, then select it with" >&2
  echo "  sudo update-alternatives --config java" >&2
  exit 1
fi
