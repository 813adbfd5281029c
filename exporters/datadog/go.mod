module github.com/breakerbox/breakerbox/exporters/datadog

go 1.26.0

require (
	github.com/DataDog/datadog-go/v5 v5.9.1
	github.com/breakerbox/breakerbox v0.0.0
)

require (
	github.com/Microsoft/go-winio v0.6.4 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/breakerbox/breakerbox => ../../
