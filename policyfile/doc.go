// Package policyfile reads breakerbox policy documents (core.Document) from
// YAML and JSON files, validates them against a published JSON Schema and
// core's own checks, reporting every problem with its file, line, column,
// field path and value, and watches them for changes (hot reload).
//
// It is a module of its own (github.com/breakerbox/breakerbox/policyfile),
// so that the root module stays standard-library only.
//
// # Documents
//
// A policy document has the same shape in YAML and JSON, the JSON form of
// core.Document:
//
//	# yaml-language-server: $schema=../../policyfile/schema.json
//	policies:
//	  - name: payments
//	    extends: preset:stripe
//	    match: ["payments.*"]
//	    breaker:
//	      openDuration: 10s
//	tenants:
//	  overrides:
//	    - tenant: acme
//	      policies:
//	        - name: payments
//	          rateLimit: {limit: 50}
//
// Parse reads one document, Load a file or a directory of them (a file per
// service, say), and Watch reloads them on change. All three refuse a
// document with a *core.DocumentError listing every problem:
//
//	policies.yaml:7:21: policies[0].breaker.openDuration: "10x" is not a duration such as "30s" or "1m30s" (no sign; units ns, us, ms, s, m, h)
//
// # Schema
//
// Schema returns the JSON Schema (draft 2020-12) of a document; the file
// schema.json in this directory is the same schema. It is generated from
// core's Go types, with the descriptions taken from their doc comments:
// after changing core's policy types run
//
//	go generate ./...
//
// in policyfile/ (a test fails while schema.json is out of date). Editors
// that use yaml-language-server (the YAML extension of VS Code, Neovim's
// yamlls, ...) complete and check a policy file that names the schema in a
// first-line comment, by a path relative to the file or a URL:
//
//	# yaml-language-server: $schema=../../policyfile/schema.json
//
// The example documents in examples/policies do so; a JSON document may set
// "$schema" instead.
package policyfile
