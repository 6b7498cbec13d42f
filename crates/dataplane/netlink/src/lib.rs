//! Links, addresses, routes, bridge ports over rtnetlink, inside any network namespace.
