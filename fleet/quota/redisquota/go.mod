module github.com/breakerbox/breakerbox/fleet/quota/redisquota

go 1.26.0

replace (
	github.com/breakerbox/breakerbox => ../../..
	github.com/breakerbox/breakerbox/fleet/redisstore => ../../redisstore
)

require (
	github.com/breakerbox/breakerbox v0.0.0-00010101000000-000000000000
	github.com/breakerbox/breakerbox/fleet/redisstore v0.0.0-00010101000000-000000000000
	github.com/redis/go-redis/v9 v9.24.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
