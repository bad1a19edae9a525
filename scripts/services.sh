#!/usr/bin/env bash
# Start the local services the tests use, if they are not running. The tests start their own
# Mosquitto (with deploy/mosquitto/onecity.conf) on a port of the project's; this only makes
# sure PostgreSQL is up and mosquitto is installed.
set -euo pipefail
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! command -v mosquitto >/dev/null; then
  echo "installing mosquitto"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
fi
if ! (echo > /dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "starting the machine's Mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
fi
