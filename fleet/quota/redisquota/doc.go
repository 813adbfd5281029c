// Package redisquota holds the tests of package fleet/quota over real
// redis-servers (one root store and one store per region, through the
// fault proxy), in a module of its own so that the root module keeps to
// the standard library. It has no API.
package redisquota
