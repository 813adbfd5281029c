module github.com/breakerbox/breakerbox/benchmarks

go 1.26.0

require (
	github.com/breakerbox/breakerbox v0.0.0
	github.com/cep21/circuit/v4 v4.0.0
	github.com/failsafe-go/failsafe-go v0.9.8
	github.com/mercari/go-circuitbreaker v0.0.2
	github.com/sony/gobreaker/v2 v2.4.0
	go.uber.org/ratelimit v0.3.1
	golang.org/x/sync v0.25.0
	golang.org/x/time v0.16.0
)

require (
	github.com/benbjohnson/clock v1.3.5 // indirect
	github.com/bits-and-blooms/bitset v1.30.0 // indirect
	github.com/cenkalti/backoff/v3 v3.2.2 // indirect
)

replace github.com/breakerbox/breakerbox => ../
