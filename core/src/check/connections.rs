//! The connections of a check: opening them across the host probes within the parallelism
//! bound ([`CheckConfig::max_parallel`]), and driving each through its probe in connection
//! order.

use super::*;

impl SmtpCheck {
    /// Opens connections while there is room, for the hosts in the order their policies were
    /// decided. Returns whether it opened any.
    pub(super) fn start_connections(&mut self) -> bool {
        let dns_believed =
            matches!(self.destination, Destination::Literal { .. }) || self.resolvers.usable();
        if !dns_believed || self.early.is_some() {
            return false;
        }
        let active: usize = self.hosts.iter().map(HostProbe::open_connections).sum();
        let mut room = self.config.max_parallel.saturating_sub(active);
        let mut opened = false;
        while room > 0 {
            let Some(&h) = self.ready.front() else {
                break;
            };
            let conn = ConnId(self.next_conn);
            if self.hosts[h].connect(self.now, conn).is_none() {
                self.ready.pop_front();
                continue;
            }
            self.next_conn += 1;
            self.routes.insert(conn, h);
            self.drain_host(h);
            room -= 1;
            opened = true;
        }
        opened
    }

    /// Lets every connection make its decisions and queues its actions, in connection order
    /// (RFC 7672 sec. 3.2 trust decisions happen here). Returns whether any action came out.
    pub(super) fn poll_connections(&mut self) -> bool {
        let mut any = false;
        let routes: Vec<(ConnId, usize)> = self.routes.iter().map(|(c, h)| (*c, *h)).collect();
        for (conn, h) in routes {
            while let Some(action) = self.hosts[h].poll_action(self.now, conn) {
                self.actions.push_back(action);
                any = true;
            }
            self.drain_host(h);
        }
        any
    }
}
