module github.com/breakerbox/breakerbox/examples

go 1.25

require github.com/breakerbox/breakerbox v0.0.0

replace github.com/breakerbox/breakerbox => ../
