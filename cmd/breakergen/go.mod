module github.com/breakerbox/breakerbox/cmd/breakergen

go 1.26.0

replace github.com/breakerbox/breakerbox => ../..

require (
	github.com/breakerbox/breakerbox v0.0.0-00010101000000-000000000000
	golang.org/x/tools v0.53.0
)

require (
	golang.org/x/mod v0.43.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
)
