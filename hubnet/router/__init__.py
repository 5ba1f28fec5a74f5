"""The router agent (`hubnet router join`): follows the controllers' desired-route feed and programs the kernel table
of the network namespace it runs in (docs/ha.md). Imports nothing here: `hubnet --help` stays fast."""
