module github.com/breakerbox/breakerbox/maintenance

go 1.26.0

replace github.com/breakerbox/breakerbox => ../

require (
	github.com/breakerbox/breakerbox v0.0.0-00010101000000-000000000000
	github.com/robfig/cron/v3 v3.0.1
)
