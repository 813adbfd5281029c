// Package graph is the code gqlgen generates for the storefront's GraphQL
// gateway from schema.graphqls; the resolvers are in package main.
// `go generate` in this directory regenerates it.
package graph

//go:generate go run github.com/99designs/gqlgen generate
