"""What makes a device an iTrash station, shared by the ledger, monitoring, jobs, planning and
reporting without any of them importing another: the device type stations register under."""

from __future__ import annotations

# The core device registry's type of every iTrash station (devices.type).
STATION_TYPE = "waste_station"
