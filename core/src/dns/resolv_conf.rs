//! `/etc/resolv.conf` parsing (stub: filled in by the DNS work).
