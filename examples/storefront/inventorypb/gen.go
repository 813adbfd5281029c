// Package inventorypb holds the protocol of the storefront demo's gRPC
// inventory service: inventory.proto and the code protoc generates from it.
//
// Regenerate it with `go generate` in this directory, with protoc (Debian:
// apt-get install protobuf-compiler) and the plugins on the PATH:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
package inventorypb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative inventory.proto
