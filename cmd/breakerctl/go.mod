module github.com/breakerbox/breakerbox/cmd/breakerctl

go 1.25

replace github.com/breakerbox/breakerbox => ../..

require (
	github.com/breakerbox/breakerbox v0.0.0-00010101000000-000000000000
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
)
