module github.com/breakerbox/breakerbox/cmd/breakerctl

go 1.26.0

replace (
	github.com/breakerbox/breakerbox => ../..
	github.com/breakerbox/breakerbox/maintenance => ../../maintenance
	github.com/breakerbox/breakerbox/mesh => ../../mesh
	github.com/breakerbox/breakerbox/policyfile => ../../policyfile
	github.com/breakerbox/breakerbox/sim => ../../sim
)

require (
	github.com/breakerbox/breakerbox v0.0.0
	github.com/breakerbox/breakerbox/maintenance v0.0.0-00010101000000-000000000000
	github.com/breakerbox/breakerbox/mesh v0.0.0-00010101000000-000000000000
	github.com/breakerbox/breakerbox/policyfile v0.0.0-00010101000000-000000000000
	github.com/breakerbox/breakerbox/sim v0.0.0-00010101000000-000000000000
	github.com/spf13/cobra v1.10.2
)

require (
	cel.dev/expr v0.25.3 // indirect
	github.com/cncf/xds/go v0.0.0-20260202195803-dba9d589def2 // indirect
	github.com/envoyproxy/go-control-plane/envoy v1.40.0 // indirect
	github.com/envoyproxy/protoc-gen-validate v1.3.3 // indirect
	github.com/planetscale/vtprotobuf v0.6.1-0.20240319094008-0393e58bdf10 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261123191846-1e707ab9fbc2 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261123191846-1e707ab9fbc2 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

require (
	codeberg.org/go-fonts/liberation v0.5.0 // indirect
	codeberg.org/go-latex/latex v0.2.0 // indirect
	codeberg.org/go-pdf/fpdf v0.11.1 // indirect
	git.sr.ht/~sbinet/gg v0.7.0 // indirect
	github.com/ajstarks/svgo v0.0.0-20211024235047-1546f124cd8b // indirect
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/golang/freetype v0.0.0-20170609003504-e2365dfdc4a0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	golang.org/x/image v0.30.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	gonum.org/v1/plot v0.17.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
