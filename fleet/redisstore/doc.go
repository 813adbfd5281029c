// Package redisstore is a fleet.Store and fleet.RateStore on Redis.
package redisstore
