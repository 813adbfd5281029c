module github.com/breakerbox/breakerbox/policyfile

go 1.26.0

replace (
	github.com/breakerbox/breakerbox => ../
	github.com/breakerbox/breakerbox/maintenance => ../maintenance
)

require (
	github.com/breakerbox/breakerbox v0.0.0-00010101000000-000000000000
	github.com/breakerbox/breakerbox/maintenance v0.0.0-00010101000000-000000000000
	github.com/fsnotify/fsnotify v1.10.1
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/text v0.44.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/robfig/cron/v3 v3.0.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
