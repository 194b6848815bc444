#!/bin/sh
# pvepatch lab: the stand-in for what systemd does at boot, for lab units only (see systemctl.pl).
# The pct shim's guest init runs this in the background after its mounts; it starts every enabled
# unit that has a lab unit file and logs to /run/lab-units/boot.log.
mkdir -p /run/lab-units
exec >>/run/lab-units/boot.log 2>&1
for link in /etc/systemd/system/multi-user.target.wants/*.service; do
  [ -e "$link" ] || continue
  unit=${link##*/}
  [ -f "/usr/local/lib/lab-units/$unit" ] || continue
  /usr/local/bin/systemctl start "$unit" || echo "boot: unable to start $unit"
done
