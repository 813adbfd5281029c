module github.com/breakerbox/breakerbox/httpmw/chimw

go 1.25

replace github.com/breakerbox/breakerbox => ../..

require (
	github.com/breakerbox/breakerbox v0.0.0-00010101000000-000000000000
	github.com/go-chi/chi/v5 v5.5.0
)
