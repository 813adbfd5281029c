// Package redisregions holds the multi-region tests of package
// fleet/region on real servers: three redis-server processes, one per
// region, each region's replicas joined to their own through
// fleet/redisstore, and a region.Relay reaching every region through a
// fleet/faultproxy that adds 50 to 150ms round trips between regions. It
// is a module of its own so that the root module stays standard-library
// only; it has no API.
package redisregions
