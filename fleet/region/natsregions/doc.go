// Package natsregions holds the multi-region tests of package fleet/region
// on NATS: three embedded nats-servers with JetStream
// (fleet/natsstore/embedded), one per region, each region's replicas
// joined to their own through fleet/natsstore, and a region.Relay reaching
// every region's server through a fleet/faultproxy that adds 50 to 150ms
// round trips between regions. The servers run inside the test process, so
// nothing is ever skipped. It is a module of its own so that the root
// module stays standard-library only; it has no API.
package natsregions
